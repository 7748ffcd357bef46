import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { ModelportError } from '../core/index.ts';
import { forEachMetadataStore } from '../store/metadata/metadata-store.conformance.ts';
import { AuthStore } from './auth-store.ts';
import { LocalAuthorizer, TokenAuthorizer } from './authorizer.ts';
import { deploymentOf, inferenceGuard } from './inference-guard.ts';
import { TokenHasher } from './token.ts';

const code = (c: string) => (e: unknown) => e instanceof ModelportError && e.code === c;

test('the deployment of a model name is the part before @', () => {
  assert.deepEqual(['fraud', 'fraud@canary', 'fraud@3', '@x'].map(deploymentOf), ['fraud', 'fraud', 'fraud', '']);
});

test('with auth off the guard lets everything through', () => {
  const guard = inferenceGuard(new LocalAuthorizer(), { project: 'default', isOpen: () => false });
  assert.equal(guard({ headers: {} }, 'fraud'), undefined);
});

forEachMetadataStore('inference guard', (open) => {
  test('open deployments need no token; others need infer on the deployment; cached calls stay synchronous', async () => {
    const store = await open();
    const auth = new AuthStore({ store, hasher: new TokenHasher(randomBytes(32)) });
    const authorizer = new TokenAuthorizer({ store: auth });
    const guard = inferenceGuard(authorizer, { project: 'default', isOpen: (d) => d === 'public' });
    await auth.createUser('eddie');
    await auth.addMember('default', { kind: 'user', name: 'eddie' }, 'editor');
    await auth.createUser('vera');
    await auth.addMember('default', { kind: 'user', name: 'vera' }, 'viewer');
    const editor = {
      headers: { authorization: `Bearer ${(await auth.createToken({ user: 'eddie', name: 't' })).token}` },
    };
    const viewer = {
      headers: { authorization: `Bearer ${(await auth.createToken({ user: 'vera', name: 't' })).token}` },
    };

    assert.equal(guard({ headers: {} }, 'public@canary'), undefined);
    await assert.rejects(async () => guard({ headers: {} }, 'fraud'), code('unauthenticated'));
    await assert.rejects(async () => guard({ headers: {} }, undefined), code('unauthenticated'));
    await guard(editor, 'fraud');
    assert.equal(guard(editor, 'fraud@3'), undefined, 'a cached token is checked without a promise');
    await guard(viewer, undefined);
    await assert.rejects(async () => guard(viewer, 'fraud'), code('forbidden'));
    const twice = { ...editor, rawHeaders: ['Authorization', editor.headers.authorization, 'authorization', 'x'] };
    await assert.rejects(async () => guard(twice, 'fraud'), code('unauthenticated'));
  });
});
