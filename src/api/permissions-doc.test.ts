import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { PERMISSIONS_END, PERMISSIONS_START, renderPermissionsTable } from './permissions-doc.ts';
import { declaredRoutes } from './routes/index.ts';

test("the README's permissions table is generated from the route table (run `npm run docs` after changing routes)", async () => {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  const start = readme.indexOf(PERMISSIONS_START);
  const end = readme.indexOf(PERMISSIONS_END);
  assert.ok(start >= 0 && end > start, 'README.md has the permissions markers');
  assert.equal(readme.slice(start, end + PERMISSIONS_END.length), renderPermissionsTable(declaredRoutes()));
});

test('every declared route is in the table, with its permission', () => {
  const routes = declaredRoutes();
  const table = renderPermissionsTable(routes);
  assert.ok(routes.length > 40);
  for (const r of routes) assert.ok(table.includes(`| \`${r.method} /api/v1${r.path}\` | \`${r.permission}\``), r.path);
});
