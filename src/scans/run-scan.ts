/**
 * One scan, start to end: fetch the dataset (pinned to its commit), open every model, one DuckDB pass that scores
 * them all, then the measures of each kind per model, the trust score, the comparison and the report. Progress is
 * reported as it goes; the signal cancels it between chunks and between measures.
 */
import { ModelportError } from '../core/index.ts';
import { type Duck, readHeader, withDuck } from './dataset.ts';
import { type Gathered, gather } from './gather.ts';
import { type DatasetSource, fetchDataset } from './materialize.ts';
import { measureFairness } from './measure-fairness.ts';
import { measureDrift, measureExplainability, measureRobustness, SAMPLE_ROWS, trustScore } from './measure-model.ts';
import { measurePerformance } from './measure-performance.ts';
import { DEFAULT_PACE, type GatewayPace, type ModelSources, openModel, type ScanModelHandle } from './models.ts';
import { compare, flattenResults, summarize } from './outcome.ts';
import { type ModelReport, REPORT_SCHEMA, type ScanReport } from './report-types.ts';
import { modelTargets, type ScanConfig, type ScanKind, type UseCaseSpec } from './spec.ts';
import type { Scan, ScanModel, ScanProgress, ScanResult } from './types.ts';

export interface RunScanInput {
  scan: Scan;
  spec: UseCaseSpec;
  config: ScanConfig;
  datasets: DatasetSource;
  models: ModelSources;
  pace: Partial<GatewayPace>;
  dir: string;
  signal: AbortSignal;
  progress(p: ScanProgress): Promise<void>;
  now(): string;
  /** The use case's previous succeeded scan, for prediction drift. */
  previous?: ScanReport | undefined;
}

export interface ScanOutcome {
  report: ScanReport;
  results: ScanResult[];
  models: ScanModel[];
}

export async function runScan(input: RunScanInput): Promise<ScanOutcome> {
  const started = performance.now();
  const { spec, scan, signal } = input;
  const kinds = scan.kinds;
  await input.progress({ phase: 'reading the dataset', done: 0, total: 0 });
  const local = await fetchDataset(input.datasets, scan.project, spec, `${input.dir}/data`);
  signal.throwIfAborted();
  const header = await readHeader(local.file);
  const pace = { ...DEFAULT_PACE, ...input.pace };
  const handles: ScanModelHandle[] = [];
  try {
    for (const [i, target] of modelTargets(spec).entries()) {
      handles.push(
        await openModel(input.models, target, {
          project: scan.project,
          task: spec.task,
          favorable: spec.favorable,
          header,
          label: spec.label,
          pace,
          field: target.kind === 'version' ? `models[${i}]` : `models[${i}].deployment`,
        }),
      );
    }
    const duckOptions = { tempDir: input.dir, threads: input.config.threads, memoryBytes: input.config.memoryBytes };
    return await withDuck(local.file, duckOptions, async (duck: Duck) => {
      const total = await duck.estimateRows(local.file);
      const rows = spec.maxRows === undefined ? total : Math.min(total, spec.maxRows);
      const measures = handles.length * kinds.length;
      const units = rows + measures;
      let measured = 0;
      await input.progress({
        phase: `scoring ${handles.length} model${handles.length === 1 ? '' : 's'}`,
        done: 0,
        total: units,
      });
      const gathered: Gathered = await gather(duck, total, {
        spec,
        models: handles,
        sampleRows: SAMPLE_ROWS,
        keepColumns: kinds.includes('drift'),
        signal,
        // Progress is best effort: a failed save must not fail (or crash) the scan.
        onRows: (n) => void input.progress({ phase: 'scoring', done: Math.min(n, rows), total: units }).catch(() => {}),
      });
      const dataset = {
        repo: local.repo,
        commit: local.commit,
        path: local.path,
        sha256: local.sha256,
        rows: gathered.rows,
        columns: header,
      };
      const reports: ModelReport[] = [];
      for (const handle of handles) {
        const model: ModelReport = {
          target: handle.target,
          via: handle.via,
          model: handle.model,
          version: handle.version,
          dataCommit: handle.dataCommit,
          trust: { score: null, parts: {}, weights: {} },
          errors: {},
        };
        const { scores, classes } = gathered.scores.get(handle.target)!;
        const step = async (kind: ScanKind, run: () => Promise<void> | void) => {
          if (!kinds.includes(kind)) return;
          signal.throwIfAborted();
          await input.progress({ phase: `${kind} of ${handle.target}`, done: rows + measured, total: units });
          try {
            await run();
          } catch (error) {
            if (signal.aborted) throw error;
            if (!(error instanceof ModelportError) && !(error instanceof RangeError)) throw error;
            model.errors[kind] = error.message;
          }
          measured++;
        };
        await step('performance', () => {
          model.performance = measurePerformance(
            spec.task,
            scores,
            classes,
            gathered.truth,
            spec.threshold,
            gathered.classes,
          );
        });
        await step('fairness', () => {
          if (spec.task !== 'binary-classification') {
            throw new ModelportError(
              'invalid_request',
              `fairness: measured for binary classification; the task is ${spec.task}`,
            );
          }
          model.fairness = measureFairness(
            scores,
            gathered.truth,
            gathered.attributes,
            spec.threshold,
            spec.fairnessThreshold,
          );
        });
        await step('robustness', async () => {
          const robustness = await measureRobustness(handle, gathered, spec, signal);
          model.robustness = robustness;
          if (model.fairness) {
            for (const a of model.fairness.attributes) {
              const burden = robustness.burden[a.column] ?? {};
              for (const g of a.groups) g.burden = burden[g.name] ?? null;
            }
          }
        });
        await step('explainability', async () => {
          model.explainability = await measureExplainability(handle, gathered, spec, signal);
        });
        await step('drift', async () => {
          model.drift = await measureDrift(handle, gathered, scores, {
            project: scan.project,
            spec,
            datasets: input.datasets,
            dir: `${input.dir}/reference`,
            duck: duckOptions,
            previousPredictions: input.previous?.models.find((m) => m.target === handle.target)?.drift
              ?.predictionReference,
          });
        });
        model.trust = trustScore(model, spec);
        reports.push(model);
      }
      await input.progress({ phase: 'reporting', done: units, total: units });
      const summary = summarize(reports);
      const report: ScanReport = {
        schema: REPORT_SCHEMA,
        scan: {
          id: scan.id,
          project: scan.project,
          usecase: scan.usecase,
          number: scan.number,
          revision: scan.revision,
          kinds,
          createdAt: scan.createdAt,
          finishedAt: input.now(),
          elapsedMs: Math.round(performance.now() - started),
        },
        task: spec.task,
        label: spec.label,
        favorable: spec.favorable === undefined ? null : String(spec.favorable),
        threshold: spec.threshold,
        dataset,
        models: reports,
        comparison: compare(reports),
        summary,
      };
      const models: ScanModel[] = reports.map((r) => ({
        target: r.target,
        via: r.via,
        model: r.model,
        version: r.version,
        dataCommit: r.dataCommit,
      }));
      return { report, results: flattenResults(reports, local.commit), models };
    });
  } finally {
    await Promise.allSettled(handles.map((h) => h.close()));
  }
}
