// Writes the generated reference pages (docs/errors.md, the README's reserved environment table). A test fails when
// they drift from the code.
import { readFile, writeFile } from 'node:fs/promises';
import { reservedEnvTable } from '../src/core/env-policy.ts';
import { renderErrorsDoc } from '../src/core/errors-doc.ts';

await writeFile(new URL('../docs/errors.md', import.meta.url), renderErrorsDoc());
console.log('wrote docs/errors.md');

const readme = new URL('../README.md', import.meta.url);
const text = await readFile(readme, 'utf8');
const marked = /(<!-- reserved-env:start -->)[\s\S]*?(<!-- reserved-env:end -->)/;
if (!marked.test(text)) throw new Error('README.md: the reserved-env markers are missing');
await writeFile(readme, text.replace(marked, `$1\n${reservedEnvTable()}\n$2`));
console.log('wrote the reserved environment table in README.md');
