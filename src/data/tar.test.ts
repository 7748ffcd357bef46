import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type TarFile, tarSize, writeTar } from '../client/index.ts';
import { checkDataPath, ModelportError } from '../core/index.ts';
import { readTar } from './tar.ts';

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of source) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

async function entries(tar: Buffer, chunk = 333): Promise<[string, string][]> {
  async function* pieces() {
    for (let i = 0; i < tar.length; i += chunk) yield tar.subarray(i, i + chunk);
  }
  const out: [string, string][] = [];
  for await (const entry of readTar(pieces())) {
    out.push([entry.path, (entry.size > 10 ? await collect(entry.body) : await entry.read()).toString()]);
  }
  return out;
}

const file = (path: string, text: string): TarFile => ({
  path,
  size: Buffer.byteLength(text),
  async *open() {
    yield Buffer.from(text);
  },
});

test('what writeTar writes, readTar and GNU tar read back (long and non-ASCII paths, empty files)', async () => {
  const long = `${'deep/'.repeat(30)}file.csv`;
  const files = [file('a.txt', 'hello'), file(long, 'a,b\n1,2\n'), file('é/ü.txt', 'umlaut'), file('empty', '')];
  const tar = await collect(writeTar(files));
  assert.equal(tar.length, tarSize(files), 'tarSize is the exact length');
  assert.deepEqual(await entries(tar), [
    ['a.txt', 'hello'],
    [long, 'a,b\n1,2\n'],
    ['é/ü.txt', 'umlaut'],
    ['empty', ''],
  ]);
  const dir = await mkdtemp(join(tmpdir(), 'modelport-tar-'));
  try {
    await writeFile(join(dir, 'x.tar'), tar);
    const listed = execFileSync('tar', ['-tf', join(dir, 'x.tar')], { encoding: 'utf8' })
      .trim()
      .split('\n');
    assert.deepEqual(listed, ['a.txt', long, 'é/ü.txt', 'empty']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('readTar takes GNU tar output, skips folders, and refuses links and non-tar bodies', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'modelport-tar-'));
  try {
    await mkdir(join(dir, 'in', 'sub'), { recursive: true });
    await writeFile(join(dir, 'in', 'sub', 'b.txt'), 'bee');
    const plain = execFileSync('tar', ['-c', '-C', join(dir, 'in'), '.']);
    assert.deepEqual(await entries(plain), [['sub/b.txt', 'bee']]);
    await symlink('sub/b.txt', join(dir, 'in', 'link'));
    const linked = execFileSync('tar', ['-c', '-C', join(dir, 'in'), '.']);
    await assert.rejects(
      entries(linked),
      (e: unknown) => e instanceof ModelportError && e.field === 'body' && /link or special file/.test(e.message),
    );
    await assert.rejects(entries(Buffer.alloc(1024, 65)), /not a tar archive/);
    await assert.rejects(entries(plain.subarray(0, 700)), /ends in the middle of an entry/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('data paths: relative, normalised, and every refusal names the field', () => {
  assert.equal(checkDataPath('data/train.csv', 'path'), 'data/train.csv');
  assert.equal(checkDataPath('data/', 'path'), 'data');
  for (const [bad, why] of [
    ['../x', "contains '..'"],
    ['a/../../x', "contains '..'"],
    ['/etc/passwd', 'is absolute'],
    ['a\u0000b', 'NUL or control'],
    ['a\nb', 'NUL or control'],
    ['a//b', 'empty or'],
    ['./a', "'.' segment"],
    ['a\\b', 'backslash'],
    ['', 'is empty'],
    ['x'.repeat(1100), 'longer than 1024'],
  ] as const) {
    assert.throws(
      () => checkDataPath(bad, 'query.path'),
      (e: unknown) => e instanceof ModelportError && e.field === 'query.path' && e.message.includes(why),
      JSON.stringify(bad),
    );
  }
});
