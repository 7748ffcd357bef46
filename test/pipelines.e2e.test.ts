/**
 * Pipelines end to end on a real server (SQLite + folder, and PostgreSQL + S3): a data commit starts exactly one
 * run per matching pipeline, steps run as child processes with the commit's files read-only, logs are kept and
 * followed live, bad specs are refused with the field named and nothing stored, cancel kills the process tree
 * within 2 s, resume re-runs only the failed steps, and the concurrency policies queue, skip or cancel.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ModelportApiError, ModelportClient } from '../src/client/client.ts';
import { compileServerConfig } from '../src/core/config.ts';
import { memoryLogger } from '../src/logging/index.ts';
import { buildLogisticRegressionModel } from '../src/onnx-builder/index.ts';
import { signGithubDelivery, signModelportDelivery, WEBHOOK_MAX_BYTES } from '../src/pipelines/index.ts';
import { type RunningServer, startServer } from '../src/server/server.ts';
import { cli } from './support/cli.ts';
import { REPO_ROOT, STORE_KINDS, startTestServer, type TestServer } from './support/server.ts';

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const ENDED = new Set(['Succeeded', 'Failed', 'Blocked', 'Cancelled', 'Skipped']);
const ended = (mp: ModelportClient, run: string) =>
  until(`run ${run} to end`, async () => {
    const r = await mp.getRun(run);
    return ENDED.has(r.state) ? r : undefined;
  });

async function refused(promise: Promise<unknown>): Promise<ModelportApiError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ModelportApiError, String(error));
    return error;
  }
  assert.fail('the call was accepted');
}

for (const kind of STORE_KINDS) {
  describe(`pipelines [${kind}]`, { timeout: 240_000 }, () => {
    let t: TestServer;
    let mp: ModelportClient;
    const commit = (path: string, text: string, message = `put ${path}`) =>
      mp.putFile('events', path, new TextEncoder().encode(text), { message });

    before(async () => {
      t = await startTestServer(kind);
      mp = new ModelportClient({ url: t.url });
      await mp.createRepo('events');
    });
    after(async () => {
      await t?.close();
    });

    test('a commit starts exactly one run per matching pipeline; steps see the files read-only and pass outputs on', async () => {
      const spec = (name: string, glob: string) => ({
        name,
        trigger: { data: { repo: 'events', branch: 'main', glob } },
        steps: [
          {
            name: 'count',
            run: 'wc -l < "$MODELPORT_INPUT/rows.csv" > "$MODELPORT_OUTPUT/count.txt"; echo "{\\"rows\\": $(cat "$MODELPORT_OUTPUT/count.txt")}" > "$MODELPORT_OUTPUT/metrics.json"',
          },
          { name: 'check', needs: ['count'], gate: 'metrics.rows >= 2.0' },
          {
            name: 'show',
            needs: ['check'],
            run: 'echo "count was $(cat "$MODELPORT_OUTPUT_COUNT/count.txt")"',
          },
        ],
      });
      await mp.applyPipeline({ spec: spec('csv-only', '*.csv') });
      await mp.applyPipeline({ spec: spec('txt-only', '*.txt') });
      const before = (await mp.listRuns()).length;
      const put = await commit('rows.csv', 'a,b\n1,2\n3,4\n');
      const runs = await until('one run', async () => {
        const all = (await mp.listRuns()).filter((r) => r.trigger.kind === 'data');
        return all.length > before ? all : undefined;
      });
      assert.equal(runs.length, 1, 'only the pipeline whose glob matches runs');
      const run = await ended(mp, runs[0]!.id);
      assert.equal(run.state, 'Succeeded', JSON.stringify(run.steps.map((s) => [s.name, s.state, s.reason])));
      assert.equal(run.pipeline, 'csv-only');
      assert.deepEqual(run.trigger, {
        kind: 'data',
        event: run.trigger.kind === 'data' ? run.trigger.event : 0,
        repo: 'events',
        branch: 'main',
        commit: put.commit.id,
      });
      const [count, check, show] = run.steps;
      assert.deepEqual(count!.metrics, { rows: 3 });
      assert.deepEqual(count!.outputs, ['count.txt', 'metrics.json']);
      assert.equal(count!.exitCode, 0);
      assert.equal(check!.result?.policy?.passed, true);
      assert.match(check!.result?.policy?.explanation ?? '', /metrics.rows = 3/);
      const logs: string[] = [];
      for await (const e of mp.runLogs(run.id)) logs.push(e.event === 'log' ? e.text : `[${e.event}]`);
      const text = logs.join('');
      assert.match(text, /count was 3/);
      // The same events consumed again start nothing more.
      await t.server.engine.consumeEvents();
      assert.equal((await mp.listRuns({ pipeline: 'csv-only' })).length, 1);
      assert.equal(show!.state, 'Succeeded');
    });

    test("a step cannot change the commit's files (read-only, and checked after the step)", async () => {
      await mp.applyPipeline({
        spec: {
          name: 'tamper',
          trigger: { data: { repo: 'events' } },
          steps: [
            { name: 'write', run: '(echo x >> "$MODELPORT_INPUT/rows.csv") 2>/dev/null && echo wrote || echo refused' },
          ],
        },
      });
      const run = await ended(mp, (await mp.triggerPipeline('tamper')).id);
      assert.equal(
        run.trigger.kind === 'manual' && run.trigger.commit !== undefined,
        true,
        'a manual run reads the branch head',
      );
      const step = run.steps[0]!;
      let text = '';
      for await (const e of mp.runLogs(run.id)) if (e.event === 'log') text += e.text;
      if (/refused/.test(text)) assert.equal(step.state, 'Succeeded');
      else {
        // Running as root: the mode does not stop the write, the check after the step does.
        assert.equal(step.state, 'Failed');
        assert.match(step.reason ?? '', /changed its input 'rows.csv'/);
      }
      await mp.deletePipeline('tamper');
    });

    test('bad specs are refused with the field named, and nothing is stored', async () => {
      const base = { name: 'bad', steps: [{ name: 'a', run: 'true' }] };
      const cases: [unknown, string, RegExp][] = [
        [
          {
            ...base,
            steps: [
              { name: 'a', run: 'true', needs: ['b'] },
              { name: 'b', run: 'true', needs: ['a'] },
            ],
          },
          'steps[0].needs',
          /cycle: a -> b -> a/,
        ],
        [{ ...base, steps: [{ name: 'a', run: 'true', needs: ['zz'] }] }, 'steps[0].needs[0]', /no step is named 'zz'/],
        [{ ...base, trigger: { schedule: { cron: '61 * * * *' } } }, 'trigger.schedule.cron', /not a cron expression/],
        [
          { ...base, steps: [{ name: 'a', gate: 'metrics.auc >= 0.9 && metricz.x > 1' }] },
          'steps[0].gate',
          /column 23.*metricz/,
        ],
        [{ ...base, steps: [{ name: 'a', gate: 'metrics.auc >=' }] }, 'steps[0].gate', /does not compile at column/],
        [{ ...base, secrets: [{ env: 'TOKEN', secret: 'missing-secret' }] }, 'secrets[0].secret', /does not exist/],
        [{ ...base, trigger: { data: { repo: 'nope' } } }, 'trigger.data.repo', /does not exist/],
        [{ ...base, steps: [{ name: 'a', run: 'true', gate: 'true' }] }, 'steps[0]', /one kind/],
        [{ ...base, stepz: [] }, 'stepz', /not a field/],
      ];
      for (const [spec, field, message] of cases) {
        const error = await refused(mp.applyPipeline({ spec: spec as Record<string, unknown> }));
        assert.equal(error.field, field, error.message);
        assert.match(error.message, message);
        assert.equal(error.status, 400);
      }
      const names = (await mp.listPipelines()).map((p) => p.name);
      assert.ok(!names.includes('bad'));
    });

    test('cancel kills the process tree within 2 s; resume re-runs only what failed', async () => {
      await mp.applyPipeline({
        spec: {
          name: 'slow',
          steps: [
            {
              name: 'prepare',
              run: 'echo prepared > "$MODELPORT_OUTPUT/p.txt"; echo \'{"n": 1}\' > "$MODELPORT_OUTPUT/metrics.json"',
            },
            { name: 'sleep', needs: ['prepare'], run: 'sh -c "sleep 300" & sleep 300; wait' },
          ],
        },
      });
      const started = await mp.triggerPipeline('slow');
      await until('the sleep step to run', async () => {
        const r = await mp.getRun(started.id);
        return r.steps[1]!.state === 'Running' ? r : undefined;
      });
      const asked = Date.now();
      await mp.cancelRun(started.id);
      const cancelled = await ended(mp, started.id);
      const tookMs = Date.now() - asked;
      assert.equal(cancelled.state, 'Cancelled');
      assert.ok(tookMs < 2000, `cancel took ${tookMs} ms`);
      assert.equal(cancelled.steps[0]!.state, 'Succeeded');
      assert.equal(cancelled.steps[1]!.state, 'Cancelled');

      await mp.applyPipeline({
        spec: {
          name: 'slow',
          steps: [
            {
              name: 'prepare',
              run: 'echo prepared > "$MODELPORT_OUTPUT/p.txt"; echo \'{"n": 1}\' > "$MODELPORT_OUTPUT/metrics.json"',
            },
            { name: 'sleep', needs: ['prepare'], run: 'sh -c "sleep 300" & sleep 300; wait' },
          ],
        },
      });
      const resumed = await mp.resumeRun(started.id);
      assert.equal(resumed.attempt, 2);
      await until('the sleep step to run again', async () => {
        const r = await mp.getRun(started.id);
        return r.steps[1]!.state === 'Running' ? r : undefined;
      });
      const again = await mp.getRun(started.id);
      assert.equal(again.steps[0]!.attempt, 1, 'the succeeded step was not run again');
      await mp.cancelRun(started.id);
      await ended(mp, started.id);
    });

    test('concurrency: queue runs them one by one, skip records the extra run as Skipped', async () => {
      const spec = (policy: string) => ({
        name: `one-${policy}`,
        concurrency: { limit: 1, policy },
        steps: [{ name: 'wait', run: 'sleep 0.3' }],
      });
      await mp.applyPipeline({ spec: spec('queue') });
      const queued = [
        await mp.triggerPipeline('one-queue'),
        await mp.triggerPipeline('one-queue'),
        await mp.triggerPipeline('one-queue'),
      ];
      const done = await Promise.all(queued.map((r) => ended(mp, r.id)));
      assert.deepEqual(
        done.map((r) => r.state),
        ['Succeeded', 'Succeeded', 'Succeeded'],
      );
      const windows = done
        .map((r) => [Date.parse(r.startedAt!), Date.parse(r.finishedAt!)] as const)
        .sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < windows.length; i++)
        assert.ok(windows[i]![0] >= windows[i - 1]![1], 'queued runs did not overlap');

      await mp.applyPipeline({ spec: spec('skip') });
      const first = await mp.triggerPipeline('one-skip');
      const second = await mp.triggerPipeline('one-skip');
      assert.equal(second.state, 'Skipped');
      assert.match(second.reason ?? '', /concurrency limit 1/);
      assert.equal((await ended(mp, first.id)).state, 'Succeeded');
    });

    test('concurrency cancel-older: a new run cancels the running one (its process killed) and then runs', async () => {
      await mp.applyPipeline({
        spec: {
          name: 'newest-wins',
          concurrency: { limit: 1, policy: 'cancel-older' },
          steps: [{ name: 'work', run: 'if [ "$MODELPORT_RUN_NUMBER" = 1 ]; then sleep 300; else echo second; fi' }],
        },
      });
      const first = await mp.triggerPipeline('newest-wins');
      await until('the first run to run', async () => {
        const r = await mp.getRun(first.id);
        return r.steps[0]!.state === 'Running' ? r : undefined;
      });
      const second = await mp.triggerPipeline('newest-wins');
      const older = await ended(mp, first.id);
      assert.equal(older.state, 'Cancelled');
      assert.equal(older.steps[0]!.state, 'Cancelled');
      const newer = await ended(mp, second.id);
      assert.equal(newer.state, 'Succeeded');
      assert.ok(Date.parse(newer.startedAt!) >= Date.parse(older.finishedAt!), 'the limit held: they never overlapped');
      await mp.deletePipeline('newest-wins');
    });

    test('retries: a failing step runs again after a doubling backoff, then succeeds', async () => {
      const marks = join(t.home, `attempts-${Date.now()}`);
      await mp.applyPipeline({
        spec: {
          name: 'flaky',
          steps: [
            {
              name: 'flaky',
              retries: { count: 3, backoff: '300ms' },
              env: { MARKS: marks },
              // Fails twice, then succeeds; each attempt leaves its start time in ms.
              run: 'echo $(($(date +%s%N) / 1000000)) >> "$MARKS"; [ "$(wc -l < "$MARKS")" -ge 3 ] || { echo "not yet"; exit 1; }',
            },
          ],
        },
      });
      const run = await ended(mp, (await mp.triggerPipeline('flaky')).id);
      assert.equal(run.state, 'Succeeded', JSON.stringify(run.steps[0]));
      assert.equal(run.steps[0]!.attempt, 3);
      const starts = (await readFile(marks, 'utf8')).trim().split('\n').map(Number);
      assert.equal(starts.length, 3);
      // The backoff is a lower bound: 300 ms after the first failure, 600 ms after the second.
      assert.ok(starts[1]! - starts[0]! >= 300, `first wait ${starts[1]! - starts[0]!} ms`);
      assert.ok(starts[2]! - starts[1]! >= 600, `second wait ${starts[2]! - starts[1]!} ms`);
      let log = '';
      for await (const e of mp.runLogs(run.id)) if (e.event === 'log') log += e.text;
      assert.match(log, /attempt 1 failed \(exited with code 1: not yet\); retrying/);
      assert.match(log, /attempt 2 failed/);
      // Out of retries: the step fails with the last attempt's reason.
      await mp.applyPipeline({
        spec: {
          name: 'flaky',
          steps: [{ name: 'flaky', retries: { count: 1, backoff: '100ms' }, run: 'echo broken; exit 2' }],
        },
      });
      const failed = await ended(mp, (await mp.triggerPipeline('flaky')).id);
      assert.equal(failed.state, 'Failed');
      assert.equal(failed.steps[0]!.attempt, 2);
      assert.match(failed.steps[0]!.reason ?? '', /exited with code 2: broken/);
      await mp.deletePipeline('flaky');
    });

    test('a failing, a timed-out and a very chatty step never take the server down', async () => {
      await mp.applyPipeline({
        spec: {
          name: 'rough',
          steps: [
            { name: 'fails', run: 'echo about to fail; exit 3' },
            { name: 'hangs', timeout: '1s', run: 'sleep 30' },
            { name: 'chatty', run: 'head -c 50000000 /dev/zero | tr "\\0" "x"' },
            { name: 'after', needs: ['fails'], run: 'true' },
            { name: 'always', needs: ['fails'], when: 'always', run: 'echo cleanup' },
          ],
        },
      });
      const run = await ended(mp, (await mp.triggerPipeline('rough')).id);
      const step = (name: string) => run.steps.find((s) => s.name === name)!;
      assert.equal(run.state, 'Failed');
      assert.equal(
        step('fails').exitCode,
        3,
        JSON.stringify(run.steps.map((s) => [s.name, s.state, s.reason, s.exitCode])),
      );
      assert.match(step('fails').reason ?? '', /exited with code 3/);
      assert.match(step('hangs').reason ?? '', /timed out after 1 s/);
      assert.equal(step('chatty').state, 'Succeeded');
      assert.equal(step('chatty').log?.cut, true);
      assert.ok((step('chatty').log?.size ?? 0) < 9 * 1024 * 1024);
      assert.equal(step('after').state, 'Skipped');
      assert.equal(step('always').state, 'Succeeded');
      let tail = '';
      for await (const e of mp.runLogs(run.id, { step: 'chatty' }))
        if (e.event === 'log') tail = (tail + e.text).slice(-200);
      assert.match(tail, /log cut at \d+ bytes; \d+ more bytes were dropped/);
      assert.equal((await mp.getRun(run.id)).state, 'Failed');
    });

    test('a new model version and a moved alias start the pipelines that watch them', async () => {
      await mp.applyPipeline({
        spec: {
          name: 'on-version',
          trigger: { model: { name: 'watched' } },
          steps: [{ name: 'a', run: 'echo "$MODELPORT_RUN_NUMBER"' }],
        },
      });
      await mp.applyPipeline({
        spec: {
          name: 'on-alias',
          trigger: { model: { name: 'watched', alias: 'champion' } },
          steps: [{ name: 'a', run: 'true' }],
        },
      });
      const onnx = buildLogisticRegressionModel({ weights: [1, 2], bias: 0, featureCount: 2 });
      await mp.registerVersion('watched', onnx);
      const byVersion = await until('a run for the new version', async () => {
        const runs = await mp.listRuns({ pipeline: 'on-version' });
        return runs.length > 0 ? runs : undefined;
      });
      assert.deepEqual(
        { ...byVersion[0]!.trigger, event: 0 },
        { kind: 'model', event: 0, model: 'watched', version: 1 },
      );
      assert.equal((await mp.listRuns({ pipeline: 'on-alias' })).length, 0, 'no alias moved yet');
      await mp.setAlias('watched', 'champion', 1);
      const byAlias = await until('a run for the alias', async () => {
        const runs = await mp.listRuns({ pipeline: 'on-alias' });
        return runs.length > 0 ? runs : undefined;
      });
      assert.equal(byAlias[0]!.trigger.kind === 'model' && byAlias[0]!.trigger.alias, 'champion');
      assert.equal((await ended(mp, byAlias[0]!.id)).state, 'Succeeded');
      assert.equal((await mp.listRuns({ pipeline: 'on-version' })).length, 1, 'the alias is not a new version');
    });

    test("a run's parameters reach its steps as MODELPORT_PARAM_*", async () => {
      await mp.applyPipeline({
        spec: { name: 'params', steps: [{ name: 'a', run: 'echo "rate=$MODELPORT_PARAM_LEARNING_RATE"' }] },
      });
      const run = await ended(mp, (await mp.triggerPipeline('params', { 'learning-rate': '0.05' })).id);
      assert.deepEqual(run.params, { 'learning-rate': '0.05' });
      let text = '';
      for await (const e of mp.runLogs(run.id)) if (e.event === 'log') text += e.text;
      assert.match(text, /rate=0\.05/);
    });

    test('a signed webhook delivery starts one run; a bad signature, a stale one and a replay start none', async () => {
      await mp.setSecret('HOOK_SECRET', 'whsec-0123456789abcdef');
      await mp.applyPipeline({
        spec: {
          name: 'hooked',
          trigger: { webhook: { secret: 'HOOK_SECRET' }, manual: false },
          steps: [{ name: 'a', run: 'true' }],
        },
      });
      const url = `${t.url}/hooks/pipelines/default/hooked`;
      const shown = await cli(t.url, 'pipelines', 'show', 'hooked');
      assert.ok(shown.stdout.includes(`webhook:     POST ${url}\n`), shown.stdout);
      const body = JSON.stringify({ ref: 'refs/heads/main', after: 'abc' });
      const now = () => Math.floor(Date.now() / 1000);
      const modelport = (delivery: string, at = now(), secret = 'whsec-0123456789abcdef', payload = body) =>
        fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-modelport-delivery': delivery,
            'x-modelport-timestamp': String(at),
            'x-modelport-signature': signModelportDelivery(secret, delivery, at, payload),
          },
          body: payload,
        });
      const runsBefore = (await mp.listRuns({ pipeline: 'hooked' })).length;

      const good = await modelport('d-1');
      assert.equal(good.status, 202, await good.clone().text());
      const started = (await good.json()) as { id: string; number: number };
      const run = await ended(mp, started.id);
      assert.equal(run.state, 'Succeeded');
      assert.deepEqual(run.trigger, { kind: 'webhook', delivery: 'd-1' });

      const replay = await modelport('d-1');
      assert.equal(replay.status, 409);
      assert.match(
        ((await replay.json()) as { error: { message: string } }).error.message,
        /was received before \(run hooked#1\)/,
      );

      const wrongKey = await modelport('d-2', now(), 'not-the-secret');
      assert.equal(wrongKey.status, 401);
      const tampered = await fetch(url, {
        method: 'POST',
        headers: {
          'x-modelport-delivery': 'd-3',
          'x-modelport-timestamp': String(now()),
          'x-modelport-signature': signModelportDelivery('whsec-0123456789abcdef', 'd-3', now(), body),
        },
        body: body.replace('abc', 'abd'),
      });
      assert.equal(tampered.status, 401);
      const stale = await modelport('d-4', now() - 600);
      assert.equal(stale.status, 401);
      assert.match(((await stale.json()) as { error: { message: string } }).error.message, /more than 5 minutes/);
      const unsigned = await fetch(url, { method: 'POST', body });
      assert.equal(unsigned.status, 401);
      const big = 'x'.repeat(WEBHOOK_MAX_BYTES + 1);
      const tooLarge = await modelport('d-5', now(), 'whsec-0123456789abcdef', big).catch(() => undefined);
      // The server answers 413 (or closes the connection while the client still sends).
      if (tooLarge) assert.equal(tooLarge.status, 413);

      // GitHub's scheme: the body's HMAC with the delivery id de-duplicated.
      const github = (delivery: string, signature = signGithubDelivery('whsec-0123456789abcdef', body)) =>
        fetch(url, {
          method: 'POST',
          headers: { 'x-github-delivery': delivery, 'x-github-event': 'push', 'x-hub-signature-256': signature },
          body,
        });
      const fromGithub = await github('gh-1');
      assert.equal(fromGithub.status, 202);
      assert.equal((await github('gh-1')).status, 409);
      assert.equal((await github('gh-2', `sha256=${'0'.repeat(64)}`)).status, 401);

      const runs = await mp.listRuns({ pipeline: 'hooked' });
      assert.equal(runs.length - runsBefore, 2, 'one run per good delivery, none for the others');
      // A pipeline without a webhook trigger takes no deliveries.
      await mp.applyPipeline({ spec: { name: 'not-hooked', steps: [{ name: 'a', run: 'true' }] } });
      const none = await fetch(`${t.url}/hooks/pipelines/default/not-hooked`, { method: 'POST', body });
      assert.equal(none.status, 404);
      await mp.deletePipeline('hooked');
      await mp.deletePipeline('not-hooked');
    });

    test("a gate reads the commit's profile: rows and per-column nulls, waited for while pending", async () => {
      await mp.applyPipeline({
        spec: {
          name: 'profiled',
          trigger: { data: { repo: 'events', branch: 'main', glob: 'scores.csv' } },
          steps: [
            {
              name: 'complete',
              gate: 'data.profile["scores.csv"].rows >= 3 && data.profile["scores.csv"].columns.score.nulls == 0',
            },
          ],
        },
      });
      const good = await commit('scores.csv', 'id,score\n1,0.5\n2,0.7\n3,0.9\n');
      const bad = await commit('scores.csv', 'id,score\n1,0.5\n2,\n3,\n');
      const runs = await until('two runs', async () => {
        const list = await mp.listRuns({ pipeline: 'profiled' });
        return list.length >= 2 ? list : undefined;
      });
      const byCommit = new Map<string, string>();
      for (const r of runs) if (r.trigger.kind === 'data') byCommit.set(r.trigger.commit, r.id);
      const passed = await ended(mp, byCommit.get(good.commit.id)!);
      const blocked = await ended(mp, byCommit.get(bad.commit.id)!);
      assert.equal(passed.state, 'Succeeded', JSON.stringify(passed.steps[0]));
      assert.match(passed.steps[0]!.result?.policy?.explanation ?? '', /data\.profile\["scores\.csv"\]\.rows = 3/);
      assert.equal(blocked.state, 'Blocked');
      assert.match(blocked.reason ?? '', /data\.profile\["scores\.csv"\]\.columns\.score\.nulls = 2/);
      await mp.deletePipeline('profiled');
    });

    test("a step's secrets never reach its stored or streamed log, whole, split across writes, or base64", async () => {
      const canary = `canary-${Math.random().toString(36).slice(2)}-value`;
      await mp.setSecret('PIPELINE_CANARY', canary);
      await mp.applyPipeline({
        spec: {
          name: 'leaky',
          secrets: [{ env: 'TOKEN', secret: 'PIPELINE_CANARY' }],
          steps: [
            {
              name: 'leak',
              // Whole, in two writes with a pause between (two chunks), base64, and a failing last line.
              run: [
                'echo "plain: $TOKEN"',
                'half=$(printf %s "$TOKEN" | cut -c1-10); rest=$(printf %s "$TOKEN" | cut -c11-)',
                'printf "split: %s" "$half"; sleep 0.3; printf "%s\\n" "$rest"',
                'echo "b64: $(printf %s "$TOKEN" | base64 -w0)"',
                'echo "length ${#TOKEN}"',
                'echo "last: $TOKEN" >&2; exit 4',
              ].join('; '),
            },
          ],
        },
      });
      const started = await mp.triggerPipeline('leaky');
      let live = '';
      for await (const e of mp.runLogs(started.id, { follow: true })) if (e.event === 'log') live += e.text;
      const run = await ended(mp, started.id);
      let stored = '';
      for await (const e of mp.runLogs(run.id)) if (e.event === 'log') stored += e.text;
      const forms = [canary, Buffer.from(canary).toString('base64'), canary.slice(0, 10), canary.slice(10)];
      for (const text of [live, stored, run.steps[0]!.reason ?? '', run.reason ?? '']) {
        for (const form of forms) assert.ok(!text.includes(form), `a form of the secret leaked: ${text}`);
      }
      assert.match(stored, /plain: \*\*\*\n/);
      assert.match(stored, /split: \*\*\*\n/);
      assert.match(stored, /b64: \*\*\*\n/);
      assert.match(stored, new RegExp(`length ${canary.length}`), 'the rest of the log is untouched');
      assert.match(run.steps[0]!.reason ?? '', /exited with code 4: last: \*\*\*/);
      await mp.deletePipeline('leaky');
    });

    test('a schedule starts runs on its cron ticks', async () => {
      await mp.applyPipeline({
        spec: { name: 'ticking', trigger: { schedule: { cron: '* * * * * *' } }, steps: [{ name: 'a', run: 'true' }] },
      });
      const runs = await until('a scheduled run', async () => {
        const list = await mp.listRuns({ pipeline: 'ticking' });
        return list.length > 0 ? list : undefined;
      });
      assert.equal(runs[0]!.trigger.kind, 'schedule');
      await mp.deletePipeline('ticking');
    });
  });
}

