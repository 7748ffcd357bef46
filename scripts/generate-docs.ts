// Writes the generated reference pages (docs/errors.md, the README's reserved environment table and its
// permissions table). Tests fail when they drift from the code.
import { readFile, writeFile } from 'node:fs/promises';
import { renderPermissionsTable, replacePermissionsTable } from '../src/api/permissions-doc.ts';
import { declaredRoutes } from '../src/api/routes/index.ts';
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

const withTable = replacePermissionsTable(await readFile(readme, 'utf8'), renderPermissionsTable(declaredRoutes()));
await writeFile(readme, withTable);
console.log("wrote README.md's permissions table");
