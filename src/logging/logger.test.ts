import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ModelportError } from '../core/index.ts';
import { memoryLogger } from './logger.ts';

const CANARY = 'canary-3f9c1e-do-not-log';

describe('logger', () => {
  test('writes one JSON object per line with level, time, message, fields and the child bindings', () => {
    const log = memoryLogger('info');
    log.child({ component: 'jobs' }).info('job queued', { job: 'j1' });
    log.debug('not written at info');
    assert.equal(log.records.length, 1);
    const [record] = log.records;
    assert.equal(record?.level, 'info');
    assert.equal(record?.msg, 'job queued');
    assert.equal(record?.['component'], 'jobs');
    assert.equal(record?.['job'], 'j1');
    assert.match(String(record?.['time']), /^\d{4}-\d\d-\d\dT/);
    assert.equal(log.text().trim().split('\n').length, 1);
  });

  test('an error in `err` is logged with its code, message and stack', () => {
    const log = memoryLogger();
    const cause = new Error('disk on fire');
    log.error('GET /api/v1/x failed', { err: new ModelportError('internal', 'boom', { cause }) });
    const err = log.records[0]?.['err'] as { message: string; stack: string; code: string };
    assert.equal(log.records[0]?.level, 'error');
    assert.equal(err.message, 'boom: disk on fire', 'the cause is part of the message');
    assert.equal(err.code, 'internal');
    assert.match(err.stack, /logger\.test\.ts/);
  });

  test('secret-bearing keys are redacted at any depth, in fields and bindings (canary)', () => {
    const log = memoryLogger();
    log.child({ apiKey: CANARY }).warn('calling upstream', {
      password: CANARY,
      headers: { authorization: `Bearer ${CANARY}`, 'x-upstream-token': CANARY },
      nested: [{ secretValue: CANARY, ok: 'visible' }],
      credentials: { user: 'u' },
    });
    const text = log.text();
    assert.ok(!text.includes(CANARY), text);
    assert.match(text, /visible/);
    assert.equal((log.records[0]!['headers'] as Record<string, string>)['authorization'], '[redacted]');
  });
});
