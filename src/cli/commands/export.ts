/**
 * `modelport export <deployment> --format kserve|kserve-knative|knative|compose -o <dir>`: the deployment's latest
 * revision as manifests or a compose bundle, written without applying (for GitOps). Files are replaced atomically;
 * a compose bundle's `example/` is the user's and kept when present. Exports never hold secret values.
 */
import type { ExportFormat } from '../../backends/index.ts';
import { defineCommand, UsageError } from '../command.ts';

const FORMATS: readonly ExportFormat[] = ['kserve', 'kserve-knative', 'knative', 'compose'];

export const exportCommand = defineCommand({
  words: ['export'],
  usage: 'export <deployment> --format kserve|kserve-knative|knative|compose -o <dir>',
  summary: 'Write a deployment as Kubernetes manifests or a docker-compose bundle, without applying',
  args: [1, 1],
  options: {
    format: { type: 'string', description: 'kserve (default), kserve-knative, knative or compose' },
    output: { type: 'string', short: 'o', description: 'Folder to write into (created when missing)' },
  },
  async run({ args, options, io, client }) {
    const format = (options['format'] ?? 'kserve') as ExportFormat;
    if (!FORMATS.includes(format)) throw new UsageError(`--format takes ${FORMATS.join(', ')}, not '${format}'`);
    const dir = options['output'];
    if (!dir) throw new UsageError('-o <dir> is required: the folder to write the files into');
    const { files, warnings } = await client().exportDeployment(args[0]!, format);
    for (const warning of warnings) io.err(`warning: ${warning}\n`);
    // Loaded here: the rest of the CLI never loads the renderers' dependencies.
    const { writeBundle } = await import('../../backends/compose/compose-backend.ts');
    const { written, kept } = await writeBundle(dir, files);
    const list = (paths: string[]) => paths.map((p) => `  ${p}\n`).join('');
    io.out(
      `wrote ${written.length} file${written.length === 1 ? '' : 's'} to ${dir}:\n${list(written)}` +
        (kept.length ? `kept ${kept.length} of yours (never overwritten):\n${list(kept)}` : ''),
    );
    return 0;
  },
});
