/**
 * Who may do what with use cases and scans, with auth on: a viewer reads use cases, scans and reports but may not
 * apply or run; an editor of one project cannot scan a dataset of another project it may not read (refused at
 * apply, naming the field), and can once it is a viewer there.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ModelportApiError, ModelportClient } from '../src/client/client.ts';
import { buildLogisticRegressionModel } from '../src/onnx-builder/index.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const CSV = `a,b,group,y\n${Array.from({ length: 80 }, (_, i) => `${i % 10},${(i * 3) % 10},${i % 2 ? 'x' : 'z'},${i % 10 > (i * 3) % 10 ? 1 : 0}`).join('\n')}\n`;

describe('use cases and scans: permissions', { timeout: 180_000 }, () => {
  let t: TestServer;
  let admin: ModelportClient;
  const clients: Record<string, ModelportClient> = {};

  before(async () => {
    t = await startTestServer('embedded', { auth: 'true' });
    admin = new ModelportClient({ url: t.url, token: t.server.auth.adminToken! });
    await admin.createProject('risk');
    const risk = new ModelportClient({ url: t.url, token: t.server.auth.adminToken!, project: 'risk' });
    await risk.createRepo('secret-data');
    await risk.putFile('secret-data', 'eval.csv', new TextEncoder().encode(CSV), { message: 'eval' });
    await admin.createRepo('open-data');
    await admin.putFile('open-data', 'eval.csv', new TextEncoder().encode(CSV), { message: 'eval' });
    await admin.registerVersion('m', buildLogisticRegressionModel({ weights: [1, -1], bias: 0, featureCount: 2 }), {
      signature: {
        features: [
          { name: 'a', type: 'number' },
          { name: 'b', type: 'number' },
        ],
      },
    });
    for (const [name, role] of [
      ['vera', 'viewer'],
      ['eddie', 'editor'],
    ] as const) {
      await admin.createUser(name);
      await admin.addMember('default', { kind: 'user', name }, role);
      const created = await admin.createToken({ name: 'laptop', user: name });
      clients[name] = new ModelportClient({ url: t.url, token: created.token });
    }
  });
  after(() => t?.close());

  const spec = (repo: string) => ({
    name: 'perm',
    task: 'binary-classification' as const,
    dataset: { repo, commit: 'main', path: 'eval.csv' },
    label: 'y',
    favorable: 1,
    protected: [{ column: 'group' }],
    models: ['m@1'],
    scans: ['performance' as const, 'fairness' as const],
  });
  const refusal = async (call: Promise<unknown>) => {
    const error = await call.then(
      () => assert.fail('allowed'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ModelportApiError);
    return error;
  };

  test("an editor cannot scan another project's dataset it may not read, and can once it reads there", async () => {
    const refused = await refusal(clients['eddie']!.applyUseCase(spec('risk/secret-data')));
    assert.equal(refused.status, 403);
    assert.equal(refused.field, 'dataset.repo');
    assert.match(refused.message, /may not read data of project 'risk'/);
    assert.deepEqual(await clients['eddie']!.listUseCases(), [], 'nothing stored');
    await admin.addMember('risk', { kind: 'user', name: 'eddie' }, 'viewer');
    const applied = await clients['eddie']!.applyUseCase(spec('risk/secret-data'));
    assert.equal(applied.revision, 1);
    const scan = await clients['eddie']!.runScan('perm');
    const done = await clients['eddie']!.getScan(scan.id, 120);
    assert.equal(done.state, 'Succeeded', done.reason ?? '');
    assert.equal(done.dataset?.repo, 'risk/secret-data');
  });

  test('a viewer reads use cases, scans and reports, and may not apply, run or cancel', async () => {
    const vera = clients['vera']!;
    assert.equal((await vera.listUseCases())[0]?.name, 'perm');
    const [scan] = await vera.listScans();
    assert.ok(scan);
    // The report's dataset is in 'risk', which vera may not read.
    const hidden = await refusal(vera.getScanReport(scan.id));
    assert.equal(hidden.status, 403);
    assert.equal((await refusal(vera.runScan('perm'))).status, 403);
    assert.equal((await refusal(vera.applyUseCase(spec('open-data')))).status, 403);
    assert.equal((await refusal(vera.cancelScan(scan.id))).status, 403);
    await clients['eddie']!.applyUseCase({ ...spec('open-data'), name: 'open' });
    const open = await clients['eddie']!.runScan('open');
    assert.equal((await vera.getScan(open.id, 120)).state, 'Succeeded');
    const report = await vera.getScanReport(open.id);
    assert.equal(report.dataset.repo, 'open-data');
  });
});
