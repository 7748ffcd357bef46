// Writes the generated reference pages (docs/errors.md). A test fails when they drift from the code.
import { writeFile } from 'node:fs/promises';
import { renderErrorsDoc } from '../src/core/errors-doc.ts';

await writeFile(new URL('../docs/errors.md', import.meta.url), renderErrorsDoc());
console.log('wrote docs/errors.md');
