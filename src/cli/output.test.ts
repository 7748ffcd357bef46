import assert from 'node:assert/strict';
import { test } from 'node:test';
import { answer, details, listing, table } from './output.ts';

test('tables and details never cut a long value (a URL, an image name)', () => {
  const url = `http://models.internal.example.com:8080/v2/models/${'a'.repeat(60)}/infer`;
  const image = 'docker.io/seldonio/mlserver:1.7.0-sklearn-with-a-very-long-suffix-for-this-test';
  assert.match(table(['name', 'url'], [['fraud', url]]), new RegExp(`fraud  ${url.replace(/[.:/]/g, '\\$&')}\n$`));
  assert.ok(details([['image', image]]).includes(image));
});

test('listing: JSON of the items (or the whole answer), a table by columns, or what to do when empty', () => {
  const items = [
    { name: 'fraud', n: 2 },
    { name: 'churn-model', n: 10 },
  ];
  const cols = [
    ['name', (i: (typeof items)[number]) => i.name],
    ['versions', (i: (typeof items)[number]) => i.n],
  ] as const;
  assert.equal(listing('table', items, cols), 'NAME         VERSIONS\nfraud        2\nchurn-model  10\n');
  assert.equal(
    listing('table', items, cols),
    table(
      ['name', 'versions'],
      [
        ['fraud', 2],
        ['churn-model', 10],
      ],
    ),
  );
  assert.deepEqual(JSON.parse(listing('json', items, cols)), items);
  assert.deepEqual(JSON.parse(listing('json', items, cols, { json: { entries: items } })), { entries: items });
  assert.equal(listing('table', [], cols, { empty: 'nothing yet\n' }), 'nothing yet\n');
  assert.equal(listing('json', [], cols, { empty: 'nothing yet\n' }), '[]\n');
  assert.equal(listing('table', [], cols), 'NAME  VERSIONS\n');
  assert.equal(answer('json', { deleted: 'x' }, 'deleted x\n'), '{\n  "deleted": "x"\n}\n');
  assert.equal(answer('table', { deleted: 'x' }, 'deleted x\n'), 'deleted x\n');
});
