import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ModelportError } from '../core/index.ts';
import { StoreSink } from '../sinks/index.ts';
import { FolderArtifactStore } from '../store/index.ts';
import { forEachMetadataStore } from '../store/metadata/metadata-store.conformance.ts';
import { FeedbackService, metrics, parseFeedbackCsv } from './feedback.ts';

test('accuracy, and precision and recall of a class or macro-averaged', () => {
  const cells = [
    { prediction: 'fraud', label: 'fraud', n: 8 },
    { prediction: 'fraud', label: 'legit', n: 2 },
    { prediction: 'legit', label: 'fraud', n: 4 },
    { prediction: 'legit', label: 'legit', n: 86 },
  ];
  assert.deepEqual(metrics(cells, 'fraud'), { n: 100, correct: 94, accuracy: 0.94, precision: 0.8, recall: 0.6667 });
  // legit: precision 86/90, recall 86/88; macro = mean of both classes.
  const macro = metrics(cells, null);
  assert.equal(macro.precision, Math.round(((0.8 + 86 / 90) / 2) * 10_000) / 10_000);
  assert.equal(macro.recall, Math.round(((8 / 12 + 86 / 88) / 2) * 10_000) / 10_000);
  assert.deepEqual(metrics([], 'fraud'), { n: 0, correct: 0, accuracy: null, precision: null, recall: null });
  // A prediction the log could not name (null) is never correct.
  assert.equal(metrics([{ prediction: null, label: 'x', n: 1 }], null).accuracy, 0);
});

test('CSV labels: a header names the columns, quoting follows RFC 4180, errors name the line', () => {
  assert.deepEqual(parseFeedbackCsv('label,request_id\r\nfraud,a\n"le,git","b"\n\n'), [
    { requestId: 'a', label: 'fraud' },
    { requestId: 'b', label: 'le,git' },
  ]);
  assert.deepEqual(parseFeedbackCsv('requestId,label\nx,"say ""hi"""'), [{ requestId: 'x', label: 'say "hi"' }]);
  const refused = (text: string, message: RegExp) =>
    assert.throws(
      () => parseFeedbackCsv(text),
      (e: unknown) => e instanceof ModelportError && e.field === 'body' && message.test(e.message),
    );
  refused('id_only\nx', /header/);
  refused('request_id,label\n,fraud\n', /line 2/);
  refused('request_id,label\n"open,fraud\n', /not closed/);
});

forEachMetadataStore('feedback', (open) => {
  test('labels join the log; unknown ids are counted; accuracy per arm and window; purge', async () => {
    const metadata = await open();
    const dir = await mkdtemp(join(tmpdir(), 'modelport-feedback-'));
    const store = new StoreSink({
      db: metadata.db,
      artifacts: new FolderArtifactStore(join(dir, 'artifacts')),
      workDir: join(dir, 'work'),
      readable: [join(dir, 'artifacts')],
    });
    try {
      const hour = Date.UTC(2026, 11, 6, 10);
      const record = (id: string, arm: string, prediction: string, at: number) => ({
        requestId: id,
        time: new Date(at).toISOString(),
        project: 'default',
        deployment: 'fraud',
        revision: 1,
        arm,
        model: 'fraud',
        modelVersion: 1,
        protocol: 'v2-json',
        status: 'ok',
        error: null,
        caller: null,
        queueMs: 0,
        computeMs: 1,
        totalMs: 1,
        inputs: null,
        outputs: null,
        prediction,
      });
      await store.write([
        record('a', 'primary', 'fraud', hour + 60_000),
        record('b', 'primary', 'legit', hour + 120_000),
        record('c', 'primary', 'legit', hour + 3_600_000 + 5),
        record('d', 'canary', 'fraud', hour + 10),
        record('a', 'shadow', 'legit', hour + 60_000),
      ]);
      await store.flush();
      const feedback = new FeedbackService({ db: metadata.db, store, now: () => hour + 7_200_000 });
      const result = await feedback.add('default', 'fraud', [
        { requestId: 'a', label: 'fraud' },
        { requestId: 'b', label: 'fraud' },
        { requestId: 'c', label: 'legit' },
        { requestId: 'd', label: 'legit' },
        { requestId: 'zzz', label: 'legit' },
      ]);
      assert.deepEqual(result, { received: 5, accepted: 4, unknown: 1, unknownIds: ['zzz'] });
      const report = await feedback.accuracy('default', 'fraud', {
        windowMs: 3_600_000,
        sinceMs: hour,
        positive: 'fraud',
      });
      assert.deepEqual(
        report.arms.map((a) => a.arm),
        ['primary', 'canary'],
      );
      const primary = report.arms[0]!;
      assert.deepEqual(primary.total, { n: 3, correct: 2, accuracy: 0.6667, precision: 1, recall: 0.5 });
      assert.deepEqual(
        primary.points.map((p) => [p.time, p.n, p.accuracy]),
        [
          ['2026-12-06T10:00:00.000Z', 2, 0.5],
          ['2026-12-06T11:00:00.000Z', 1, 1],
        ],
      );
      assert.equal(report.arms[1]!.total.accuracy, 0);
      await feedback.add('default', 'fraud', [{ requestId: 'b', label: 'legit' }]);
      const again = await feedback.accuracy('default', 'fraud', { windowMs: 3_600_000, sinceMs: hour });
      assert.equal(again.arms[0]!.total.accuracy, 1);
      await assert.rejects(
        feedback.add('default', 'fraud', []),
        (e: unknown) => e instanceof ModelportError && e.field === 'body',
      );
      assert.equal(await feedback.purge('default', 'fraud'), 4);
      assert.deepEqual((await feedback.accuracy('default', 'fraud', { windowMs: 3_600_000, sinceMs: 0 })).arms, []);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
