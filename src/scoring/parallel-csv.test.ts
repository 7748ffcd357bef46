/**
 * The CSV parse workers give exactly what the single-threaded parser gives: the same rows in the same order, the
 * same bad rows with the same line numbers, whatever the chunking, including when a cut falls inside a record.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GraphBuilder } from '../onnx-builder/index.ts';
import { InProcessScorer } from './in-process-scorer.ts';
import { RecordCutter } from './parallel-csv.ts';
import { scoreStream } from './score-stream.ts';

/** y = x + 0: the model's output is its input, so the output file shows every parsed value. */
function identityModel(): Uint8Array {
  const g = new GraphBuilder('identity');
  const x = g.input('x', 'FLOAT', ['N', 2]);
  g.output(g.node('Identity', [x]), 'y', 'FLOAT', ['N', 2]);
  return g.toModel({ docString: 'y = x' });
}

let dir: string;
let scorer: InProcessScorer;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelport-parallel-csv-'));
  await writeFile(join(dir, 'identity.onnx'), identityModel());
  scorer = await InProcessScorer.open(join(dir, 'identity.onnx'));
});
after(async () => {
  await scorer.close();
  await rm(dir, { recursive: true, force: true });
});

interface Scored {
  output: string;
  bad: [number, string, string][];
  rows: number;
}

/** Scores `text` fed in chunks of `chunk` bytes, with `threads` parse workers taking over from the first chunk. */
async function score(text: string, threads: number, chunk: number, keep: string[] = ['id']): Promise<Scored> {
  const bytes = Buffer.from(text);
  async function* input() {
    for (let at = 0; at < bytes.length; at += chunk) yield bytes.subarray(at, at + chunk);
  }
  const parts: Buffer[] = [];
  const bad: Scored['bad'] = [];
  const summary = await scoreStream({
    input: input(),
    inputFormat: 'csv',
    output: { write: async (b) => void parts.push(Buffer.from(b)) },
    outputFormat: 'csv',
    scorer,
    signature: { ...scorer.signature, featureNames: ['a', 'b'] },
    batchSize: 3,
    keep,
    onBadRow: (line, reason, record) => void bad.push([line, reason, record]),
    parseThreads: threads,
    parallelAfterBytes: 0,
    waitForWorkers: true,
  });
  return { output: Buffer.concat(parts).toString(), bad, rows: summary.rows };
}

/** Single-threaded and with 1 and 2 workers, at several chunk sizes: all the same. */
async function assertSameEverywhere(text: string, keep?: string[]): Promise<Scored> {
  const expected = await score(text, 0, text.length || 1, keep);
  for (const threads of [1, 2]) {
    for (const chunk of [1, 2, 7, 64, 1000]) {
      assert.deepEqual(await score(text, threads, chunk, keep), expected, `${threads} workers, chunks of ${chunk}`);
    }
  }
  return expected;
}

const rows = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => `${from + i},${(from + i) * 0.5},-${from + i}`).join('\n');

describe('parallel CSV parsing', () => {
  test('quotes, escaped quotes, newlines inside quotes, CRLF, blank lines, no final newline', async () => {
    const text = [
      'id,"a",b',
      '"x,1",1.5,-2',
      '"say ""hi""",+3,.25',
      '',
      '"two\r\nlines",4,5',
      '"",6,7',
      ...rows(40).split('\n'),
      '"last",8,9',
    ].join('\r\n');
    const result = await assertSameEverywhere(text);
    assert.equal(result.rows, 45);
    assert.deepEqual(result.bad, []);
    assert.match(result.output, /^id,y_0,y_1\n"x,1",1.5,-2\n"say ""hi""",3,0.25\n"two\r\nlines",4,5\n,6,7\n0,0,0\n/);
    assert.match(result.output, /\nlast,8,9\n$/);
  });

  test('bad rows are reported in order with the line they start on', async () => {
    const text = `id,a,b\n${rows(10)}\n11,x,1\n"12\n13",1\n${rows(10, 20)}\n30,,1\n31,1,2,3\n${rows(5, 40)}`;
    const result = await assertSameEverywhere(text);
    assert.deepEqual(
      result.bad.map(([line, reason]) => [line, reason]),
      [
        [12, "a: 'x' is not a number"],
        [13, 'has 2 fields; the header has 3'],
        [25, 'a is empty'],
        [26, 'has 4 fields; the header has 3'],
      ],
    );
    assert.equal(result.rows, 25);
  });

  test('rows come out in input order across many slices and batches', async () => {
    const text = `id,a,b\n${rows(500)}\n`;
    const result = await assertSameEverywhere(text);
    const ids = result.output
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => Number(line.split(',')[0]));
    assert.deepEqual(
      ids,
      Array.from({ length: 500 }, (_, i) => i),
    );
  });

  test('an empty input, a header alone, and a header without a newline', async () => {
    assert.deepEqual(await assertSameEverywhere('', []), { output: '', bad: [], rows: 0 });
    assert.deepEqual((await assertSameEverywhere('id,a,b\n')).output, 'id,y_0,y_1\n');
    assert.deepEqual((await assertSameEverywhere('id,a,b')).output, 'id,y_0,y_1\n');
  });

  test('a stray quote that fools the cut, and lone-CR line ends, still parse as on one thread', async () => {
    // `ab"c` is an unquoted field holding a quote: the quote count is odd from there on, so cuts fall wrongly.
    const stray = `id,a,b\n${rows(20)}\nab"c,1,2\n${rows(50, 100)}\n"q,\nuoted",3,4\n${rows(20, 200)}\n`;
    const result = await assertSameEverywhere(stray);
    assert.equal(result.rows, 92);
    assert.match(result.output, /\n"ab""c",1,2\n/);
    const loneCr = `id,a,b\r${rows(30).replaceAll('\n', '\r')}\r`;
    assert.equal((await assertSameEverywhere(loneCr)).rows, 30);
  });
});

test('a bad row that stops the run (--on-error fail) stops it with the workers too, naming its line', async () => {
  const text = `id,a,b\n${rows(300)}\n300,oops,1\n${rows(300, 301)}\n`;
  const bytes = Buffer.from(text);
  async function* input() {
    for (let at = 0; at < bytes.length; at += 100) yield bytes.subarray(at, at + 100);
  }
  await assert.rejects(
    scoreStream({
      input: input(),
      inputFormat: 'csv',
      output: { write: async () => {} },
      outputFormat: 'csv',
      scorer,
      signature: { ...scorer.signature, featureNames: ['a', 'b'] },
      batchSize: 3,
      onBadRow: (line, reason) => {
        throw new Error(`line ${line}: ${reason}`);
      },
      parseThreads: 2,
      parallelAfterBytes: 0,
      waitForWorkers: true,
    }),
    /^Error: line 302: a: 'oops' is not a number$/,
  );
});

describe('RecordCutter', () => {
  test('cuts after the last newline outside quotes, and keeps the rest for the next slice', () => {
    const cutter = new RecordCutter();
    const slice = cutter.push(Buffer.from('a,b\n"x\ny",1\n"open\n'));
    assert.equal(Buffer.from(slice as Uint8Array).toString(), 'a,b\n"x\ny",1\n');
    assert.equal(cutter.push(Buffer.from('still open')), undefined);
    const next = cutter.push(Buffer.from('",2\n3,4'));
    assert.equal(Buffer.from(next as Uint8Array).toString(), '"open\nstill open",2\n');
    assert.equal(Buffer.from(cutter.takeRest()).toString(), '3,4');
  });
});
