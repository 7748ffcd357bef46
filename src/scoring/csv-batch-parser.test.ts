import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ByteWriter } from './byte-writer.ts';
import { planColumns } from './columns.ts';
import { CsvBatchParser } from './csv-batch-parser.ts';
import { JsonlBatchParser } from './jsonl-batch-parser.ts';
import { createRowBatch } from './row-batch.ts';

interface Parsed {
  features: number[][];
  kept: unknown[][];
  bad: [number, string, string][];
}

/** Parses `text` fed in chunks of `chunk` bytes into batches of 2 rows (so batches also end mid-chunk). */
function parse(
  text: string,
  options: { chunk?: number; width?: number; featureNames?: string[]; keep?: string[]; jsonl?: boolean } = {},
): Parsed {
  const width = options.width ?? 2;
  const keep = options.keep ?? [];
  const bad: Parsed['bad'] = [];
  const build = (header: readonly string[] | null, columnCount: number) =>
    planColumns({ header, columnCount, width, featureNames: options.featureNames, keep });
  const onBad = (line: number, reason: string, record: string) => {
    bad.push([line, reason, record]);
  };
  const parser = options.jsonl ? new JsonlBatchParser(build, onBad) : new CsvBatchParser(build, onBad);
  const batch = createRowBatch(2, width, keep.length, 'FP64');
  const out: Parsed = { features: [], kept: [], bad };
  const drain = () => {
    for (let r = 0; r < batch.rows; r++) {
      out.features.push(Array.from(batch.features.subarray(r * width, (r + 1) * width)));
      out.kept.push(batch.kept.slice(r * keep.length, (r + 1) * keep.length));
    }
    batch.rows = 0;
  };
  const bytes = Buffer.from(text);
  const step = options.chunk ?? bytes.length;
  for (let at = 0; at < bytes.length; at += step) {
    parser.push(bytes.subarray(at, at + step));
    while (parser.fill(batch)) drain();
  }
  parser.end();
  while (parser.fill(batch)) drain();
  drain();
  return out;
}

const TRICKY = [
  'id,"a",b,note',
  '1,1.5,-2,plain',
  '"2",+3,.25,"with, comma"',
  '',
  '3,"4.5",1e3,"say ""hi"""',
  '4,7,8,"two',
  'lines"',
  '5, 6 ,0.000001234567,',
].join('\r\n');

describe('CsvBatchParser', () => {
  test('quoted fields, escaped quotes, embedded newlines, CRLF, blank lines and no final newline', () => {
    const whole = parse(TRICKY, { featureNames: ['a', 'b'], keep: ['note', 'id'] });
    assert.deepEqual(whole.bad, []);
    assert.deepEqual(whole.features, [
      [1.5, -2],
      [3, 0.25],
      [4.5, 1000],
      [7, 8],
      [6, 0.000001234567],
    ]);
    assert.deepEqual(whole.kept, [
      ['plain', '1'],
      ['with, comma', '2'],
      ['say "hi"', '3'],
      ['two\r\nlines', '4'],
      ['', '5'],
    ]);
  });

  test('every chunk boundary gives the same rows', () => {
    const whole = parse(TRICKY, { featureNames: ['a', 'b'], keep: ['note', 'id'] });
    for (let chunk = 1; chunk < TRICKY.length; chunk++) {
      assert.deepEqual(
        parse(TRICKY, { chunk, featureNames: ['a', 'b'], keep: ['note', 'id'] }),
        whole,
        `chunk ${chunk}`,
      );
    }
  });

  test('bad rows are reported with the line they start on, and the rest is parsed', () => {
    const text = 'a,b\n1,2\n"x\ny",3\n4\n,5\n0x10,1\nNaN,1\n6,7\n';
    for (const chunk of [1, 3, 1000]) {
      const { features, bad } = parse(text, { chunk, featureNames: ['a', 'b'] });
      assert.deepEqual(features, [
        [1, 2],
        [6, 7],
      ]);
      assert.deepEqual(
        bad.map(([line, reason]) => [line, reason]),
        [
          [3, "a: 'x\ny' is not a number"],
          [5, 'has 1 fields; the header has 2'],
          [6, 'a is empty'],
          [7, "a: '0x10' is not a number"],
          [8, "a: 'NaN' is not a number"],
        ],
      );
      assert.equal(bad[1]?.[2], '4');
    }
  });

  test('a first line of numbers is data, matched by position', () => {
    assert.deepEqual(parse('1,2\n3,4\n').features, [
      [1, 2],
      [3, 4],
    ]);
  });

  test('plain decimals are parsed exactly as Number() would', () => {
    const values = [
      '0.1',
      '-123456.789012',
      '999999999999999',
      '0.000000000000001',
      '1.',
      '-0.5',
      '12345678901234567890',
    ];
    const { features } = parse(`a,b\n${values.map((v) => `${v},0`).join('\n')}\n`, { featureNames: ['a', 'b'] });
    assert.deepEqual(
      features.map((f) => f[0]),
      values.map(Number),
    );
  });

  test('columns match the feature names ignoring case, and --keep must name a column', () => {
    assert.deepEqual(parse('B,A\n1,2\n', { featureNames: ['a', 'b'] }).features, [[2, 1]]);
    assert.throws(() => parse('a,b\n1,2\n', { keep: ['nope'] }), /--keep: the input has no column 'nope'/);
    assert.throws(() => parse('a,c,d\n1,2,3\n', { featureNames: ['a', 'b'] }), /the input has no column b/);
  });
});

describe('JsonlBatchParser', () => {
  test('objects by name, numeric strings, bad lines with their line numbers', () => {
    const text =
      '{"b":2,"a":1,"id":"x"}\n\n{"a":"3","b":4,"id":7}\nnot json\n{"a":null,"b":1}\n[1,2]\n{"a":5,"b":6,"id":null}';
    for (const chunk of [1, 5, 1000]) {
      const out = parse(text, { chunk, jsonl: true, featureNames: ['a', 'b'], keep: ['id'] });
      assert.deepEqual(out.features, [
        [1, 2],
        [3, 4],
        [5, 6],
      ]);
      assert.deepEqual(out.kept, [['x'], [7], [null]]);
      assert.deepEqual(
        out.bad.map(([line, reason]) => [line, reason]),
        [
          [4, 'not valid JSON'],
          [5, 'a is missing'],
          [6, 'an array where the first row was an object'],
        ],
      );
    }
  });
});

describe('ByteWriter', () => {
  test('fixed6 writes six decimals, rounding like toFixed on exact values', () => {
    const w = new ByteWriter(4);
    for (const v of [0, 1, 0.0001234, 0.9999996, 12.5, -3.25, -0.0000001, 123456789.123]) {
      w.fixed6(v);
      w.byte(32);
    }
    assert.equal(
      w.take().toString(),
      '0.000000 1.000000 0.000123 1.000000 12.500000 -3.250000 0.000000 123456789.123000 ',
    );
  });

  test('float32 writes the shortest text that reads back as the same float32', () => {
    const w = new ByteWriter();
    for (const v of [Math.fround(0.1), Math.fround(1 / 3), 2, Math.fround(1e-7)]) {
      w.float32(v);
      w.byte(32);
    }
    const parts = w.take().toString().trim().split(' ');
    assert.deepEqual(parts, ['0.1', '0.33333334', '2', '1e-7']);
  });
});
