/**
 * The one conformance suite every backend passes (the contract is src/deployments/backend.ts). Each backend's test
 * file calls `backendConformance` with a harness that opens the backend on real parts (local: a model host and
 * registry; kubernetes: the fake API server; compose: a temp folder) and says how to observe it. Test-only.
 *
 * ```ts
 * backendConformance('compose', async () => ({ backend, plan, failing, refused, serving, made, yamlFiles, close }));
 * ```
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { ModelportError } from '../core/index.ts';
import type { Backend, RevisionPlan } from '../deployments/index.ts';

export interface GeneratedFile {
  path: string;
  content: string;
}

export interface BackendUnderTest {
  backend: Backend;
  /** A plan the backend applies; `variant` 2 differs from 1 (another model version), so a revision can change. */
  plan(name: string, revision: number, variant?: 1 | 2): RevisionPlan;
  /**
   * A plan whose apply fails on this backend for a reason outside the spec's shape (a model that cannot be loaded
   * or bound), and the reason the result must give.
   */
  failing(name: string, revision: number): { plan: RevisionPlan; reason: string };
  /** A plan this backend refuses, and the spec field its refusal must name. */
  refused(name: string, revision: number): { plan: RevisionPlan; field: string };
  /** The revision of the deployment that serves now, as the backend's target shows it; undefined when none. */
  serving(project: string, name: string): Promise<number | undefined>;
  /** What the backend made for the deployment (files, cluster objects, routes), to compare across applies. */
  made(project: string, name: string): Promise<GeneratedFile[]>;
  /** The YAML the backend generated for the deployment (files written, bodies sent to the cluster); absent if none. */
  yamlFiles?(project: string, name: string): Promise<GeneratedFile[]>;
  close(): Promise<void>;
}

export function backendConformance(name: string, open: () => Promise<BackendUnderTest>): void {
  describe(`backend conformance: ${name}`, () => {
    let t: BackendUnderTest;
    before(async () => {
      t = await open();
    });
    after(() => t?.close());

    test('apply is idempotent: the same revision twice gives the same result and changes nothing', async () => {
      const plan = t.plan('same', 1);
      const first = await t.backend.apply(plan);
      assert.equal(first.ok, true, JSON.stringify(first));
      const made = await t.made('default', 'same');
      assert.ok(made.length > 0, 'the backend made something for the deployment');
      assert.deepEqual(await t.backend.apply(plan), first);
      assert.deepEqual(await t.made('default', 'same'), made);
      assert.equal(await t.serving('default', 'same'), 1);
      await t.backend.remove('default', 'same');
    });

    test('a new revision replaces the old one', async () => {
      assert.equal((await t.backend.apply(t.plan('rolling', 1))).ok, true);
      const before = await t.made('default', 'rolling');
      assert.equal((await t.backend.apply(t.plan('rolling', 2, 2))).ok, true);
      assert.equal(await t.serving('default', 'rolling'), 2);
      assert.notDeepEqual(await t.made('default', 'rolling'), before);
      await t.backend.remove('default', 'rolling');
    });

    test('removing what is absent is fine, and removing twice too', async () => {
      await t.backend.remove('default', 'never-applied');
      assert.equal((await t.backend.apply(t.plan('removed', 1))).ok, true);
      await t.backend.remove('default', 'removed');
      assert.equal(await t.serving('default', 'removed'), undefined);
      await t.backend.remove('default', 'removed');
      assert.equal(await t.serving('default', 'removed'), undefined);
    });

    test('a refusal names the spec field, and the previous revision keeps serving', async () => {
      assert.equal((await t.backend.apply(t.plan('refused', 1))).ok, true);
      const before = await t.made('default', 'refused');
      const { plan, field } = t.refused('refused', 2);
      let checked = false;
      try {
        t.backend.check?.(plan.spec);
      } catch (error) {
        assert.ok(error instanceof ModelportError, 'check throws a ModelportError');
        assert.equal(error.code, 'invalid_request');
        assert.equal(error.field, field);
        checked = true;
      }
      if (!checked) {
        const result = await t.backend.apply(plan);
        assert.equal(result.ok, false);
        assert.ok(
          !result.ok && result.message.startsWith(`${field}:`),
          `'${!result.ok && result.message}' names ${field}`,
        );
      }
      assert.equal(await t.serving('default', 'refused'), 1);
      assert.deepEqual(await t.made('default', 'refused'), before);
      await t.backend.remove('default', 'refused');
    });

    test('a failed apply reports the reason and leaves the previous revision serving', async () => {
      assert.equal((await t.backend.apply(t.plan('guarded', 1))).ok, true);
      const failing = t.failing('guarded', 2);
      const result = await t.backend.apply(failing.plan);
      assert.equal(result.ok, false);
      assert.equal(!result.ok && result.reason, failing.reason);
      assert.ok(/^[A-Z][A-Za-z]+$/.test(failing.reason), `a CamelCase reason: ${failing.reason}`);
      assert.ok(!result.ok && result.message.length > 0);
      assert.equal(await t.serving('default', 'guarded'), 1);
      // And the deployment recovers with a good revision.
      assert.equal((await t.backend.apply(t.plan('guarded', 3, 2))).ok, true);
      assert.equal(await t.serving('default', 'guarded'), 3);
      await t.backend.remove('default', 'guarded');
    });

    test('generated YAML reads the same with a YAML 1.1 parser (PyYAML, kubectl, older compose)', async (c) => {
      if (!t.yamlFiles) return c.skip(`the ${name} backend generates no YAML`);
      assert.equal((await t.backend.apply(t.plan('yaml11', 1))).ok, true);
      const files = await t.yamlFiles('default', 'yaml11');
      assert.ok(files.length > 0, 'the backend generated YAML');
      for (const file of files) {
        for (const [i, document] of file.content.split(/^---$/m).entries()) {
          assert.deepEqual(
            parse(document, { version: '1.1' }),
            parse(document),
            `${file.path} (document ${i}) reads differently as YAML 1.1`,
          );
        }
      }
      await t.backend.remove('default', 'yaml11');
    });
  });
}
