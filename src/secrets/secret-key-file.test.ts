import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ModelportError } from '../core/index.ts';
import { openMetadataStore } from '../store/index.ts';
import { generateSecretKey } from './secret-key.ts';
import { keyRotator, loadSecretKey } from './secret-key-file.ts';
import { SecretStore, secretKeyInUse } from './secret-store.ts';

describe('secret key source', () => {
  let dir: string;
  let n = 0;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'modelport-secret-key-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));
  const fresh = () => join(dir, `home${n++}`, 'secret.key');
  const never = async () => false;

  test('creates the key file with mode 0600 on first start and reads it after', async () => {
    const file = fresh();
    const first = await loadSecretKey({ key: undefined, file, inUse: never });
    assert.equal(first.created, true);
    assert.equal(first.origin, 'file');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const second = await loadSecretKey({ key: undefined, file, inUse: never });
    assert.equal(second.created, false);
    assert.equal(second.key.id, first.key.id);
  });

  test('MODELPORT_SECRET_KEY wins over the file; a bad one is refused without echoing it', async () => {
    const key = generateSecretKey();
    const hex = Buffer.from(key.export(), 'base64').toString('hex');
    const file = fresh();
    const source = await loadSecretKey({ key: hex, file, inUse: never });
    assert.equal(source.origin, 'env');
    assert.equal(source.key.id, key.id);
    await assert.rejects(stat(file), { code: 'ENOENT' });
    await assert.rejects(
      loadSecretKey({ key: 'not-a-key-canary', file, inUse: never }),
      (e: unknown) => e instanceof ModelportError && e.code === 'invalid_config' && !e.message.includes('canary'),
    );
  });

  test('refuses a key file that others can read', async () => {
    const file = fresh();
    await loadSecretKey({ key: undefined, file, inUse: never });
    await chmod(file, 0o644);
    await assert.rejects(
      loadSecretKey({ key: undefined, file, inUse: never }),
      (e: unknown) => e instanceof ModelportError && e.code === 'invalid_config' && /chmod 600/.test(e.message),
    );
  });

  test('rotation with a key file replaces the file; an interrupted one is finished or dropped at start', async () => {
    const home = join(dir, `home${n++}`);
    const store = await openMetadataStore({ home });
    try {
      const file = join(home, 'secret.key');
      const inUse = (id: string) => secretKeyInUse(store.db, id);
      const source = await loadSecretKey({ key: undefined, file, inUse });
      const secrets = new SecretStore({ store, key: source.key });
      await secrets.set('default', 'A', 'a');
      const rotate = keyRotator(secrets, source);
      const result = await rotate();
      assert.equal(result.rotated, 1);
      assert.notEqual(result.keyId, source.key.id);
      const reloaded = await loadSecretKey({ key: undefined, file, inUse });
      assert.equal(reloaded.key.id, result.keyId);
      assert.equal(
        (await new SecretStore({ store, key: reloaded.key }).resolve('default', ['A'])).get('A')?.reveal(),
        'a',
      );

      // A crash after writing <file>.next but before the transaction: the next file is dropped.
      const stale = generateSecretKey();
      await writeFile(`${file}.next`, stale.export(), { mode: 0o600 });
      assert.equal((await loadSecretKey({ key: undefined, file, inUse })).key.id, result.keyId);
      await assert.rejects(stat(`${file}.next`), { code: 'ENOENT' });

      // A crash after the commit but before the rename: the next file becomes the key.
      const committed = generateSecretKey();
      await writeFile(`${file}.next`, committed.export(), { mode: 0o600 });
      await secrets.rotate(committed);
      assert.equal((await loadSecretKey({ key: undefined, file, inUse })).key.id, committed.id);
      assert.equal((await readFile(file, 'utf8')).trim(), committed.export());
    } finally {
      await store.close();
    }
  });

  test('rotation with MODELPORT_SECRET_KEY needs the new key in the request', async () => {
    const home = join(dir, `home${n++}`);
    const store = await openMetadataStore({ home });
    try {
      const source = await loadSecretKey({ key: generateSecretKey().export(), file: join(home, 'k'), inUse: never });
      const secrets = new SecretStore({ store, key: source.key });
      const rotate = keyRotator(secrets, source);
      await assert.rejects(rotate(), (e: unknown) => e instanceof ModelportError && e.field === 'newKey');
      await assert.rejects(
        rotate(source.key.export()),
        (e: unknown) => e instanceof ModelportError && /current key/.test(e.message),
      );
      const next = generateSecretKey();
      assert.deepEqual(await rotate(next.export()), { rotated: 0, keyId: next.id, origin: 'env' });
      await assert.rejects(stat(join(home, 'k')), { code: 'ENOENT' });
    } finally {
      await store.close();
    }
  });
});