describe('pipelines across a server restart', { timeout: 120_000 }, () => {
  test('steps running when the server stopped are failed with the reason, or run again once when idempotent', async () => {
    const home = await mkdtemp(join(tmpdir(), 'modelport-restart-'));
    const start = async (): Promise<RunningServer> =>
      startServer(compileServerConfig({ home, port: '0', grpcPort: '0', example: 'false' }), {
        log: memoryLogger(),
        version: 'test',
        examplesDir: join(REPO_ROOT, 'examples'),
      });
    let server = await start();
    try {
      let mp = new ModelportClient({ url: server.url });
      await mp.applyPipeline({
        spec: {
          name: 'long',
          steps: [
            {
              name: 'safe',
              idempotent: true,
              run: 'if [ -f "$HOME_MARK" ]; then echo second; else touch "$HOME_MARK"; sleep 300; fi',
              env: { HOME_MARK: join(home, 'mark') },
            },
            { name: 'unsafe', run: 'sleep 300' },
          ],
        },
      });
      const run = await mp.triggerPipeline('long');
      await until('both steps to run', async () => {
        const r = await mp.getRun(run.id);
        // The mark file says the idempotent step's command really started (its state turns Running just before).
        return r.steps.every((s) => s.state === 'Running') && existsSync(join(home, 'mark')) ? r : undefined;
      });
      await server.close();
      server = await start();
      mp = new ModelportClient({ url: server.url });
      const after = await ended(mp, run.id);
      const [safe, unsafe] = after.steps;
      assert.equal(safe!.state, 'Succeeded');
      assert.equal(safe!.restarts, 1);
      assert.equal(unsafe!.state, 'Failed');
      assert.match(unsafe!.reason ?? '', /the server stopped while this step ran/);
      assert.equal(after.state, 'Failed');
      let log = '';
      for await (const e of mp.runLogs(run.id, { step: 'safe' })) if (e.event === 'log') log += e.text;
      assert.match(log, /second/);
    } finally {
      await server.close();
      await rm(home, { recursive: true, force: true });
    }
  });
});
