/**
 * The `compose` backend: writes each deployment's bundle to `<bundleDir>/<project>/<deployment>/` on every change,
 * after validating its compose files against the compose specification. `base/` files are replaced atomically
 * (temp file, rename); `example/` files are created once and never overwritten, so the user's edits survive.
 * Running the bundle (`docker compose up -d` in example/) is the operator's step; apply reports the folder.
 *
 * ```ts
 * const compose = new ComposeBackend({ bundleDir: '/srv/modelport/bundles', sources, validator, artifacts: 's3://models' });
 * await compose.apply(plan); // { ok: true, url: 'file:///srv/modelport/bundles/default/fraud/example' }
 * ```
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { toModelportError } from '../../core/index.ts';
import type { Backend, BackendResult, DeploymentSpec, RevisionPlan, RevisionTargets } from '../../deployments/index.ts';
import { type BindingSources, bindModels, type RevisionInput } from '../render-input.ts';
import type { ManifestValidator } from '../schema-validation.ts';
import { type BundleFile, type ComposeRenderOptions, renderCompose } from './compose-renderer.ts';

export interface ComposeBackendOptions extends ComposeRenderOptions {
  /** Folder holding one bundle per deployment. */
  bundleDir: string;
  sources: BindingSources;
  validator: ManifestValidator;
}

export class ComposeBackend implements Backend {
  readonly #o: ComposeBackendOptions;

  constructor(options: ComposeBackendOptions) {
    this.#o = options;
  }

  /** The validated bundle files of a revision (also what `modelport export --format compose` writes). */
  async render(revision: RevisionInput): Promise<BundleFile[]> {
    const input = await bindModels(revision, this.#o.sources, 'compose', { modelportImage: this.#o.modelportImage });
    const { files, documents } = renderCompose(input, this.#o);
    for (const [path, document] of Object.entries(documents)) this.#o.validator.validateCompose(document, path);
    return files;
  }

  /** Refuses, before a revision is stored, what cannot render: a `spec.baseImage` that a target's type lacks. */
  async checkTargets(project: string, targets: RevisionTargets, spec: DeploymentSpec): Promise<void> {
    await bindModels({ project, name: '', revision: 0, spec, targets }, this.#o.sources, 'compose');
  }

  async apply(plan: RevisionPlan): Promise<BackendResult> {
    const dir = this.#folder(plan.project, plan.name);
    try {
      await writeBundle(dir, await this.render(plan));
    } catch (error) {
      return { ok: false, reason: 'BundleFailed', message: toModelportError(error).message };
    }
    const url = pathToFileURL(join(dir, 'example')).href;
    return {
      ok: true,
      url,
      // Modelport writes the bundle and never sees it run: Ready stays Unknown until someone starts it.
      unobserved: {
        reason: 'BundleWritten',
        message: `the bundle is written to ${fileURLToPath(url)}; Modelport does not run or observe it: start it there with docker compose up -d`,
      },
    };
  }

  /** Removes the generated base/; the user's example/ stays (it holds their credentials and configuration). */
  async remove(project: string, name: string): Promise<void> {
    await rm(join(this.#folder(project, name), 'base'), { recursive: true, force: true });
  }

  #folder(project: string, name: string): string {
    return join(this.#o.bundleDir, project, name);
  }
}

/**
 * Writes bundle files under `dir`: `base` files atomically replaced, `example` files only when absent. With
 * example files, adds `example/.env` with EXAMPLE_DIR (the example folder's absolute path) when it does not exist.
 */
export async function writeBundle(
  dir: string,
  files: readonly BundleFile[],
): Promise<{ written: string[]; kept: string[] }> {
  const written: string[] = [];
  const kept: string[] = [];
  const example = resolve(dir, 'example');
  // The renderer's own .env lines (MODELPORT_ARTIFACTS_DIR) follow EXAMPLE_DIR, known only here.
  const rendered = files.find((f) => f.path === 'example/.env');
  const others = files.filter((f) => f !== rendered);
  const all = files.some((f) => f.owner === 'example')
    ? [
        ...others,
        {
          path: 'example/.env',
          content: `# Yours: the absolute path of this folder, used by ../base.\nEXAMPLE_DIR=${example}\n${rendered?.content ?? ''}`,
          owner: 'example' as const,
        },
      ]
    : others;
  // Every base file is staged before any is renamed into place: a write that fails leaves the previous bundle.
  const staged: { temp: string; target: string }[] = [];
  try {
    for (const file of all) {
      const target = resolve(dir, file.path);
      if (!target.startsWith(`${resolve(dir)}/`)) throw new Error(`bundle file outside the bundle: ${file.path}`);
      await mkdir(dirname(target), { recursive: true });
      if (file.owner === 'example') continue;
      const temp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
      staged.push({ temp, target });
      await writeFile(temp, file.content);
    }
  } catch (error) {
    await Promise.all(staged.map((f) => rm(f.temp, { force: true })));
    throw error;
  }
  for (const { temp, target } of staged) await rename(temp, target);
  for (const file of all) if (file.owner !== 'example') written.push(file.path);
  for (const file of all) {
    if (file.owner !== 'example') continue;
    try {
      await writeFile(resolve(dir, file.path), file.content, { flag: 'wx' });
      written.push(file.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      kept.push(file.path);
    }
  }
  return { written, kept };
}
