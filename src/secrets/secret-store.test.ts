import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inspect } from 'node:util';
import { ModelportError } from '../core/index.ts';
import { forEachMetadataStore } from '../store/metadata/metadata-store.conformance.ts';
import { generateSecretKey } from './secret-key.ts';
import { SecretStore } from './secret-store.ts';
import { SecretValue } from './secret-value.ts';

const CANARY = 'canary-7f3a9c-do-not-print';

const isError = (code: string, field?: string) => (e: unknown) =>
  e instanceof ModelportError &&
  e.code === code &&
  (field === undefined || e.field === field) &&
  !e.message.includes(CANARY) &&
  !JSON.stringify(e).includes(CANARY);

test('a SecretValue prints as [secret] in every way but reveal()', () => {
  const value = new SecretValue(CANARY);
  const holder = { token: value, list: [value] };
  for (const text of [
    String(value),
    `${value}`,
    `${value}` + '',
    JSON.stringify(holder),
    inspect(holder, { depth: 5, showHidden: true }),
    inspect(value),
  ]) {
    assert.ok(!text.includes(CANARY), text);
    assert.match(text, /\[secret\]/);
  }
  assert.equal(value.reveal(), CANARY);
});

test('a SecretKey prints its id, never its bytes', () => {
  const key = generateSecretKey();
  const exported = key.export();
  for (const text of [String(key), JSON.stringify({ key }), inspect(key, { showHidden: true })]) {
    assert.ok(!text.includes(exported));
    assert.ok(text.includes(key.id));
  }
});

test('seal uses a fresh nonce each time, and the tag binds project and name', () => {
  const key = generateSecretKey();
  const nonces = new Set<string>();
  for (let i = 0; i < 1000; i++) nonces.add(key.seal('same value', 'p', 'N').nonce);
  assert.equal(nonces.size, 1000);
  const sealed = key.seal(CANARY, 'p', 'N');
  assert.equal(key.open(sealed, 'p', 'N'), CANARY);
  assert.equal(key.open(sealed, 'p', 'OTHER'), undefined);
  assert.equal(key.open(sealed, 'q', 'N'), undefined);
  assert.equal(generateSecretKey().open(sealed, 'p', 'N'), undefined);
});

