/**
 * The hostile suites of issue 14 that need no auth, on real servers: path traversal (every name and path a user
 * gives, 57 vectors) and SSRF (43 loopback spellings through every outbound call). `npm run bench:security` runs
 * the same suites and prints their counts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runPathTraversalSuite } from './hostile/path-traversal.ts';
import { runSsrfSuite } from './hostile/ssrf.ts';

describe('hostile suites', { timeout: 600_000 }, () => {
  test('path traversal: no answer leaks a file outside the home, no file outside it is written', async () => {
    const r = await runPathTraversalSuite();
    assert.ok(r.vectors >= 40, `${r.vectors} vectors`);
    assert.ok(r.slots >= 25, `${r.slots} slots`);
    assert.deepEqual(r.leaks, []);
    assert.deepEqual(r.escapes, []);
    assert.deepEqual(r.serverErrors, []);
    assert.equal(r.refused + r.accepted + r.unavailable, r.cases);
  });

  test('SSRF: the loopback sentinel sees no connection through any outbound call', async () => {
    const r = await runSsrfSuite();
    assert.ok(r.spellings >= 30, `${r.spellings} spellings`);
    assert.equal(r.paths.length, 4);
    assert.equal(r.sentinelHits, 0);
    assert.deepEqual(r.accepted, []);
    assert.equal(r.refused, r.cases);
    // The redirect cases reached the allowed host, so the guard's check of the redirect target is what refused them.
    assert.ok(r.redirectsServed >= 2 * r.spellings, `${r.redirectsServed} redirects served`);
  });
});
