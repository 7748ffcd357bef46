import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, test } from 'node:test';
import { ModelportError } from '../core/index.ts';
import { createBrowserGuard, hostAllowed } from './browser-guard.ts';

const req = (method: string, headers: Record<string, string>) => ({ method, headers }) as unknown as IncomingMessage;
const codeOf = (fn: () => void) => {
  try {
    fn();
    return 'ok';
  } catch (e) {
    return e instanceof ModelportError ? e.code : String(e);
  }
};

describe('browser guard', () => {
  const guard = createBrowserGuard({ allowedHosts: ['ml.example.com', 'api.example.com:8443'] });

  test('Host: loopback names, IP literals and configured names pass; other names are DNS rebinding', () => {
    const allowed = new Set(['ml.example.com', 'api.example.com:8443']);
    for (const host of [
      'localhost',
      'LOCALHOST:8080',
      '127.0.0.1:8080',
      '10.0.0.5',
      '[::1]:8080',
      '[fe80::1]',
      'ml.example.com:80',
      'api.example.com:8443',
    ]) {
      assert.equal(hostAllowed(host, allowed), true, host);
    }
    for (const host of [
      'evil.example',
      'api.example.com:9000',
      'localhost.evil.example',
      '127.0.0.1.nip.io',
      'a b',
      '',
      'ml.example.com:80:80',
    ]) {
      assert.equal(hostAllowed(host, allowed), false, host);
    }
    assert.equal(
      codeOf(() => guard(req('GET', { host: 'evil.example:8080' }))),
      'host_not_allowed',
    );
    assert.equal(
      codeOf(() => guard(req('GET', {}))),
      'ok',
      'HTTP/1.0 without Host',
    );
  });

  test('the guard remembers allowed hosts only: after 200 allowed ones, a rebinding name is still refused', () => {
    const fresh = createBrowserGuard({ allowedHosts: [] });
    for (let i = 0; i < 200; i++)
      assert.equal(
        codeOf(() => fresh(req('GET', { host: `10.0.0.${i % 250}:80` }))),
        'ok',
      );
    for (let i = 0; i < 3; i++) {
      assert.equal(
        codeOf(() => fresh(req('GET', { host: 'evil.example' }))),
        'host_not_allowed',
      );
      assert.equal(
        codeOf(() => fresh(req('GET', { host: '127.0.0.1:8080' }))),
        'ok',
      );
    }
  });

  test('writes: Origin must be this server; Sec-Fetch-Site must be same-origin or none; reads are not checked', () => {
    const host = { host: '127.0.0.1:8080' };
    assert.equal(
      codeOf(() => guard(req('POST', { ...host, origin: 'http://127.0.0.1:8080' }))),
      'ok',
    );
    assert.equal(
      codeOf(() => guard(req('DELETE', { ...host }))),
      'ok',
      'no Origin: not a browser',
    );
    for (const origin of [
      'https://evil.example',
      'null',
      'http://127.0.0.1:9999',
      'http://localhost:8080',
      'file://',
    ]) {
      assert.equal(
        codeOf(() => guard(req('POST', { ...host, origin }))),
        'csrf_failed',
        origin,
      );
    }
    for (const site of ['cross-site', 'same-site']) {
      assert.equal(
        codeOf(() => guard(req('PUT', { ...host, 'sec-fetch-site': site }))),
        'csrf_failed',
        site,
      );
    }
    assert.equal(
      codeOf(() => guard(req('GET', { ...host, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }))),
      'ok',
    );
  });
});
