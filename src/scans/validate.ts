/**
 * The checks of a use case that need the stores, run at apply (and again when a scan starts, since the data and
 * the models may have changed): the dataset can be read and has the label, the protected, the restricted and the
 * models' feature columns; each protected attribute has at least two groups; the favourable outcome is a value of
 * the label; every model exists and fits the task. Each refusal names the field.
 */
import { rm } from 'node:fs/promises';
import { ModelportError } from '../core/index.ts';
import { bucketExpression, quoteIdent, readHeader, withDuck } from './dataset.ts';
import { isFavorable } from './gather.ts';
import { type DatasetSource, fetchDataFile, fetchDataset } from './materialize.ts';
import { DEFAULT_PACE, describeModel, type ModelSources } from './models.ts';
import { modelTargets, type ScanConfig, type UseCaseSpec } from './spec.ts';

export interface CheckDeps {
  project: string;
  datasets: DatasetSource;
  models: ModelSources;
  workDir: string;
  config: ScanConfig;
}

const refuse = (field: string, message: string): never => {
  throw new ModelportError('invalid_request', `${field}: ${message}`, { field });
};

const list = (names: readonly string[]) =>
  names.length > 12 ? `${names.slice(0, 12).join(', ')} and ${names.length - 12} more` : names.join(', ');

export async function checkUseCase(spec: UseCaseSpec, deps: CheckDeps): Promise<void> {
  try {
    const local = await fetchDataset(deps.datasets, deps.project, spec, deps.workDir);
    const header = await readHeader(local.file);
    if (!header.includes(spec.label)) {
      refuse('label', `the dataset has no column '${spec.label}' (its columns: ${list(header)})`);
    }
    spec.protected.forEach((p, i) => {
      if (!header.includes(p.column)) {
        refuse(`protected[${i}].column`, `the dataset has no column '${p.column}' (its columns: ${list(header)})`);
      }
    });
    spec.restricted.forEach((r, i) => {
      if (!header.includes(r))
        refuse(`restricted[${i}]`, `the dataset has no column '${r}' (its columns: ${list(header)})`);
    });
    await withDuck(
      local.file,
      { tempDir: deps.workDir, threads: deps.config.threads, memoryBytes: deps.config.memoryBytes },
      async (duck) => {
        for (const [i, p] of spec.protected.entries()) {
          const expression = p.buckets ? bucketExpression(p.column, p.buckets) : quoteIdent(p.column);
          const groups = (await duck.counts(expression, 2000)).filter((g) => g.value !== null);
          if (groups.length < 2) {
            const only = groups[0] ? `only the group '${groups[0].value}'` : 'no value';
            refuse(
              `protected[${i}]`,
              `'${p.column}' has ${only} in the dataset${p.buckets ? ` with the buckets [${p.buckets.join(', ')}]` : ''}; fairness compares two groups or more${p.buckets ? ' (choose cut points inside its range)' : ''}`,
            );
          }
        }
        if (spec.task !== 'regression' && spec.favorable !== undefined) {
          const values = await duck.counts(quoteIdent(spec.label), 1000);
          if (!values.some((v) => v.value !== null && isFavorable(v.value, spec.favorable))) {
            refuse(
              'favorable',
              `'${spec.favorable}' is not a value of the label '${spec.label}' (its values: ${list(values.map((v) => String(v.value)))})`,
            );
          }
        }
      },
    );
    for (const [i, target] of modelTargets(spec).entries()) {
      const field = target.kind === 'version' ? `models[${i}]` : `models[${i}].deployment`;
      await describeModel(deps.models, target, {
        project: deps.project,
        task: spec.task,
        favorable: spec.favorable,
        header,
        label: spec.label,
        pace: DEFAULT_PACE,
        field,
      });
    }
    if (spec.dataset.reference) {
      await fetchDataFile(
        deps.datasets,
        deps.project,
        spec.dataset.reference,
        `${deps.workDir}/reference`,
        'dataset.reference',
      );
    }
  } finally {
    await rm(deps.workDir, { recursive: true, force: true });
  }
}
