import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { ModelportError } from '../../core/index.ts';
import { memoryLogger } from '../../logging/index.ts';
import type { InferContext } from '../inference-service.ts';
import type { InferTensorContents } from './generated/inference/InferTensorContents.generated.ts';
import { CASES, failure, rawBytes, startTestServer, type TestServer, TestService } from './grpc-client.fixture.ts';
import { createGrpcServer, startGrpcServer, stopGrpcServer } from './grpc-server.ts';
import { peekModelTarget } from './grpc-wire.ts';
import { inferenceService } from './proto.ts';

/**
 * Starts a `slow` call and waits until the service has entered it: `pending` settles with its error, `aborted` when
 * the service sees its signal fire, `cancel()` cancels it from the client.
 */
async function enterSlowCall(s: TestServer, service: TestService) {
  const entered = once(service.events, 'entered');
  const aborted = once(service.events, 'aborted');
  let cancelCall = () => {};
  const pending = failure(
    s.call('ModelInfer', { model_name: 'slow', inputs: [] }, { onCall: (c) => (cancelCall = () => c.cancel()) }),
  );
  await entered;
  return { pending, aborted, cancel: () => cancelCall() };
}

describe('gRPC server', () => {
  const service = new TestService();
  const log = memoryLogger();
  let s: TestServer;

  before(async () => {
    s = await startTestServer(service, { log });
  });
  after(() => s.close());

  const lastCall = () => service.calls.at(-1)!;

  test('ServerLive, ServerReady and ServerMetadata answer from the service', async () => {
    assert.deepEqual(await s.call('ServerLive', {}), { live: true });
    assert.deepEqual(await s.call('ServerReady', {}), { ready: true });
    assert.deepEqual(await s.call('ServerMetadata', {}), {
      name: 'modelport',
      version: '0.1.0-test',
      extensions: ['model_repository'],
    });
  });

  test('ModelReady and ModelMetadata take the model from the name or from model-id metadata', async () => {
    assert.deepEqual(await s.call('ModelReady', { name: 'echo' }), { ready: true });
    assert.deepEqual(await s.call('ModelReady', { name: '' }, { metadata: { 'model-id': 'busy' } }), { ready: false });
    const metadata = await s.call('ModelMetadata', { name: '', version: '2' }, { metadata: { 'model-id': 'echo' } });
    assert.deepEqual(metadata, {
      name: 'echo',
      versions: ['1', '2'],
      platform: 'test',
      inputs: [{ name: 'x', datatype: 'FP32', shape: ['-1', '3'] }],
      outputs: [{ name: 'y', datatype: 'INT64', shape: ['-1'] }],
    });
    const missing = await failure(s.call('ModelMetadata', { name: 'nope' }));
    assert.equal(missing.code, status.NOT_FOUND);
    assert.equal(missing.details, "model 'nope' not found");
    const unnamed = await failure(s.call('ModelReady', {}));
    assert.equal(unnamed.code, status.INVALID_ARGUMENT);
    assert.match(unnamed.details, /name is empty; name the model in name or in model-id metadata/);
  });

  for (const c of CASES.filter((c) => c.contents !== undefined)) {
    test(`ModelInfer echoes ${c.datatype} through typed contents`, async () => {
      const response = await s.call('ModelInfer', {
        model_name: 'echo',
        inputs: [{ name: 'in', datatype: c.datatype, shape: [3, 1], contents: c.contents }],
      });
      assert.deepEqual(lastCall().request.inputs, [{ name: 'in', datatype: c.datatype, shape: [3, 1], data: c.data }]);
      assert.deepEqual(response.raw_output_contents, []);
      const [field, values] = Object.entries(c.contents!)[0]!;
      const output = response.outputs[0]!;
      assert.deepEqual([output.name, output.datatype, output.shape], ['in', c.datatype, ['3', '1']]);
      assert.deepEqual(output.contents?.[field as keyof InferTensorContents], values);
    });
  }

  for (const c of CASES) {
    test(`ModelInfer echoes ${c.datatype} through raw contents, answering raw`, async () => {
      const bytes = rawBytes(c.datatype, c.data);
      const response = await s.call('ModelInfer', {
        model_name: 'echo',
        inputs: [{ name: 'in', datatype: c.datatype, shape: [3] }],
        raw_input_contents: [bytes],
      });
      assert.deepEqual(lastCall().request.inputs[0]?.data, c.data);
      assert.deepEqual(response.raw_output_contents, [bytes]);
      assert.equal(response.outputs[0]?.contents, null);
    });
  }

  test('ModelInfer keeps version, id and requested outputs of a raw call (the codec without protobufjs)', async () => {
    const a = rawBytes('FP32', Float32Array.of(1, 2));
    const b = rawBytes('INT32', Int32Array.of(-3));
    const response = await s.call('ModelInfer', {
      model_name: 'echo',
      model_version: '2',
      id: 'raw-1',
      inputs: [
        { name: 'a', datatype: 'FP32', shape: [2] },
        { name: 'b', datatype: 'INT32', shape: [1] },
      ],
      outputs: [{ name: 'b' }],
      raw_input_contents: [a, b],
    });
    assert.deepEqual(lastCall().request.outputs, [{ name: 'b' }]);
    assert.equal(lastCall().request.id, 'raw-1');
    assert.deepEqual([response.model_name, response.model_version, response.id], ['echo', '2', 'raw-1']);
    assert.deepEqual(
      response.outputs.map((o) => [o.name, o.datatype, o.shape]),
      [['b', 'INT32', ['1']]],
    );
    assert.deepEqual(response.raw_output_contents, [b]);
  });

  test('ModelInfer computes from every input and returns model, version, id and parameters', async () => {
    const response = await s.call('ModelInfer', {
      model_name: 'sum',
      model_version: '2',
      id: 'req-7',
      inputs: [
        { name: 'a', datatype: 'FP32', shape: [3], contents: { fp32_contents: [1, 2, 3.5] } },
        { name: 'b', datatype: 'INT64', shape: [1], contents: { int64_contents: ['-10'] } },
      ],
    });
    assert.deepEqual(
      { ...response, outputs: response.outputs.map((o) => o.contents?.fp64_contents) },
      {
        model_name: 'sum',
        model_version: '2',
        id: 'req-7',
        parameters: {},
        outputs: [[-3.5]],
        raw_output_contents: [],
      },
    );
    assert.equal(lastCall().version, '2');
  });

  test('ModelInfer routes by model-id metadata when model_name is empty, and passes metadata as headers', async () => {
    const response = await s.call(
      'ModelInfer',
      { inputs: [{ name: 'a', datatype: 'UINT8', shape: [2], contents: { uint_contents: [4, 5] } }] },
      { metadata: { 'model-id': 'sum', 'x-user': 'ada' } },
    );
    assert.equal(response.model_name, 'sum');
    assert.deepEqual(response.outputs[0]?.contents?.fp64_contents, [9]);
    const { context } = lastCall();
    assert.equal(context.protocol, 'grpc');
    assert.equal(context.headers?.['model-id'], 'sum');
    assert.equal(context.headers?.['x-user'], 'ada');
    assert.equal(context.deadline, undefined, 'no client deadline, no context deadline');
    assert.equal(context.signal?.aborted, false);
  });

  test('the name in the request wins over model-id metadata', async () => {
    const response = await s.call(
      'ModelInfer',
      { model_name: 'echo', inputs: [] },
      { metadata: { 'model-id': 'sum' } },
    );
    assert.equal(response.model_name, 'echo');
  });

  test('only the requested outputs come back', async () => {
    const response = await s.call('ModelInfer', {
      model_name: 'echo',
      inputs: [
        { name: 'a', datatype: 'FP64', shape: [1], contents: { fp64_contents: [1] } },
        { name: 'b', datatype: 'FP64', shape: [1], contents: { fp64_contents: [2] } },
      ],
      outputs: [{ name: 'b' }],
    });
    assert.deepEqual(
      response.outputs.map((o) => o.name),
      ['b'],
    );
  });

  test('errors map to their gRPC status: unknown model, bad input, no model name', async () => {
    const unknown = await failure(s.call('ModelInfer', { model_name: 'nope', inputs: [] }));
    assert.equal(unknown.code, status.NOT_FOUND);
    const refused = await failure(s.call('ModelInfer', { model_name: 'invalid', inputs: [] }));
    assert.deepEqual([refused.code, refused.details], [status.INVALID_ARGUMENT, "input 'x' must be FP32"]);
    const bad = await failure(
      s.call('ModelInfer', {
        model_name: 'echo',
        inputs: [{ name: 'pixels', datatype: 'FP32', shape: [2, 2] }],
        raw_input_contents: [Buffer.alloc(3)],
      }),
    );
    assert.equal(bad.code, status.INVALID_ARGUMENT);
    assert.match(bad.details, /input 'pixels' has 3 raw bytes; FP32 with 4 elements needs 16/);
    const unnamed = await failure(s.call('ModelInfer', { inputs: [] }));
    assert.equal(unnamed.code, status.INVALID_ARGUMENT);
    assert.match(unnamed.details, /model_name is empty/);
  });

  test('overloaded is RESOURCE_EXHAUSTED with a retry-after trailer', async () => {
    const error = await failure(s.call('ModelInfer', { model_name: 'busy', inputs: [] }));
    assert.equal(error.code, status.RESOURCE_EXHAUSTED);
    assert.deepEqual(error.metadata.get('retry-after'), ['3']);
    assert.match(error.details, /queue for model 'busy' is full/);
  });

  test('unexpected errors are INTERNAL "internal error", logged with their cause, never sent', async () => {
    log.records.length = 0;
    const thrown = await failure(s.call('ModelInfer', { model_name: 'broken', inputs: [] }));
    assert.deepEqual([thrown.code, thrown.details], [status.INTERNAL, 'internal error']);
    const wrong = await failure(s.call('ModelInfer', { model_name: 'wrong-output', inputs: [] }));
    assert.deepEqual([wrong.code, wrong.details], [status.INTERNAL, 'internal error']);
    const logged = log.records.filter((r) => r.msg === 'gRPC inference failed');
    assert.equal(logged.length, 2);
    assert.equal(logged[0]?.level, 'error');
    assert.match((logged[0]!['err'] as { message: string }).message, /secret\.db/);
    assert.equal(logged[0]?.['method'], 'ModelInfer');
  });

  test('a request that is not protobuf is INVALID_ARGUMENT; RPCs outside the proto are UNIMPLEMENTED', async () => {
    assert.equal(
      await s.callRaw('ModelInfer', Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])),
      status.INVALID_ARGUMENT,
    );
    assert.equal(await s.callRaw('RepositoryIndex', Buffer.alloc(0)), status.UNIMPLEMENTED);
    assert.equal(await s.callRaw('ModelStatistics', Buffer.alloc(0)), status.UNIMPLEMENTED);
    assert.deepEqual(await s.call('ServerLive', {}), { live: true });
  });

  test('an expired deadline aborts the service signal and the client gets DEADLINE_EXCEEDED', async () => {
    const entered = once(service.events, 'entered');
    const aborted = once(service.events, 'aborted');
    const deadline = new Date(Date.now() + 200);
    const error = await failure(s.call('ModelInfer', { model_name: 'slow', inputs: [] }, { deadline }));
    assert.equal(error.code, status.DEADLINE_EXCEEDED);
    const [context] = (await entered) as [InferContext];
    const [reason] = (await aborted) as [DOMException];
    assert.equal(typeof context.deadline, 'number');
    assert.ok(context.signal?.aborted);
    assert.ok(['TimeoutError', 'AbortError'].includes(reason.name), reason.name);
  });

  test('a cancelled call aborts the service signal', async () => {
    const { pending, aborted, cancel } = await enterSlowCall(s, service);
    cancel();
    assert.equal((await pending).code, status.CANCELLED);
    const [reason] = (await aborted) as [DOMException];
    assert.equal(reason.name, 'AbortError');
  });
});

