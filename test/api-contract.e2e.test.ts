/**
 * The API contract cannot drift: every operation of the server's route table is reachable from the client (or
 * listed here with the reason it is not a method of its own), and the routes' response schemas validate the real
 * answers of a running server, recorded as the client made them through a representative scenario.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { z } from 'zod';
import { trainFraudModel } from '../examples/fraud/train.ts';
import type { AnyRoute } from '../src/api/route.ts';
import { compileRoutes } from '../src/api/router.ts';
import { auditRoutes } from '../src/api/routes/audit.ts';
import { authRoutes } from '../src/api/routes/auth.ts';
import { dataRoutes } from '../src/api/routes/data.ts';
import { deploymentMetricsRoutes } from '../src/api/routes/deployment-metrics.ts';
import { deploymentRoutes } from '../src/api/routes/deployments.ts';
import { driftRoutes } from '../src/api/routes/drift.ts';
import { jobRoutes } from '../src/api/routes/jobs.ts';
import { lineageRoutes } from '../src/api/routes/lineage.ts';
import { modelRoutes } from '../src/api/routes/models.ts';
import { modelTypeRoutes } from '../src/api/routes/modeltypes.ts';
import { payloadRoutes } from '../src/api/routes/payloads.ts';
import { pipelineRoutes } from '../src/api/routes/pipelines.ts';
import { scanRoutes } from '../src/api/routes/scans.ts';
import { secretRoutes } from '../src/api/routes/secrets.ts';
import { systemRoutes } from '../src/api/routes/system.ts';
import { ModelportClient, OPERATIONS, type OperationId } from '../src/client/client.ts';
import { writeTar } from '../src/client/index.ts';
import { buildLogisticRegressionModel } from '../src/onnx-builder/index.ts';
import { startTestServer, type TestServer } from './support/server.ts';

/**
 * The route tables with their schemas. Only the declarations are read here (handlers never run), so their
 * dependencies are placeholders; the test checks this list against the running server's OpenAPI document.
 */
const unused = {} as never;
const ROUTES: AnyRoute[] = [
  ...systemRoutes({ version: 'test', database: 'sqlite', artifacts: 'folder' }),
  ...modelRoutes({ buildContext: unused } as never),
  ...deploymentRoutes({ deployments: unused, export: unused }),
  ...deploymentMetricsRoutes(unused),
  ...driftRoutes(unused),
  ...secretRoutes(unused),
  ...modelTypeRoutes(unused),
  ...jobRoutes(unused),
  ...auditRoutes(unused),
  ...dataRoutes(unused),
  ...pipelineRoutes(unused),
  ...payloadRoutes(unused),
  ...scanRoutes(unused),
  ...lineageRoutes(unused),
  ...authRoutes(unused),
];

/** Operations the client reaches through another method (or only through `call`), and why. */
const NOT_A_METHOD: Partial<Record<OperationId, string>> = {
  getHealth: 'a liveness probe for load balancers; `call("getHealth")` reaches it',
  getInfo: 'server version and store kinds; `call("getInfo")` reaches it',
  deleteSignature: 'setSignature(name, ref, null) removes the signature',
  downloadJobRejects: 'downloadJobOutput(id, "rejects")',
  createCommit: 'putFile, putFolder (a tar stream) and deletePaths each send one kind of commit body',
};

/** Operations the scenario below does not call, and why; every other one must be exercised. */
const NOT_EXERCISED: Partial<Record<OperationId, string>> = {
  importModel: 'needs an https:// or s3:// source the egress guard allows (test/js-models-import.e2e.test.ts)',
  promoteDeployment:
    'needs a canary rollout (test/deployments.e2e.test.ts); it answers a Deployment like getDeployment',
  cancelJob: 'needs a job caught mid-run (src/jobs/jobs.e2e.test.ts); it answers a Job like getJob',
  checkDeploymentDrift:
    'needs logged calls and a profiled training commit (test/drift.e2e.test.ts); it answers checks like deploymentDrift',
};

interface Recorded {
  method: string;
  path: string;
  status: number;
  type: string;
  text: string | undefined;
}

