/**
 * `modelport score <model[@ref] | deployment[@tag]> <input.csv | input.jsonl | -> [-o output.csv | output.jsonl | -]`:
 * batch scoring.
 *
 * By default the version's model file is downloaded through the API (cached by sha256) and run in this process
 * with ONNX Runtime; with `--url` the batches go to a served model's V2 endpoint instead. A name is a deployment
 * first, as the gateway reads it: in process, the deployment's highest-weight pinned version of the revision it
 * serves (or the target `@tag` names), see src/deployments/batch-target.ts. A path (`./model.onnx`, a js model
 * folder or .tgz) is scored offline, with no server. See README "Batch scoring".
 */
import { createReadStream } from 'node:fs';
import { copyFile, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { ModelportApiError, type ModelportClient } from '../../client/index.ts';
import { ModelportError, parseModelRef } from '../../core/index.ts';
import type { Deployment, ResolvedTarget } from '../../deployments/index.ts';
import { batchRevision, batchTarget } from '../../deployments/index.ts';
import { packFolder } from '../../runtimes/index.ts';
import {
  type BatchScorer,
  type ByteSink,
  type CommittableSink,
  cachedArtifact,
  fileSink,
  InProcessScorer,
  mergeSignature,
  RejectsWriter,
  type RowFormat,
  readSignatureFile,
  type ScoringSignature,
  scoreStream,
  streamSink,
  V2HttpScorer,
} from '../../scoring/index.ts';
import { scoringParts } from '../../signatures/index.ts';
import { defineCommand, UsageError } from '../command.ts';
import { scoreProgress, scoreSummary } from '../progress.ts';

function formatOf(path: string, given: string | undefined, fallback: RowFormat): RowFormat {
  if (given !== undefined) {
    if (given !== 'csv' && given !== 'jsonl') throw new UsageError(`--format takes csv or jsonl, not '${given}'`);
    return given;
  }
  if (path === '-') return fallback;
  return ['.jsonl', '.ndjson', '.json'].includes(extname(path).toLowerCase()) ? 'jsonl' : 'csv';
}

/** Where the model file cache lives: MODELPORT_CACHE_DIR, else ~/.cache/modelport/artifacts, else the temp dir. */
function cacheDir(env: Readonly<Record<string, string | undefined>>): string {
  if (env['MODELPORT_CACHE_DIR']) return env['MODELPORT_CACHE_DIR'];
  const base = env['XDG_CACHE_HOME'] || (env['HOME'] ? join(env['HOME'], '.cache') : undefined);
  return base ? join(base, 'modelport', 'artifacts') : join(tmpdir(), 'modelport-cache', 'artifacts');
}

export const scoreCommand = defineCommand({
  words: ['score'],
  usage:
    'score <model[@version|@alias] | deployment[@tag] | ./model.onnx | ./js-model-folder> <input.csv | input.jsonl | -> [-o output.csv | output.jsonl | -] [--batch-size N] [--keep col1,col2] [--on-error fail|skip] [--rejects rejects.csv] [--signature file.json] [--url V2_BASE_URL] [--parse-threads N]',
  summary: 'Score a CSV or JSON-lines file with a model or a deployment, streaming',
  args: [2, 2],
  options: {
    output: { type: 'string', short: 'o', description: 'Output file (.csv or .jsonl) or - for stdout (default)' },
    'batch-size': { type: 'string', description: 'Rows per inference call (default 1024)' },
    keep: { type: 'string', description: 'Input columns to copy to the output, comma-separated' },
    'on-error': { type: 'string', description: 'fail (default): stop at the first bad row; skip: set it aside' },
    rejects: { type: 'string', description: 'With --on-error skip: write bad rows here (CSV: line,reason,record)' },
    signature: {
      type: 'string',
      description: 'JSON file with featureNames and labels (as examples/fraud/signature.json)',
    },
    format: { type: 'string', description: 'csv or jsonl, for stdin / stdout (default csv)' },
    url: { type: 'string', description: "Score through a served model's V2 endpoint at this base URL" },
    'parse-threads': {
      type: 'string',
      description:
        'CSV: worker threads that parse the input besides the main thread (default: cores - 1, 1 to 3; 0: none)',
    },
  },
  async run({ args, options, io, client, env }) {
    const [modelArg, inputPath] = args as [string, string];
    const v2Url = options['url'];
    // A model file or js model folder on this machine is scored offline, with no server (as `mlflow models predict`).
    const local = v2Url === undefined ? await localModel(modelArg) : undefined;
    const ref = local ? undefined : parseModelRef(modelArg);
    const outputPath = options['output'] ?? '-';
    const batchText = options['batch-size'] ?? '1024';
    if (!/^[1-9]\d{0,6}$/.test(batchText) || Number(batchText) > 1_000_000) {
      throw new UsageError(`--batch-size takes a whole number from 1 to 1000000, not '${batchText}'`);
    }
    const threadsText = options['parse-threads'];
    if (threadsText !== undefined && !/^\d{1,2}$/.test(threadsText)) {
      throw new UsageError(`--parse-threads takes a whole number from 0 to 99, not '${threadsText}'`);
    }
    const onError = options['on-error'] ?? 'fail';
    if (onError !== 'fail' && onError !== 'skip')
      throw new UsageError(`--on-error takes fail or skip, not '${onError}'`);
    const rejectsPath = options['rejects'];
    if (rejectsPath !== undefined && onError !== 'skip') throw new UsageError('--rejects needs --on-error skip');
    const keep = [
      ...new Set(
        (options['keep'] ?? '')
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      ),
    ];
    const inputFormat = formatOf(inputPath, options['format'], 'csv');
    const outputFormat = formatOf(outputPath, outputPath === '-' ? inputFormat : undefined, inputFormat);
    const extra = options['signature'] ? await readSignatureFile(options['signature']) : {};

    let inputSize: number | undefined;
    if (inputPath !== '-') {
      const info = await stat(inputPath).catch(() => undefined);
      if (!info?.isFile()) throw new UsageError(`cannot read the input file '${inputPath}'`);
      inputSize = info.size;
    }

    // The model: a local file, a served endpoint (--url), or the registry's file run here.
    let scorer: BatchScorer;
    let registered: ScoringSignature | undefined;
    /** What scored, named in the summary line: `fraud@3`, `deployment fraud-api: fraud@2 (90%)`, a file. */
    let scoredWith: string;
    let cleanup = async () => {};
    if (local) {
      const opened = await openLocalModel(local);
      scorer = opened.scorer;
      cleanup = opened.cleanup;
      scoredWith = `${modelArg} (a local ${local.kind === 'js' ? 'js model' : 'ONNX file'})`;
    } else if (v2Url !== undefined) {
      if (ref!.alias !== undefined)
        throw new UsageError('with --url, address the served model by name or name@version');
      scorer = await V2HttpScorer.open(v2Url, ref!.name, {
        ...(ref!.version !== undefined ? { version: String(ref!.version) } : {}),
        ...(env['MODELPORT_TOKEN'] ? { token: env['MODELPORT_TOKEN'] } : {}),
      });
      scoredWith = `${modelArg} served at ${v2Url}`;
    } else {
      const api = client();
      const { name, version: pinned, alias } = ref!;
      // The gateway's rule (README "Names"): a deployment of that name first; else the registry's model, where a
      // bare name is its latest version.
      const deployed = pinned === undefined ? await deploymentTarget(api, name, alias) : undefined;
      const model = deployed?.model ?? name;
      let version: number | string | undefined = deployed?.version ?? pinned ?? alias;
      if (version === undefined) {
        const found = await api.getModel(name);
        version = found.latestVersion ?? undefined;
        if (version === undefined)
          throw new ModelportError('not_found', `model '${name}' has no versions to score with`);
        const champion = found.aliases['champion'];
        if (champion !== undefined && champion !== version) {
          io.err(
            `${name}: scoring with ${name}@${version}, the latest version, as the gateway serves '${name}'; its alias champion is ${name}@${champion}: score ${name}@champion to use it\n`,
          );
        }
      }
      const info = await api.getVersion(model, version);
      if (deployed) {
        scoredWith = `deployment ${name}${alias ? `@${alias}` : ''}: ${deployed.model}@${deployed.version}${deployed.tag ? ` (${deployed.tag}, ${deployed.weight}%)` : ` (${deployed.weight}%)`}`;
      } else if (pinned !== undefined) scoredWith = `${model}@${info.version}`;
      else if (alias !== undefined) scoredWith = `${model}@${info.version} (${alias})`;
      else scoredWith = `${model}@${info.version} (latest)`;
      registered = { ...info.signature, ...scoringParts(info.friendlySignature) };
      scorer = await InProcessScorer.open(await cachedArtifact(api, info, cacheDir(env)));
    }

    const output: CommittableSink | ByteSink = outputPath === '-' ? streamSink(process.stdout) : fileSink(outputPath);
    const rejectsSink = rejectsPath ? fileSink(rejectsPath) : undefined;
    const rejects = new RejectsWriter(rejectsSink);
    const interactive = io.interactive && (outputPath !== '-' || Boolean(process.stdout.isTTY));
    const progress = scoreProgress(io.err, interactive, inputSize);
    const started = performance.now();
    try {
      const summary = await scoreStream({
        input: inputPath === '-' ? process.stdin : createReadStream(inputPath, { highWaterMark: 1 << 20 }),
        inputFormat,
        output,
        outputFormat,
        scorer,
        signature: mergeSignature({ ...scorer.signature, ...pickFriendly(registered) }, extra),
        batchSize: Number(batchText),
        ...(threadsText !== undefined ? { parseThreads: Number(threadsText) } : {}),
        keep,
        onBadRow(line, reason, record) {
          if (onError === 'fail') {
            throw new ModelportError(
              'invalid_input',
              `line ${line}: ${reason}; fix the row, or pass --on-error skip --rejects rejects.csv to set bad rows aside`,
              { field: 'input' },
            );
          }
          rejects.add(line, reason, record);
        },
        afterChunk: () => rejects.flush(),
        onProgress: (rows, bytes) => progress.update(rows, bytes),
      });
      progress.finish();
      if ('commit' in output) await output.commit(); // stdout is never ended: the process still owns it
      await rejectsSink?.commit();
      const seconds = (performance.now() - started) / 1000;
      const destination = outputPath === '-' ? 'stdout' : outputPath;
      io.err(
        `${scoreSummary(summary.rows, rejects.count, seconds, destination, scoredWith)}${rejects.count > 0 && rejectsPath ? ` (rejects in ${rejectsPath})` : ''}\n`,
      );
      if (rejects.count > 0 && !rejectsPath) io.err('bad rows were skipped; pass --rejects FILE to keep them\n');
      return 0;
    } catch (error) {
      progress.finish();
      if ('abort' in output) await output.abort();
      await rejectsSink?.abort();
      throw error;
    } finally {
      await scorer.close();
      await cleanup();
    }
  },
});

interface LocalModel {
  kind: 'onnx' | 'js';
  path: string;
  folder: boolean;
}

/**
 * `./model.onnx`, `/models/sum` or `model.tgz`: a model on this machine, or undefined for a registry name. A name
 * with a slash, or a model file's extension, is a path and must exist; a bare word is a path only when no valid
 * model name could be meant and it exists.
 */
async function localModel(arg: string): Promise<LocalModel | undefined> {
  const pathLike = /[\\/]/.test(arg) || /\.(onnx|ort|tgz|tar\.gz)$/i.test(arg);
  if (!pathLike) return undefined;
  const info = await stat(arg).catch(() => undefined);
  if (!info)
    throw new UsageError(
      `no model file or folder at '${arg}' (a registered model is named fraud, fraud@2 or fraud@champion)`,
    );
  if (info.isDirectory()) return { kind: 'js', path: arg, folder: true };
  return { kind: /\.(tgz|tar\.gz)$/i.test(arg) ? 'js' : 'onnx', path: arg, folder: false };
}

/** Loads a local model in this process; a js folder is packed first, as `models register` packs it. */
async function openLocalModel(local: LocalModel): Promise<{ scorer: BatchScorer; cleanup: () => Promise<void> }> {
  if (local.kind === 'onnx') return { scorer: await InProcessScorer.open(local.path), cleanup: async () => {} };
  const temp = await mkdtemp(join(tmpdir(), 'modelport-score-'));
  const cleanup = () => rm(temp, { recursive: true, force: true });
  try {
    const archive = join(temp, 'model.tgz');
    if (local.folder) await packFolder(local.path, archive);
    else await copyFile(local.path, archive);
    return { scorer: await InProcessScorer.open(archive, undefined, 'js'), cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/**
 * The pinned target a deployment named `name` (or `name@tag`) scores with in process, or undefined when there is
 * no such deployment, or when it has no target with that tag and the registry has a model alias of that name
 * (`fraud@champion` stays the model's alias beside a deployment `fraud`).
 */
async function deploymentTarget(
  api: ModelportClient,
  name: string,
  tag: string | undefined,
): Promise<ResolvedTarget | undefined> {
  let deployment: Deployment;
  try {
    deployment = await api.getDeployment(name);
  } catch (error) {
    if (error instanceof ModelportApiError && error.code === 'not_found') return undefined;
    throw error;
  }
  const revision = batchRevision(deployment, await api.deploymentRevisions(name));
  if (!revision) throw new ModelportError('not_found', `deployment '${name}' has no revision to score with`);
  try {
    return batchTarget(name, revision.targets.traffic, tag);
  } catch (error) {
    if (tag === undefined) throw error;
    // No target with the tag: the model's alias, if the registry has one; else the deployment's error.
    const alias = await api.getVersion(name, tag).then(
      () => true,
      (e: unknown) => (e instanceof ModelportApiError && e.code === 'not_found' ? false : Promise.reject(e)),
    );
    if (alias) return undefined;
    throw error;
  }
}

/** The friendly parts a registry version carries (from its friendly signature). */
function pickFriendly(signature: ScoringSignature | undefined): Partial<ScoringSignature> {
  if (!signature) return {};
  return {
    ...(signature.featureNames ? { featureNames: signature.featureNames } : {}),
    ...(signature.labels ? { labels: signature.labels } : {}),
  };
}