describe('gRPC server limits and lifecycle', () => {
  test('a message over maxMessageBytes is RESOURCE_EXHAUSTED and the server keeps serving', async (t) => {
    const s = await startTestServer(new TestService(), { maxMessageBytes: 1024 });
    t.after(() => s.close());
    const big = { model_name: 'echo', inputs: [{ name: 'x', datatype: 'FP32', shape: [2048] }] };
    const error = await failure(s.call('ModelInfer', { ...big, raw_input_contents: [Buffer.alloc(8192)] }));
    assert.equal(error.code, status.RESOURCE_EXHAUSTED);
    const small = await s.call('ModelInfer', {
      model_name: 'sum',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [2], contents: { fp32_contents: [1, 2] } }],
    });
    assert.deepEqual(small.outputs[0]?.contents?.fp64_contents, [3]);
  });

  test('createGrpcServer refuses a bad maxMessageBytes, naming the field', () => {
    for (const maxMessageBytes of [0, -1, 1.5, 2 ** 31]) {
      assert.throws(() => createGrpcServer(new TestService(), { maxMessageBytes }), {
        code: 'invalid_config',
        field: 'maxMessageBytes',
      });
    }
  });

  test('stopGrpcServer cancels calls still running after its timeout and resolves', async (t) => {
    const service = new TestService();
    const s = await startTestServer(service);
    t.after(() => s.client.close());
    const { pending, aborted } = await enterSlowCall(s, service);
    await stopGrpcServer(s.server, 10);
    await aborted;
    assert.notEqual((await pending).code, status.OK);
  });

  test('answered, failed and cancelled calls all leave the in-flight list', async (t) => {
    const service = new TestService();
    const s = await startTestServer(service);
    t.after(() => s.close());
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        s.call('ModelInfer', {
          model_name: 'sum',
          inputs: [{ name: 'x', datatype: 'FP32', shape: [2], contents: { fp32_contents: [i, 1] } }],
        }),
      ),
    );
    await failure(s.call('ModelInfer', { model_name: 'nope', inputs: [] }));
    const { pending, aborted, cancel } = await enterSlowCall(s, service);
    assert.equal(s.server.calls.size, 1);
    cancel();
    await pending;
    await aborted;
    assert.equal(s.server.calls.size, 0);
  });

  test('a call in flight while its connection answers hundreds of others is still cancelled by a stop', async (t) => {
    // The connection's Map of streams is renewed every 64 closed streams (renewStreamTable): the slow call's stream
    // must stay in it for Node to find its frames and to cancel it.
    const service = new TestService();
    const s = await startTestServer(service);
    t.after(() => s.client.close());
    const { pending, aborted } = await enterSlowCall(s, service);
    for (let round = 0; round < 5; round++) {
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          s.call('ModelInfer', {
            model_name: 'sum',
            inputs: [{ name: 'x', datatype: 'FP32', shape: [2], contents: { fp32_contents: [i, round] } }],
          }),
        ),
      );
      assert.deepEqual(answers[39]?.outputs[0]?.contents?.fp64_contents, [39 + round]);
    }
    assert.equal(s.server.calls.size, 1);
    await stopGrpcServer(s.server, 10);
    await aborted;
    assert.notEqual((await pending).code, status.OK);
    assert.equal(s.server.calls.size, 0);
  });

  test('startGrpcServer resolves with the bound port and rejects when the port is taken', async (t) => {
    const server = createGrpcServer(new TestService());
    const port = await startGrpcServer(server, '127.0.0.1', 0);
    t.after(() => stopGrpcServer(server, 1000));
    assert.ok(port > 0);
    const other = createGrpcServer(new TestService());
    await assert.rejects(startGrpcServer(other, '127.0.0.1', port));
    await stopGrpcServer(other, 1000);
  });
});