describe('API contract', () => {
  let t: TestServer;
  const recorded: Recorded[] = [];
  let mp: ModelportClient;

  before(async () => {
    t = await startTestServer('embedded');
    mp = new ModelportClient({
      url: t.url,
      fetch: async (input, init) => {
        const res = await fetch(input, init);
        const url = new URL(String(input));
        const type = res.headers.get('content-type') ?? '';
        recorded.push({
          method: init?.method ?? 'GET',
          path: url.pathname.slice('/api/v1'.length),
          status: res.status,
          type,
          text: type.startsWith('application/json') || res.status === 204 ? await res.clone().text() : undefined,
        });
        return res;
      },
    });
  });
  after(() => t.close());

  test('every operation of the server is in the client, with the same method and path', async () => {
    const doc = (await (await fetch(`${t.url}/api/v1/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { operationId: string }>>;
    };
    const served = new Map<string, string>();
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const line = `${method.toUpperCase()} ${path.slice('/api/v1'.length).replace(/\{(\w+)\}/g, ':$1')}`;
        served.set(operation.operationId, line);
      }
    }
    // The client's table, the route tables read here, and the server agree operation by operation.
    assert.deepEqual(Object.fromEntries([...served].sort()), Object.fromEntries(Object.entries(OPERATIONS).sort()));
    assert.deepEqual(
      ROUTES.map((r) => r.id).sort(),
      [...served.keys()].sort(),
      'a route table is missing from this test',
    );
    for (const id of Object.keys(OPERATIONS) as OperationId[]) {
      const method = (mp as unknown as Record<string, unknown>)[id];
      assert.ok(
        typeof method === 'function' || NOT_A_METHOD[id] !== undefined,
        `the client has no method ${id}; add one (or list it in NOT_A_METHOD with the reason)`,
      );
      assert.ok(!(typeof method === 'function' && NOT_A_METHOD[id]), `${id} is a method; remove it from NOT_A_METHOD`);
    }
  });

  test("the response schemas validate the server's real answers", { timeout: 120_000 }, async () => {
    const model = trainFraudModel({ seed: 7, rows: 2000 });
    const features = model.featureNames.map((name) => ({ name }));

    await mp.call('getHealth');
    await mp.call('getInfo');
    await mp.createProject('contract');
    await mp.listProjects();

    // Registry
    await mp.registerVersion('fraud', model.onnx, {
      aliases: ['champion'],
      tags: { team: 'risk' },
      metrics: { auc: 0.9 },
      signature: { features, outputs: { labels: [...model.labels] } },
    });
    await mp.registerVersion('fraud', model.onnx, { description: 'second' });
    await mp.listModels();
    await mp.getModel('fraud');
    await mp.listVersions('fraud');
    await mp.getVersion('fraud', 'champion');
    await mp.updateVersion('fraud', 1, { description: 'first', tags: { stage: 'prod' }, metrics: { f1: 0.8 } });
    await mp.setSignature('fraud', 2, { features });
    await mp.setSignature('fraud', 2, null);
    await mp.setAlias('fraud', 'challenger', 2);
    await mp.deleteAlias('fraud', 'challenger');
    const artifact = await mp.downloadArtifact('fraud', 1);
    for await (const _ of artifact.body);
    await mp.getBuildContext('fraud', 1);
    await mp.deleteVersion('fraud', 2);
    await mp.registerVersion('scratch', model.onnx);
    await mp.deleteModel('scratch');

    // Deployments
    const spec = { traffic: [{ model: 'fraud@champion', weight: 100 }] };
    await mp.createDeployment('contract', spec);
    await mp.waitDeployment('contract');
    await mp.applyDeployment('contract', { ...spec, env: { MODE: 'b' } });
    await mp.waitDeployment('contract');
    await mp.listDeployments();
    await mp.getDeployment('contract');
    await mp.deploymentRevisions('contract');
    await mp.rollbackDeployment('contract');
    await mp.deploymentMetrics('contract');
    await mp.deploymentDrift('contract');
    await mp.exportDeployment('contract', 'compose');
    // The payload log: a logged call, its record, a label and the accuracy it gives.
    await mp.applyDeployment('contract', { ...spec, logging: { sample: 100 } });
    await mp.waitDeployment('contract');
    const call = await fetch(`${t.url}/v2/models/contract/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        id: 'contract-call',
        inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 30], data: Array(30).fill(0) }],
      }),
    });
    assert.equal(call.status, 200);
    await t.server.payloads.flush();
    await mp.listPayloads('contract', { since: '1h', where: "status = 'ok'" });
    await mp.getPayload('contract-call');
    await mp.sendFeedback('contract', { requestId: 'contract-call', label: '0' });
    await mp.deploymentAccuracy('contract');
    await mp.deleteDeployment('contract', { purgePayloads: true });

    // Secrets and model types
    await mp.setSecret('API_TOKEN', 'canary-value');
    await mp.listSecrets();
    await mp.rotateSecretKey();
    await mp.deleteSecret('API_TOKEN');
    const [type] = await mp.listModelTypes();
    assert.ok(type, 'the catalogue has a model type');
    await mp.getModelType(type.name);
    await mp.addModelType({ ...type, name: 'contract-type' });
    await mp.updateModelType({ ...type, name: 'contract-type', description: 'changed' });
    await mp.addModelTypeImage('contract-type', { name: 'next', value: 'registry.example.com/server:2' });
    await mp.setModelTypeDefaultImage('contract-type', 'next');

    // Identity (the single-user mode's principal is the server admin)
    await mp.whoami();
    await mp.createUser('alice');
    await mp.listUsers();
    await mp.createGroup('analysts');
    await mp.addGroupMember('analysts', 'alice');
    await mp.listGroups();
    await mp.addMember('contract', { kind: 'group', name: 'analysts' }, 'viewer');
    await mp.addMember('contract', { kind: 'user', name: 'alice' }, 'editor', { code: true });
    await mp.listMembers('contract');
    const token = await mp.createToken({ name: 'laptop', user: 'alice', expiresIn: '30d', rateLimit: 10 });
    await mp.createToken({ name: 'app', user: 'alice', deployment: { project: 'default', name: 'fraud' } });
    await mp.listTokens({ all: true });
    await mp.revokeToken(token.id);
    await mp.removeMember('contract', { kind: 'group', name: 'analysts' });
    await mp.removeGroupMember('analysts', 'alice');
    await mp.deleteGroup('analysts');
    await mp.deleteUser('alice');
    await mp.createProject('scratch');
    await mp.deleteProject('scratch');

    // Jobs
    const rows = model.samples.fraud.map((v) => String(v)).join(',');
    const csv = `${model.featureNames.join(',')}\n${rows}\n${rows}\n`;
    const input = await mp.uploadJobInput(new TextEncoder().encode(csv));
    const job = await mp.submitJob({ model: 'fraud@1', input: { artifact: input.sha256 }, onError: 'skip' });
    let state = job.state;
    while (state === 'queued' || state === 'running') state = (await mp.getJob(job.id)).state;
    assert.equal(state, 'succeeded');
    await mp.listJobs(10);
    for await (const _ of (await mp.downloadJobOutput(job.id)).body);
    for await (const _ of (await mp.downloadJobOutput(job.id, 'rejects')).body);

    // Data repositories
    await mp.createRepo('contract-data', { description: 'the contract scenario' });
    await mp.listRepos();
    await mp.getRepo('contract-data');
    const first = await mp.putFile('contract-data', 'data/rows.csv', new TextEncoder().encode('a,b\n1,x\n2,y\n'), {
      message: 'rows',
    });
    await mp.deletePaths('contract-data', ['data/rows.csv'], { message: 'none' });
    await mp.createBranch('contract-data', 'scratch', first.commit.id);
    await mp.resetBranch('contract-data', 'scratch', 'main');
    await mp.listBranches('contract-data');
    await mp.deleteBranch('contract-data', 'scratch');
    await mp.createTag('contract-data', 'v1', 'main~1');
    await mp.listTags('contract-data');
    await mp.listCommits('contract-data', 'main');
    await mp.getCommit('contract-data', 'v1');
    await mp.listTree('contract-data', 'v1', 'data', true);
    for await (const _ of (await mp.downloadFile('contract-data', 'v1', 'data/rows.csv')).body);
    await t.server.profiles.idle();
    await mp.getProfile('contract-data', 'v1', 'data/rows.csv');
    await mp.diffCommits('contract-data', 'v1', 'main');
    await mp.listEvents({ type: 'data.commit' });
    await mp.deleteTag('contract-data', 'v1');
    await mp.deleteRepo('contract-data');
    await mp.collectGarbage({ dryRun: true });

    // Pipelines and runs
    const script = new TextEncoder().encode('echo hello > "$MODELPORT_OUTPUT/hi.txt"\n');
    const chunks: Uint8Array[] = [];
    for await (const chunk of writeTar([
      {
        path: 'hello.sh',
        size: script.length,
        open: async function* () {
          yield script;
        },
      },
    ])) {
      chunks.push(chunk);
    }
    const code = await mp.uploadPipelineCode(Buffer.concat(chunks));
    await mp.applyPipeline({
      spec: {
        name: 'contract-pipe',
        steps: [
          { name: 'hello', run: 'sh hello.sh' },
          { name: 'wait', needs: ['hello'], run: 'sleep 60' },
        ],
      },
      code: { sha256: code.sha256 },
    });
    await mp.listPipelines();
    await mp.getPipeline('contract-pipe');
    const run = await mp.triggerPipeline('contract-pipe');
    const waitFor = async (ok: (r: Awaited<ReturnType<typeof mp.getRun>>) => boolean) => {
      for (;;) {
        const r = await mp.getRun(run.id);
        if (ok(r)) return r;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    await waitFor((r) => r.steps[1]!.state === 'Running');
    await mp.cancelRun(run.id);
    await waitFor((r) => r.state === 'Cancelled');
    await mp.resumeRun(run.id);
    await mp.listRuns({ pipeline: 'contract-pipe' });
    for await (const _ of mp.runLogs(run.id, { step: 'hello' }));
    // Lineage of that run (its steps), and the same as OpenLineage events
    const lineage = await mp.getLineage(run.id);
    assert.equal(lineage.subject.kind, 'run');
    assert.ok((await mp.exportOpenLineage(run.id, 'up')).length > 0);
    await mp.deletePipeline('contract-pipe');

    // Use cases and scans
    await mp.registerVersion(
      'contract-credit',
      buildLogisticRegressionModel({ weights: [1, -1], bias: 0, featureCount: 2 }),
      {
        signature: {
          features: [
            { name: 'a', type: 'number' },
            { name: 'b', type: 'number' },
          ],
        },
      },
    );
    const scanRows = [
      'a,b,group,y',
      ...Array.from(
        { length: 120 },
        (_, i) => `${i % 10},${(i * 7) % 10},${i % 2 ? 'x' : 'y'},${i % 10 > (i * 7) % 10 ? 1 : 0}`,
      ),
    ];
    const dataset = await mp.uploadScanDataset(new TextEncoder().encode(`${scanRows.join('\n')}\n`));
    await mp.applyUseCase({
      name: 'contract-usecase',
      task: 'binary-classification',
      dataset: { upload: dataset.sha256 },
      label: 'y',
      favorable: 1,
      protected: [{ column: 'group' }],
      models: ['contract-credit@1'],
      scans: ['performance', 'fairness'],
    });
    await mp.listUseCases();
    await mp.getUseCase('contract-usecase');
    const scan = await mp.runScan('contract-usecase');
    assert.equal((await mp.getScan(scan.id, 60)).state, 'Succeeded');
    const second = await mp.runScan('contract-usecase', ['performance']);
    assert.equal((await mp.getScan(second.id, 60)).state, 'Succeeded');
    await mp.cancelScan(second.id);
    await mp.listScans({ usecase: 'contract-usecase' });
    await mp.getScanResults(scan.id);
    await mp.getScanReport(scan.id);
    await mp.getScanReportHtml(scan.id);
    await mp.compareScans([scan.id, second.id]);
    await mp.deleteUseCase('contract-usecase');

    // Audit log (what the scenario above changed)
    await mp.listAudit({ since: '1h', limit: 50 });
    await mp.verifyAudit();

    const compiled = compileRoutes(ROUTES);
    const exercised = new Set<string>();
    for (const call of recorded) {
      const match = compiled.find((r) => r.def.method === call.method && r.pattern.test(call.path));
      assert.ok(match, `no route answers ${call.method} ${call.path}`);
      const { def } = match;
      const where = `${def.id} (${call.method} ${call.path})`;
      assert.ok(call.status >= 200 && call.status < 300, `${where} answered ${call.status}: ${call.text}`);
      exercised.add(def.id);
      if (def.response === 'empty') {
        assert.equal(call.status, def.status ?? 204, where);
        assert.equal(call.text, '', where);
      } else if (def.response === 'stream') {
        assert.ok(!call.type.startsWith('application/json'), `${where} streams a file, not JSON`);
      } else {
        assert.equal(call.status, def.status ?? 200, where);
        assert.ok(call.type.startsWith('application/json'), `${where} answers JSON`);
        const result = (def.response as z.ZodType).safeParse(JSON.parse(call.text ?? ''));
        assert.ok(result.success, `${where}: the answer does not match the response schema: ${result.error}`);
      }
    }
    const missing = ROUTES.map((r) => r.id).filter((id) => !exercised.has(id) && !(id in NOT_EXERCISED));
    assert.deepEqual(missing, [], 'operations the scenario does not call (call them, or list them in NOT_EXERCISED)');
  });
});
