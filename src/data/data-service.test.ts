import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { ModelportError } from '../core/index.ts';
import { BlobGuard, collectGarbage } from '../gc/index.ts';
import { type ArtifactRef, FolderArtifactStore } from '../store/index.ts';
import { forEachMetadataStore } from '../store/metadata/metadata-store.conformance.ts';
import { DataService } from './data-service.ts';
import { listEvents } from './events.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelport-data-'));
});
after(() => rm(dir, { recursive: true, force: true }));

const isError = (code: string, field?: string) => (e: unknown) =>
  e instanceof ModelportError && e.code === code && (field === undefined || e.field === field);

/** A folder store whose next putMany waits until released: lets a test hold one commit mid-way. */
class GatedStore extends FolderArtifactStore {
  gate: { reached: () => void; release: Promise<void> } | undefined;
  override async putMany(
    bodies: readonly Uint8Array[],
    options?: { onHashed?: (refs: ArtifactRef[]) => Promise<void> },
  ): Promise<ArtifactRef[]> {
    const gate = this.gate;
    if (gate) {
      this.gate = undefined;
      gate.reached();
      await gate.release;
    }
    return super.putMany(bodies, options);
  }
}

forEachMetadataStore('data service', (open) => {
  async function setup() {
    const store = await open();
    const artifacts = new GatedStore(await mkdtemp(join(dir, 'artifacts-')));
    const guard = new BlobGuard(store);
    const data = new DataService({ store, artifacts, guard });
    await data.createRepo('default', 'images', { author: 'ann' });
    const put = async (path: string, text: string) => ({
      path,
      ...(await data.storeFile(Readable.from([Buffer.from(text)]))),
    });
    return { store, artifacts, guard, data, put };
  }

  /** Starts a commit, holds it while it stores its tree, and returns a function that lets it finish. */
  async function held(artifacts: GatedStore, start: () => Promise<unknown>) {
    let reached!: () => void;
    let release!: () => void;
    const atGate = new Promise<void>((resolve) => {
      reached = resolve;
    });
    artifacts.gate = { reached, release: new Promise<void>((resolve) => (release = resolve)) };
    const pending = start();
    await atGate;
    return async () => {
      release();
      return pending;
    };
  }

  test('racing commits on different paths both land: the second is rebased onto the first', async () => {
    const { data, artifacts, put, store } = await setup();
    await data.commit('default', 'images', { puts: [await put('base.txt', 'base')], message: 'base', author: 'ann' });
    const a = await put('a.txt', 'from a');
    const b = await put('b.txt', 'from b');
    const finishA = await held(artifacts, () =>
      data.commit('default', 'images', { puts: [a], message: 'a', author: 'ann' }),
    );
    const landedB = await data.commit('default', 'images', { puts: [b], message: 'b', author: 'bob' });
    const landedA = (await finishA()) as Awaited<ReturnType<DataService['commit']>>;
    assert.equal(landedB.rebased, 0);
    assert.equal(landedA.rebased, 1, 'a was rebased onto b');
    assert.deepEqual(landedA.commit.parents, [landedB.commit.id]);
    const log = await data.log('default', 'images', 'main');
    assert.deepEqual(
      log.map((c) => c.message),
      ['a', 'b', 'base'],
    );
    const tree = await data.tree('default', 'images', 'main', '', false);
    assert.deepEqual(
      tree.entries.map((e) => e.path),
      ['a.txt', 'b.txt', 'base.txt'],
    );
    const events = await listEvents(store.db, { type: 'data.commit' });
    assert.deepEqual(
      events.map((e) => e.payload['message']),
      ['base', 'b', 'a'],
      'events in commit order',
    );
    assert.deepEqual(
      events.map((e) => e.id),
      [1, 2, 3],
    );
  });

  test('racing commits on the same path: the second fails with conflict and nothing is lost', async () => {
    const { data, artifacts, put } = await setup();
    await data.commit('default', 'images', { puts: [await put('x/labels.csv', 'v1')], message: 'v1', author: 'ann' });
    const mine = await put('x/labels.csv', 'mine');
    const theirs = await put('x/labels.csv', 'theirs');
    const finish = await held(artifacts, () =>
      data.commit('default', 'images', { puts: [mine], message: 'mine', author: 'ann' }),
    );
    const won = await data.commit('default', 'images', { puts: [theirs], message: 'theirs', author: 'bob' });
    await assert.rejects(finish(), isError('conflict', 'branch'));
    const head = await data.resolveCommit('default', 'images', 'main');
    assert.equal(head.id, won.commit.id, 'the winner stays the head');
    // A folder delete racing with a change inside that folder conflicts too.
    const finish2 = await held(artifacts, () =>
      data.commit('default', 'images', { deletes: ['x'], message: 'rm x', author: 'ann' }),
    );
    await data.commit('default', 'images', { puts: [await put('x/new.csv', 'new')], message: 'new', author: 'bob' });
    await assert.rejects(finish2(), isError('conflict'));
  });

  test('expect turns a moved branch into conflict instead of a rebase', async () => {
    const { data, put } = await setup();
    const first = await data.commit('default', 'images', {
      puts: [await put('a', '1')],
      message: 'one',
      author: 'ann',
    });
    await data.commit('default', 'images', { puts: [await put('b', '2')], message: 'two', author: 'ann' });
    await assert.rejects(
      data.commit('default', 'images', {
        puts: [await put('c', '3')],
        message: 'three',
        author: 'ann',
        expect: first.commit.id,
      }),
      isError('conflict', 'expect'),
    );
    assert.equal((await data.log('default', 'images', 'main')).length, 2);
  });

  test('refs: branch~N, tags, id prefixes; commit ids are content hashes', async () => {
    const { data, put } = await setup();
    const one = await data.commit('default', 'images', { puts: [await put('a', '1')], message: 'one', author: 'ann' });
    const two = await data.commit('default', 'images', { puts: [await put('a', '2')], message: 'two', author: 'ann' });
    assert.equal((await data.resolveCommit('default', 'images', 'main~1')).id, one.commit.id);
    assert.equal((await data.resolveCommit('default', 'images', two.commit.id.slice(0, 8))).id, two.commit.id);
    await data.createTag('default', 'images', 'v1', 'main~1', 'ann');
    assert.equal((await data.resolveCommit('default', 'images', 'v1')).id, one.commit.id);
    await assert.rejects(data.resolveCommit('default', 'images', 'main~5'), isError('not_found'));
    await assert.rejects(data.resolveCommit('default', 'images', 'deadbeef'), isError('not_found'));
    await assert.rejects(data.createTag('default', 'images', 'v1', 'main', 'ann'), isError('already_exists'));
    const same = await data.commit('default', 'images', {
      puts: [await put('a', '2')],
      message: 'again',
      author: 'ann',
    });
    assert.equal(same.created, false, 'putting identical content makes no commit');
    const diff = await data.diff('default', 'images', 'v1', 'main');
    assert.deepEqual(
      diff.changed.map((e) => [e.path, e.oldSize, e.size]),
      [['a', 1, 1]],
    );
  });

  test('gc keeps what branches, tags and young commits name, and removes the rest', async () => {
    const { data, put, store, artifacts, guard } = await setup();
    const gc = (graceMs: number) =>
      collectGarbage({ db: store.db, artifacts, guard, treeFiles: (t) => data.treeFiles(t) }, { graceMs });
    await data.commit('default', 'images', { puts: [await put('keep.txt', 'keep')], message: 'keep', author: 'ann' });
    await data.createBranch('default', 'images', 'scratch');
    await data.commit('default', 'images', {
      branch: 'scratch',
      puts: [await put('tmp.txt', 'only on scratch')],
      message: 's',
      author: 'ann',
    });
    const orphan = await data.storeFile(Readable.from([Buffer.from('never committed')]));
    // Everything is young: nothing goes.
    assert.equal((await gc(60_000)).blobsDeleted, 0);
    await data.deleteBranch('default', 'images', 'scratch');
    const report = await gc(0);
    assert.equal(report.commitsDeleted, 1, 'the scratch commit is unreachable');
    assert.equal(report.blobsDeleted, 3, "scratch's file, its tree, and the orphan");
    assert.equal(await artifacts.has(orphan.sha256), false);
    const got = await data.openFile('default', 'images', 'main', 'keep.txt');
    const chunks: Buffer[] = [];
    for await (const c of got.stream) chunks.push(c as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), 'keep');
  });

  test('gc spares a blob a writer claimed within the grace period, even one written long ago', async () => {
    const { store, artifacts } = await setup();
    // The store's file says "written now"; the sweep runs two hours later with a one-hour grace, so only the
    // writer's claim (stamped at that later time, as a writer reusing an old blob would stamp it) can save it.
    const later = new Date(Date.now() + 2 * 3600_000);
    const claimingGuard = new BlobGuard(store, () => later);
    const writer = new DataService({ store, artifacts, guard: claimingGuard });
    const claimed = await writer.storeFile(Readable.from([Buffer.from('claimed by a writer in progress')]));
    const plainGuard = new BlobGuard(store);
    const unclaimed = await new DataService({ store, artifacts, guard: plainGuard }).storeFile(
      Readable.from([Buffer.from('nobody wants this')]),
    );
    await store.db.deleteFrom('blob_touches').where('sha256', '=', unclaimed.sha256).execute();
    const report = await collectGarbage(
      { db: store.db, artifacts, guard: plainGuard, treeFiles: async () => [], now: () => later },
      { graceMs: 3600_000 },
    );
    assert.equal(report.blobsDeleted, 1);
    assert.equal(await artifacts.has(claimed.sha256), true, 'the claimed blob survives');
    assert.equal(await artifacts.has(unclaimed.sha256), false);
  });

  test('bad input names the field and changes nothing', async () => {
    const { data, put } = await setup();
    const file = await put('ok', 'x');
    await assert.rejects(
      data.commit('default', 'images', { puts: [], message: 'm', author: 'a' }),
      isError('invalid_request', 'body'),
    );
    await assert.rejects(
      data.commit('default', 'images', { puts: [file], message: ' ', author: 'a' }),
      isError('invalid_request', 'message'),
    );
    await assert.rejects(
      data.commit('default', 'images', { deletes: ['ghost'], message: 'm', author: 'a' }),
      isError('not_found', 'deletes'),
    );
    await assert.rejects(data.createRepo('default', 'Not_DNS!', { author: 'a' }), isError('invalid_request', 'name'));
    await assert.rejects(data.createRepo('default', 'images', { author: 'a' }), isError('already_exists', 'name'));
    await data.commit('default', 'images', { puts: [{ ...file, path: 'a' }], message: 'm', author: 'a' });
    await assert.rejects(
      data.commit('default', 'images', { puts: [{ ...file, path: 'a/b' }], message: 'm', author: 'a' }),
      isError('conflict', 'path'),
    );
    assert.equal((await data.log('default', 'images', 'main')).length, 1);
  });
});