describe('gRPC admission before the decode', () => {
  /** Admits every model but `full`, whose queue is full; counts the admissions. */
  class AdmittingService extends TestService {
    admitted: string[] = [];
    async admit(name: string): Promise<void> {
      this.admitted.push(name);
      if (name === 'full') throw new ModelportError('overloaded', 'the queue of this model is full', { retryAfter: 1 });
    }
  }
  const service = new AdmittingService();
  let s: TestServer;
  before(async () => {
    s = await startTestServer(service);
  });
  after(() => s.close());

  /** model_name, then an `inputs` field whose content is not a valid InferInputTensor: only a full decode sees it. */
  const brokenTensors = (model: string) =>
    Buffer.concat([Buffer.from([0x0a, model.length]), Buffer.from(model), Buffer.from([0x2a, 0x03, 0xff, 0xff, 0xff])]);

  test('a full queue refuses from the message header: RESOURCE_EXHAUSTED before the tensors are decoded', async () => {
    assert.equal(await s.callRaw('ModelInfer', brokenTensors('full')), status.RESOURCE_EXHAUSTED);
    // Admitted, the same message fails its decode.
    assert.equal(await s.callRaw('ModelInfer', brokenTensors('echo')), status.INVALID_ARGUMENT);
    assert.deepEqual(service.admitted.slice(-2), ['full', 'echo']);
  });

  test('an admitted call is admitted once and answered; the model-id metadata still names the model', async () => {
    service.admitted.length = 0;
    const response = await s.call('ModelInfer', {
      model_name: 'echo',
      inputs: [{ name: 'in', datatype: 'FP32', shape: [1], contents: { fp32_contents: [1.5] } }],
    });
    assert.deepEqual(response.outputs[0]?.contents?.fp32_contents, [1.5]);
    await s.call('ModelInfer', { model_name: '', inputs: [] }, { metadata: { 'model-id': 'echo' } });
    assert.deepEqual(service.admitted, ['echo', 'echo']);
  });
});

