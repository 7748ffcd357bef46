import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StepLog } from './step-log.ts';

test('a secret is masked wherever the chunks split it, and followers never see it', () => {
  const secret = 'sk-live-0123456789';
  const text = `start ${secret} middle ${Buffer.from(secret).toString('base64')} end ${secret}`;
  for (let at = 0; at <= text.length; at++) {
    const log = new StepLog(1024);
    log.redact([secret, 'ab']);
    let live = '';
    log.follow(
      (chunk) => (live += chunk.toString()),
      () => {},
    );
    log.append(text.slice(0, at));
    log.append(text.slice(at));
    const stored = log.end().toString();
    assert.equal(stored, 'start *** middle *** end ***', `split at ${at}`);
    assert.equal(live, stored);
  }
});

test('redaction holds back only a tail shorter than the longest form, and flush lets it out', () => {
  const log = new StepLog(1024);
  log.redact(['password1']);
  let live = '';
  log.follow(
    (chunk) => (live += chunk.toString()),
    () => {},
  );
  // The longest form is the base64 one (12 characters): at most 11 stay back.
  log.append('a first line\nthen: pass');
  assert.equal(live, 'a first line');
  log.flush();
  assert.equal(live, 'a first line\nthen: pass');
  assert.equal(log.lastLine(), 'then: pass');
});
