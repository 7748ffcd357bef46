/**
 * First-start seeding: on an empty registry, register the example fraud model (built by `npm run build` into
 * examples/fraud/model.onnx) as `fraud` with the alias `champion`, its friendly signature
 * (examples/fraud/signature.json: feature names and labels) and its held-out metrics (examples/fraud/metrics.json),
 * and deploy it as the deployment `fraud`, so a
 * new user has an endpoint to call at once.
 */
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DeploymentService } from '../deployments/index.ts';
import type { Logger } from '../logging/index.ts';
import type { ModelRegistry } from '../registry/index.ts';
import { parseFriendlySignature } from '../signatures/index.ts';

export const EXAMPLE_MODEL = 'fraud';

export async function seedExample(
  registry: ModelRegistry,
  deployments: DeploymentService,
  examplesDir: string,
  log: Logger,
): Promise<{ model: string; version: number } | undefined> {
  if ((await registry.listModels('default')).length > 0) return undefined;
  const file = join(examplesDir, 'fraud', 'model.onnx');
  try {
    await access(file);
  } catch {
    log.warn('example model not built; run `npm run build` to have it registered on the next first start');
    return undefined;
  }
  // Feature names and class labels, so V1 takes {"instances": [{"amount": 12.5, ...}]} and answers with labels.
  const friendly = parseFriendlySignature(await readFile(join(examplesDir, 'fraud', 'signature.json'), 'utf8'));
  // The held-out metrics build.ts computed (auc, accuracy, precision, recall), so the console and `models show` have them.
  const metrics = JSON.parse(await readFile(join(examplesDir, 'fraud', 'metrics.json'), 'utf8')) as Record<
    string,
    number
  >;
  const version = await registry.registerVersion('default', EXAMPLE_MODEL, {
    file,
    friendlySignature: friendly,
    metrics,
    description: 'Example credit-card fraud classifier (logistic regression on 30 features)',
    aliases: ['champion'],
    tags: { example: 'true', task: 'binary-classification' },
    lineage: { source: 'examples/fraud/train.ts' },
  });
  log.info('registered the example model', { model: EXAMPLE_MODEL, version: version.version });
  await deployments.apply('default', EXAMPLE_MODEL, { traffic: [{ model: `${EXAMPLE_MODEL}@champion`, weight: 100 }] });
  await deployments.wait('default', EXAMPLE_MODEL, 60_000);
  return { model: EXAMPLE_MODEL, version: version.version };
}