describe('peekModelTarget', () => {
  const serialize = (message: Record<string, unknown>) =>
    (inferenceService()['ModelInfer'] as unknown as { requestSerialize: (m: unknown) => Buffer }).requestSerialize(
      message,
    );

  test('reads model_name and model_version past the other fields, as the full decode does', () => {
    const bytes = serialize({
      id: 'x',
      model_name: 'fraud',
      model_version: '3',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 2] }],
      raw_input_contents: [Buffer.alloc(8)],
    });
    assert.deepEqual(peekModelTarget(bytes), { name: 'fraud', version: '3' });
    assert.deepEqual(peekModelTarget(serialize({ raw_input_contents: [Buffer.alloc(4)] })), { name: '', version: '' });
    // A field repeated: the last one wins.
    const twice = Buffer.concat([Buffer.from([0x0a, 1, 0x61]), serialize({ model_name: 'b' })]);
    assert.deepEqual(peekModelTarget(twice), { name: 'b', version: '' });
  });

  test('malformed top-level bytes give undefined', () => {
    assert.equal(peekModelTarget(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])), undefined);
    assert.equal(peekModelTarget(Buffer.from([0x0a, 5, 0x61])), undefined);
    assert.equal(peekModelTarget(Buffer.from([0x0b])), undefined);
  });
});