forEachMetadataStore('secret store', (open) => {
  const setup = async () => {
    const store = await open();
    const key = generateSecretKey();
    let tick = 0;
    const secrets = new SecretStore({ store, key, now: () => new Date(Date.UTC(2025, 0, 1, 0, 0, tick++)) });
    return { store, key, secrets };
  };

  test('set, list (names only), resolve, replace, delete', async () => {
    const { secrets } = await setup();
    const first = await secrets.set('default', 'API_TOKEN', CANARY);
    assert.deepEqual(first, {
      name: 'API_TOKEN',
      createdAt: '2025-01-01T00:00:00.000Z',
      updatedAt: '2025-01-01T00:00:00.000Z',
      created: true,
    });
    await secrets.set('default', 'DB_PASSWORD', new SecretValue('pw'));
    const listed = await secrets.list('default');
    assert.deepEqual(
      listed.map((s) => s.name),
      ['API_TOKEN', 'DB_PASSWORD'],
    );
    assert.ok(!JSON.stringify(listed).includes(CANARY));

    const resolved = await secrets.resolve('default', ['API_TOKEN', 'DB_PASSWORD', 'API_TOKEN']);
    assert.equal(resolved.get('API_TOKEN')?.reveal(), CANARY);
    assert.equal(resolved.get('DB_PASSWORD')?.reveal(), 'pw');
    assert.ok(!inspect(resolved).includes(CANARY));

    const replaced = await secrets.set('default', 'API_TOKEN', 'v2');
    assert.equal(replaced.created, false);
    assert.equal(replaced.createdAt, first.createdAt);
    assert.notEqual(replaced.updatedAt, first.updatedAt);
    assert.equal((await secrets.resolve('default', ['API_TOKEN'])).get('API_TOKEN')?.reveal(), 'v2');

    await secrets.delete('default', 'API_TOKEN');
    assert.deepEqual(
      (await secrets.list('default')).map((s) => s.name),
      ['DB_PASSWORD'],
    );
    await assert.rejects(secrets.delete('default', 'API_TOKEN'), isError('not_found', 'name'));
    await assert.rejects(secrets.resolve('default', ['API_TOKEN', 'NOPE']), (e: unknown) => {
      assert.ok(e instanceof ModelportError && e.code === 'not_found');
      assert.match(e.message, /'API_TOKEN', 'NOPE'/);
      return true;
    });
    await assert.rejects(secrets.list('nope'), isError('not_found', 'project'));
    await assert.rejects(secrets.set('nope', 'X', 'y'), isError('not_found', 'project'));
  });

  test('refuses bad names and values without echoing the value', async () => {
    const { secrets } = await setup();
    for (const name of ['lower', '1ABC', 'A-B', '', 'A'.repeat(129), 'Ü']) {
      await assert.rejects(secrets.set('default', name, CANARY), isError('invalid_request', 'name'));
    }
    await assert.rejects(secrets.set('default', 'EMPTY', ''), isError('invalid_request', 'value'));
    const tooBig = CANARY + 'x'.repeat(64 * 1024);
    await assert.rejects(secrets.set('default', 'BIG', tooBig), isError('invalid_request', 'value'));
    await secrets.set('default', 'MAX', 'é'.repeat(32 * 1024)); // 64 KiB of UTF-8 exactly
    assert.deepEqual(
      (await secrets.list('default')).map((s) => s.name),
      ['MAX'],
    );
  });

  test('a flipped byte, a moved ciphertext or a wrong key fail clearly, without the value', async () => {
    const { store, key, secrets } = await setup();
    await secrets.set('default', 'A', CANARY);
    await secrets.set('default', 'B', 'other value');
    const rowOf = (name: string) =>
      store.db.selectFrom('secrets').selectAll().where('name', '=', name).executeTakeFirstOrThrow();

    const a = await rowOf('A');
    const bytes = Buffer.from(a.ciphertext, 'base64');
    bytes[0] = (bytes[0] ?? 0) ^ 1;
    await store.db
      .updateTable('secrets')
      .set({ ciphertext: bytes.toString('base64') })
      .where('name', '=', 'A')
      .execute();
    await assert.rejects(secrets.resolve('default', ['A']), (e: unknown) => {
      assert.ok(isError('secret_unreadable')(e));
      assert.match((e as Error).message, /secret 'A' in project 'default' cannot be decrypted.*does not verify/);
      return true;
    });

    // B's ciphertext copied into A's row: valid under the key, but bound to B's name.
    const b = await rowOf('B');
    await store.db
      .updateTable('secrets')
      .set({ ciphertext: b.ciphertext, nonce: b.nonce })
      .where('name', '=', 'A')
      .execute();
    await assert.rejects(secrets.resolve('default', ['A']), isError('secret_unreadable'));
    assert.equal((await secrets.resolve('default', ['B'])).get('B')?.reveal(), 'other value');

    const stranger = new SecretStore({ store, key: generateSecretKey() });
    await assert.rejects(stranger.resolve('default', ['B']), (e: unknown) => {
      assert.ok(isError('secret_unreadable')(e));
      assert.match((e as Error).message, new RegExp(`written with key ${key.id}`));
      return true;
    });
  });

  test('nonces are unique across 1000 writes', async () => {
    const { store, secrets } = await setup();
    const nonces = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      await secrets.set('default', `S${i % 10}`, 'same value every time');
      if (i % 10 === 9) {
        const rows = await store.db.selectFrom('secrets').select('nonce').execute();
        for (const row of rows) nonces.add(row.nonce);
      }
    }
    assert.equal(nonces.size, 1000);
  });

  test('rotate re-encrypts every secret of every project; the old key no longer decrypts', async () => {
    const { store, key, secrets } = await setup();
    await store.db
      .insertInto('projects')
      .values({ id: 'p2-id', name: 'p2', created_at: new Date().toISOString() })
      .execute();
    await secrets.set('default', 'A', CANARY);
    await secrets.set('default', 'B', 'b');
    await secrets.set('p2', 'A', 'p2 a');
    const before = await store.db.selectFrom('secrets').selectAll().orderBy('name').execute();

    const newKey = generateSecretKey();
    assert.deepEqual(await secrets.rotate(newKey), { rotated: 3, keyId: newKey.id });
    assert.equal(secrets.keyId, newKey.id);
    const after = await store.db.selectFrom('secrets').selectAll().orderBy('name').execute();
    assert.ok(after.every((row) => row.key_id === newKey.id));
    for (const row of after) {
      const old = before.find((r) => r.name === row.name && r.project_id === row.project_id);
      assert.notEqual(row.ciphertext, old?.ciphertext);
      assert.notEqual(row.nonce, old?.nonce);
    }
    assert.equal((await secrets.resolve('default', ['A'])).get('A')?.reveal(), CANARY);
    assert.equal((await secrets.resolve('p2', ['A'])).get('A')?.reveal(), 'p2 a');
    await assert.rejects(new SecretStore({ store, key }).resolve('default', ['A']), isError('secret_unreadable'));

    // A row that does not decrypt stops the rotation and leaves every row as it was.
    await store.db
      .updateTable('secrets')
      .set({ nonce: Buffer.alloc(12).toString('base64') })
      .where('name', '=', 'B')
      .execute();
    const frozen = await store.db.selectFrom('secrets').selectAll().orderBy('name').execute();
    await assert.rejects(secrets.rotate(generateSecretKey()), isError('secret_unreadable'));
    assert.deepEqual(await store.db.selectFrom('secrets').selectAll().orderBy('name').execute(), frozen);
    assert.equal(secrets.keyId, newKey.id);
  });

  test('the stored table never holds the value', async () => {
    const { store, secrets } = await setup();
    await secrets.set('default', 'CANARY', CANARY);
    await secrets.rotate(generateSecretKey());
    const dump = JSON.stringify(await store.db.selectFrom('secrets').selectAll().execute());
    assert.ok(dump.includes('CANARY'));
    assert.ok(!dump.includes(CANARY));
    assert.ok(!dump.includes(Buffer.from(CANARY).toString('base64')));
    assert.ok(!dump.includes(Buffer.from(CANARY).toString('hex')));
  });
});
