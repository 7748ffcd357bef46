/**
 * Builds the example fraud model and its companion files next to this script, deterministically:
 * model.onnx (gitignored), metrics.json, signature.json, sample-request.json, expected-response.json.
 *
 * Usage: `node examples/fraud/build.ts` (also `npm run build`). Prints one line.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fraudArtifacts } from './artifacts.ts';
import { trainFraudModel } from './train.ts';

const started = performance.now();
const model = trainFraudModel();
writeFileSync(join(import.meta.dirname, 'model.onnx'), model.onnx);
for (const [file, text] of Object.entries(fraudArtifacts(model))) writeFileSync(join(import.meta.dirname, file), text);

const m = model.metrics;
console.log(
  `fraud: wrote examples/fraud/model.onnx (${model.onnx.length} B) and its JSON files; held-out auc ${m.auc.toFixed(4)}, ` +
    `accuracy ${m.accuracy.toFixed(4)}, precision ${m.precision.toFixed(4)}, recall ${m.recall.toFixed(4)} ` +
    `in ${Math.round(performance.now() - started)} ms`,
);
