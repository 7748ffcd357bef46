import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { ModelportError } from '../../core/index.ts';
import { extractArchive, extractCached } from './extract.ts';
import { packFolder, packTar, type TarEntryInput, tarHeader } from './tar-writer.ts';

/** A pax extended header entry carrying `records` (each record's length counts its own digits). */
function pax(records: Record<string, string>, type = 'x'): TarEntryInput {
  let data = '';
  for (const [key, value] of Object.entries(records)) {
    const body = ` ${key}=${value}\n`;
    let length = Buffer.byteLength(body) + 1;
    while (String(length).length + Buffer.byteLength(body) !== length) length++;
    data += `${length}${body}`;
  }
  return { name: 'PaxHeader', type, data };
}

/** A header whose name field holds raw bytes (NUL smuggling). */
function rawNameHeader(name: Buffer, data: string): Buffer {
  const header = tarHeader({ name: 'placeholder', data });
  header.fill(0, 0, 100);
  name.copy(header, 0);
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return Buffer.concat([header, Buffer.from(data.padEnd(512, '\0')), Buffer.alloc(1024)]);
}

const file = (name: string, data = 'x'): TarEntryInput => ({ name, data });

/** Hostile archives: each must be refused with nothing written outside (or inside) the target. */
const VECTORS: [string, Buffer][] = [
  ['parent segment', packTar([file('../evil.txt')])],
  ['nested parent segments', packTar([file('a/../../evil.txt')])],
  ['dot then parent', packTar([file('./../evil.txt')])],
  ['deep parent after folders', packTar([file('a/b/c/../../../../evil.txt')])],
  ['absolute path', packTar([file('/tmp/modelport-abs-evil.txt')])],
  ['double-slash absolute path', packTar([file('//tmp/modelport-abs-evil.txt')])],
  ['drive letter', packTar([file('C:/evil.txt')])],
  ['backslash parent', packTar([file('..\\evil.txt')])],
  ['backslash nested', packTar([file('a\\..\\..\\evil.txt')])],
  ['symlink to /etc', packTar([{ name: 'etc', type: '2', linkname: '/etc' }])],
  ['symlink then a file through it', packTar([{ name: 'up', type: '2', linkname: '..' }, file('up/evil.txt')])],
  ['hard link to /etc/passwd', packTar([{ name: 'passwd', type: '1', linkname: '/etc/passwd' }])],
  ['hard link to a parent file', packTar([{ name: 'h', type: '1', linkname: '../evil.txt' }])],
  ['character device', packTar([{ name: 'null', type: '3' }])],
  ['block device', packTar([{ name: 'sda', type: '4' }])],
  ['FIFO', packTar([{ name: 'pipe', type: '6' }])],
  ['GNU long link name', packTar([{ name: '././@LongLink', type: 'K', data: '/etc/passwd' }, file('x')])],
  ['name with a NUL hiding a parent path', rawNameHeader(Buffer.from('ok.txt\0../../evil.txt'), 'x')],
  ['pax path with a parent segment', packTar([pax({ path: '../pax-evil.txt' }), file('innocent.txt')])],
  ['pax path absolute', packTar([pax({ path: '/tmp/modelport-pax-evil.txt' }), file('innocent.txt')])],
  ['pax path with a NUL', packTar([pax({ path: 'ok\0/../../evil' }), file('innocent.txt')])],
  [
    'GNU long name with parent segments',
    packTar([{ name: '././@LongLink', type: 'L', data: '../../long-evil.txt\0' }, file('innocent.txt')]),
  ],
  ['ustar prefix with a parent segment', packTar([{ name: 'evil.txt', prefix: '..', data: 'x' }])],
  ['control character in a name', packTar([file('a\u0001b.txt')])],
  ['empty name', packTar([file('./')])],
  ['./ then a parent segment', packTar([{ name: './', type: '5' }, file('./../dot-evil.txt')])],
  [
    'a folder ./ that escapes later',
    packTar([
      { name: './', type: '5' },
      { name: './../up/', type: '5' },
    ]),
  ],
  ['huge declared size', packTar([{ name: 'big.bin', size: 0o77777777777 }])],
  ['pax size beyond the limit', packTar([pax({ size: String(2 ** 40) }), file('big.bin')])],
  ['duplicate entry', packTar([file('model.js', 'a'), file('model.js', 'b')])],
  ['file then a folder of the same name', packTar([file('a'), file('a/b.txt')])],
  ['unknown entry type', packTar([{ name: 'z', type: 'Z' }])],
  ['sparse file', packTar([{ name: 's', type: 'S' }])],
];

