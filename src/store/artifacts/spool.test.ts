import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { ModelportError } from '../../core/index.ts';
import { spoolToFile } from './spool.ts';

describe('spoolToFile', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'modelport-spool-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('writes the body to a private file in dir (created if missing) with its sha256 and size', async () => {
    const spoolDir = join(dir, 'nested', 'tmp');
    const parts = [Buffer.from('hello '), Buffer.from('world')];
    const spooled = await spoolToFile(Readable.from(parts), { dir: spoolDir });
    assert.equal(spooled.size, 11);
    assert.equal(spooled.sha256, createHash('sha256').update('hello world').digest('hex'));
    assert.equal(await readFile(spooled.path, 'utf8'), 'hello world');
    assert.ok(spooled.path.startsWith(spoolDir));
    assert.equal((await stat(spooled.path)).mode & 0o777, 0o600);
  });

  test('accepts a Readable that emits strings', async () => {
    const body = Readable.from([Buffer.from('héllo')]).setEncoding('utf8');
    const spooled = await spoolToFile(body, { dir });
    assert.equal(spooled.size, Buffer.byteLength('héllo'));
    assert.equal(await readFile(spooled.path, 'utf8'), 'héllo');
  });

  test('refuses a body past maxBytes, stops reading it and removes the temp file', async () => {
    let pulled = 0;
    async function* endless(): AsyncGenerator<Uint8Array> {
      for (;;) {
        pulled++;
        yield Buffer.alloc(1024);
      }
    }
    await assert.rejects(
      spoolToFile(endless(), { dir, maxBytes: 4096 }),
      (error: unknown) => error instanceof ModelportError && error.code === 'payload_too_large',
    );
    assert.ok(pulled < 100, `read ${pulled} chunks of an endless body`);
    assert.deepEqual(await readdir(dir), []);
  });

  test('a body that fails midway leaves no file', async () => {
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('partial');
      throw new Error('connection reset');
    }
    await assert.rejects(spoolToFile(failing(), { dir }), /connection reset/);
    assert.deepEqual(await readdir(dir), []);
  });
});
