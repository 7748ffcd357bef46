import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ModelportError } from '../core/index.ts';
import { type ArtifactStore, FolderArtifactStore } from '../store/index.ts';
import { forEachMetadataStore } from '../store/metadata/metadata-store.conformance.ts';
import { sampleRecords, sinkConformance } from './sink.conformance.ts';
import type { PayloadRecord } from './sink.ts';
import { RECORD_SELECT, recordFromRow, StoreSink } from './store-sink.ts';

/** The folder store, with puts that fail while `down` is set (the destination being unavailable). */
function failingWhileDown(store: ArtifactStore, state: { down: boolean }): ArtifactStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'putFile' || prop === 'put') {
        return (...args: unknown[]) =>
          state.down
            ? Promise.reject(new Error('the artifact store is unavailable'))
            : (target[prop] as (...a: unknown[]) => unknown).apply(target, args);
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** The records in a deployment's Parquet files, read with a DuckDB of the test's own (not the sink's). */
async function readFiles(sink: StoreSink, project: string, deployment: string) {
  const paths = await sink.filePaths(project, deployment);
  if (paths.length === 0) return [];
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const db = await DuckDBInstance.create(':memory:');
  const connection = await db.connect();
  try {
    const list = paths.map((p) => `'${p}'`).join(', ');
    const rows = (
      await connection.runAndReadAll(`SELECT ${RECORD_SELECT} FROM read_parquet([${list}])`)
    ).getRowObjectsJson();
    return rows.map(recordFromRow);
  } finally {
    connection.closeSync();
    db.closeSync();
  }
}

/** The deployment `fraud` holds exactly `expected`, in any order: while pending, then written out to its files. */
async function assertArrives(sink: StoreSink, expected: readonly PayloadRecord[]): Promise<void> {
  const byId = (list: readonly PayloadRecord[]) => [...list].sort((a, b) => (a.requestId < b.requestId ? -1 : 1));
  assert.deepEqual(byId(await sink.query({ project: 'default', deployment: 'fraud', limit: 1000 })), byId(expected));
  await sink.flush();
  assert.deepEqual(byId(await readFiles(sink, 'default', 'fraud')), byId(expected));
}

forEachMetadataStore('payload store sink', (open) => {
  async function setup(options: { rotateMs?: number; now?: () => number } = {}) {
    const metadata = await open();
    const dir = await mkdtemp(join(tmpdir(), 'modelport-store-sink-'));
    const state = { down: false };
    const artifacts = failingWhileDown(new FolderArtifactStore(join(dir, 'artifacts')), state);
    const sink = new StoreSink({
      db: metadata.db,
      artifacts,
      workDir: join(dir, 'work'),
      readable: [join(dir, 'artifacts')],
      ...options,
    });
    return { sink, metadata, dir, state };
  }

  sinkConformance('store', async () => {
    const { sink, dir, state } = await setup();
    return {
      sink,
      received: async () => {
        assert.equal(sink.pending, 0, 'everything flushed is in files');
        return readFiles(sink, 'default', 'fraud');
      },
      setDown: async (down) => {
        state.down = down;
      },
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  });

  test('queries: newest first, since/until, where, offset; pending rows are seen before they are written out', async () => {
    const { sink, dir } = await setup();
    try {
      const records = sampleRecords(30, 'q');
      await sink.write(records.slice(0, 20));
      await sink.flush();
      await sink.write(records.slice(20));
      assert.equal(sink.pending, 10);
      const all = await sink.query({ project: 'default', deployment: 'fraud', limit: 1000 });
      assert.equal(all.length, 30);
      assert.deepEqual(
        all.map((r) => r.requestId),
        [...records].reverse().map((r) => r.requestId),
      );
      const since = Date.parse(records[25]!.time);
      const recent = await sink.query({ project: 'default', deployment: 'fraud', since });
      assert.deepEqual(
        recent.map((r) => r.requestId).sort(),
        records
          .slice(25)
          .map((r) => r.requestId)
          .sort(),
      );
      const until = await sink.query({ project: 'default', deployment: 'fraud', until: since });
      assert.equal(until.length, 25);
      const fraud = await sink.query({
        project: 'default',
        deployment: 'fraud',
        where: "prediction = 'fraud' AND arm = 'primary'",
      });
      assert.ok(fraud.length > 0);
      assert.ok(fraud.every((r) => r.prediction === 'fraud' && r.arm === 'primary'));
      const page = await sink.query({ project: 'default', deployment: 'fraud', limit: 5, offset: 5 });
      assert.deepEqual(page, all.slice(5, 10));
      const slow = await sink.query({
        project: 'default',
        deployment: 'fraud',
        where: 'total_ms >= 10 AND caller IS NOT NULL',
      });
      assert.ok(slow.every((r) => r.totalMs >= 10 && r.caller !== null));
      const time = await sink.query({
        project: 'default',
        deployment: 'fraud',
        where: `time >= '${records[28]!.time}'`,
      });
      assert.equal(time.length, 2);
      // Another deployment's records never show, whatever the filter.
      await sink.write(sampleRecords(3, 'other').map((r) => ({ ...r, deployment: 'other' })));
      const leak = await sink.query({ project: 'default', deployment: 'fraud', where: "request_id LIKE 'other%'" });
      assert.equal(leak.length, 0);
      await assert.rejects(
        sink.query({ project: 'default', deployment: 'fraud', where: "total_ms > 'abc'" }),
        (e: unknown) => e instanceof ModelportError && e.field === 'where',
      );
    } finally {
      await sink.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('text that could break a line of the batch file, and a line of megabytes, arrive exactly, pending and written out', async () => {
    const { sink, dir } = await setup();
    try {
      const awkward = [
        'a\tb',
        'line\nbreak\r\n',
        'back\\slash \\N',
        '\\N',
        '"quoted", \'single\'',
        '',
        'snow \u2603 \u0001',
        'null',
      ];
      const records: PayloadRecord[] = sampleRecords(awkward.length, 'text').map((r, i) => ({
        ...r,
        requestId: `text-${i}\t${awkward[i]}`,
        arm: awkward[i]!,
        error: awkward[i]!,
        caller: awkward[(i + 1) % awkward.length]!,
        prediction: awkward[(i + 2) % awkward.length]!,
        inputs: [{ name: `x\t${awkward[i]}`, datatype: 'BYTES', shape: [1], data: [awkward[i]!] }],
        queueMs: i === 0 ? Number.NaN : r.queueMs,
      }));
      // A line past DuckDB's default limit of 2 MB: an input of 300,000 values (about 5.8 MB of text).
      const values = Array.from({ length: 300_000 }, (_, k) => Math.sin(k));
      records[1] = {
        ...records[1]!,
        inputs: [{ name: 'image', datatype: 'FP64', shape: [1, values.length], data: values }],
      };
      await sink.write(records);
      // A time that is not a number is stored as null (as JSON has it), and read back as 0.
      const expected = records.map((r, i) => (i === 0 ? { ...r, queueMs: 0 } : r));
      await assertArrives(sink, expected);
    } finally {
      await sink.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a lone surrogate in a client-given string never fails its batch: it arrives as U+FFFD, with the rest', async () => {
    const { sink, dir } = await setup();
    try {
      // A V2 request may name an input "\ud800" (valid JSON); its failed call is logged with that name and message.
      const [odd, ...others] = sampleRecords(3, 'lone');
      const records: PayloadRecord[] = [
        {
          ...odd!,
          error: "input 'a\ud800' is not an input of the model",
          prediction: 'x\udc00 \u{1F600}',
          inputs: [{ name: 'a\ud800', datatype: 'BYTES', shape: [1], data: ['\ud83d', 'ok \u{1F600}'] }],
        },
        ...others,
      ];
      assert.deepEqual(await sink.write(records), { written: 3 });
      const expected = [
        {
          ...records[0]!,
          error: "input 'a\ufffd' is not an input of the model",
          prediction: 'x\ufffd \u{1F600}',
          inputs: [{ name: 'a\ufffd', datatype: 'BYTES', shape: [1], data: ['\ufffd', 'ok \u{1F600}'] }],
        },
        ...others,
      ];
      await assertArrives(sink, expected);
    } finally {
      await sink.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('get, lookup, purge; files are one per deployment and hour', async () => {
    const { sink, metadata, dir } = await setup();
    try {
      const records = sampleRecords(10, 'g').map((r, i) => ({
        ...r,
        time: new Date(Date.UTC(2026, 11, 6, 10 + (i % 2), 5)).toISOString(),
      }));
      await sink.write(records);
      await sink.write(sampleRecords(2, 'keep').map((r) => ({ ...r, deployment: 'other' })));
      await sink.flush();
      const files = await metadata.db
        .selectFrom('payload_files')
        .selectAll()
        .where('deployment', '=', 'fraud')
        .execute();
      assert.deepEqual(files.map((f) => f.hour).sort(), ['2026-12-06T10', '2026-12-06T11']);
      assert.equal(
        files.reduce((s, f) => s + f.rows, 0),
        10,
      );
      const got = await sink.get('default', 'g-1');
      assert.equal(got.length, 1);
      assert.deepEqual(got[0], records[1]);
      const found = await sink.lookup('default', 'fraud', ['g-1', 'g-0', 'missing']);
      assert.deepEqual([...found.keys()].sort(), ['g-1']); // g-0 is a shadow record: never labelled
      assert.equal(found.get('g-1')?.prediction, records[1]!.prediction);
      assert.equal(await sink.purge('default', 'fraud'), 10);
      assert.deepEqual(await sink.query({ project: 'default', deployment: 'fraud' }), []);
      assert.equal((await sink.query({ project: 'default', deployment: 'other' })).length, 2);
    } finally {
      await sink.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('retention: files older than maxAge go, then the oldest beyond maxSize', async () => {
    const now = Date.UTC(2026, 11, 6, 12, 0);
    const { sink, dir } = await setup({ now: () => now });
    try {
      for (const hoursAgo of [50, 30, 3, 2, 1]) {
        const time = new Date(now - hoursAgo * 3_600_000).toISOString();
        await sink.write(sampleRecords(20, `h${hoursAgo}`).map((r) => ({ ...r, time })));
      }
      await sink.flush();
      assert.equal((await sink.usage('default', 'fraud')).files, 5);
      assert.equal(await sink.applyRetention('default', 'fraud', { maxAgeMs: 24 * 3_600_000 }), 2);
      const usage = await sink.usage('default', 'fraud');
      assert.equal(usage.files, 3);
      const oneFile = Math.ceil(usage.bytes / 3);
      assert.equal(await sink.applyRetention('default', 'fraud', { maxBytes: oneFile * 2 }), 1);
      const left = await sink.query({ project: 'default', deployment: 'fraud', limit: 1000 });
      assert.deepEqual([...new Set(left.map((r) => r.requestId.split('-')[0]))].sort(), ['h1', 'h2']);
    } finally {
      await sink.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