describe('js model archives', () => {
  let temp: string;

  before(async () => {
    temp = await mkdtemp(join(tmpdir(), 'modelport-tar-'));
  });
  after(() => rm(temp, { recursive: true, force: true }));

  let n = 0;
  const archive = async (bytes: Buffer, gzip = true) => {
    const path = join(temp, `a${n++}.tgz`);
    await writeFile(path, gzip ? gzipSync(bytes) : bytes);
    return path;
  };
  const refused = (error: ModelportError) => {
    assert.equal(error.code, 'invalid_model');
    assert.equal(error.field, 'file');
    assert.match(error.message, /^the model archive is refused: /);
    assert.doesNotMatch(error.message, new RegExp(temp));
    return true;
  };

  test(`${VECTORS.length} hostile archives are all refused, with nothing extracted anywhere`, async () => {
    assert.ok(VECTORS.length >= 30);
    const jail = join(temp, 'jail');
    await mkdir(jail);
    for (const [what, bytes] of VECTORS) {
      const path = await archive(bytes);
      const out = join(jail, 'deep', 'out');
      await mkdir(join(jail, 'deep'), { recursive: true });
      await assert.rejects(extractArchive(path, out), refused, what);
      assert.deepEqual(await readdir(join(jail, 'deep')), [], `${what}: the target folder is removed`);
      assert.deepEqual((await readdir(jail)).sort(), ['deep'], `${what}: nothing beside the target`);
      assert.equal(
        (await readdir(temp)).some((f) => /evil/.test(f)),
        false,
        `${what}: nothing in the parent`,
      );
    }
    for (const outside of ['/tmp/modelport-abs-evil.txt', '/tmp/modelport-pax-evil.txt']) {
      assert.equal(await stat(outside).catch(() => undefined), undefined);
    }
  });

  test('limits: too many entries, a gzip bomb, truncation, a bad checksum, plain tar', async () => {
    const many = packTar(Array.from({ length: 6 }, (_, i) => file(`f${i}.txt`)));
    await assert.rejects(
      extractArchive(await archive(many), join(temp, 'o1'), { maxEntries: 5 }),
      (e: ModelportError) => refused(e) && /more than 5 entries/.test(e.message),
    );
    const bomb = packTar([{ name: 'zeros.bin', data: Buffer.alloc(4 * 1024 * 1024) }]);
    assert.ok(gzipSync(bomb).length < 64 * 1024);
    await assert.rejects(
      extractArchive(await archive(bomb), join(temp, 'o2'), { maxBytes: 1024 * 1024 }),
      (e: ModelportError) => refused(e) && /larger than the limit|more than 1048576 bytes/.test(e.message),
    );
    const whole = packTar([file('model.js', 'x'.repeat(2000))]);
    await assert.rejects(
      extractArchive(await archive(whole.subarray(0, 1536)), join(temp, 'o3')),
      (e: ModelportError) => refused(e) && /truncated/.test(e.message),
    );
    const corrupt = Buffer.from(whole);
    corrupt[10] = 0x41;
    await assert.rejects(
      extractArchive(await archive(corrupt), join(temp, 'o4')),
      (e: ModelportError) => refused(e) && /checksum/.test(e.message),
    );
    await assert.rejects(
      extractArchive(await archive(whole, false), join(temp, 'o5')),
      (e: ModelportError) => refused(e) && /gzip/.test(e.message),
    );
    for (const o of ['o1', 'o2', 'o3', 'o4', 'o5'])
      assert.equal(await stat(join(temp, o)).catch(() => undefined), undefined);
  });

  test('a good archive extracts files and folders, long names in each form, and nothing else', async () => {
    const long = `${'d'.repeat(60)}/${'e'.repeat(60)}/model-data.json`;
    const paxName = `${'p'.repeat(120)}/${'q'.repeat(120)}.txt`;
    const gnuName = `${'g'.repeat(150)}.txt`;
    const bytes = packTar([
      { name: 'lib/', type: '5' },
      file('./lib/util.js', 'export const one = 1;\n'),
      file('index.js', 'export function predict() {}\n'),
      { name: long.slice(long.lastIndexOf('/') + 1), prefix: long.slice(0, long.lastIndexOf('/')), data: '{}' },
      pax({ path: paxName }),
      file('ignored-name', 'pax'),
      { name: '././@LongLink', type: 'L', data: `${gnuName}\0` },
      file('ignored-too', 'gnu'),
      { name: 'empty/', type: '5' },
    ]);
    const out = join(temp, 'good');
    await extractArchive(await archive(bytes), out);
    assert.equal(await readFile(join(out, 'lib', 'util.js'), 'utf8'), 'export const one = 1;\n');
    assert.equal(await readFile(join(out, long), 'utf8'), '{}');
    assert.equal(await readFile(join(out, paxName), 'utf8'), 'pax');
    assert.equal(await readFile(join(out, gnuName), 'utf8'), 'gnu');
    assert.ok((await stat(join(out, 'empty'))).isDirectory());
    assert.deepEqual((await readdir(out)).sort(), [
      'd'.repeat(60),
      'empty',
      gnuName,
      'index.js',
      'lib',
      'p'.repeat(120),
    ]);
  });

  test('an archive packed the usual way (tar czf m.tgz -C dir .) extracts: its ./ entries are the folder itself', async () => {
    const src = join(temp, 'usual');
    await mkdir(join(src, 'lib'), { recursive: true });
    await writeFile(join(src, 'index.js'), 'export const predict = () => ({});\n');
    await writeFile(join(src, 'lib', 'util.js'), 'export const one = 1;\n');
    const tgz = join(temp, 'usual.tgz');
    execFileSync('tar', ['czf', tgz, '-C', src, '.']);
    assert.match(execFileSync('tar', ['tzf', tgz], { encoding: 'utf8' }), /^\.\/\n/, 'tar wrote a ./ entry first');
    const out = join(temp, 'usual-out');
    await extractArchive(tgz, out);
    assert.deepEqual((await readdir(out)).sort(), ['index.js', 'lib']);
    assert.equal(await readFile(join(out, 'lib', 'util.js'), 'utf8'), 'export const one = 1;\n');
  });

  test('packFolder round-trips through extractCached, once per content, under concurrency', async () => {
    const src = join(temp, 'src-model');
    await mkdir(join(src, 'weights'), { recursive: true });
    await writeFile(join(src, 'index.js'), 'export const predict = () => ({});\n');
    await writeFile(join(src, 'weights', 'w.bin'), Buffer.from([1, 2, 3, 255]));
    const tgz = join(temp, 'packed.tgz');
    await packFolder(src, tgz);
    const cache = join(temp, 'cache');
    const dirs = await Promise.all([1, 2, 3, 4].map(() => extractCached(tgz, cache)));
    assert.equal(new Set(dirs).size, 1);
    assert.match(dirs[0]!, /[0-9a-f]{64}$/);
    assert.deepEqual(await readFile(join(dirs[0]!, 'weights', 'w.bin')), Buffer.from([1, 2, 3, 255]));
    assert.deepEqual(await readdir(cache), [dirs[0]!.slice(cache.length + 1)], 'no temp folder left behind');
  });
});
