import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { inferenceService, PROTO_FILE } from './proto.ts';

const LOCAL = fileURLToPath(new URL(PROTO_FILE, import.meta.url));
const SHARED = fileURLToPath(new URL('../../../../shared/schemas/grpc_predict_v2.proto', import.meta.url));

describe('grpc_predict_v2.proto', () => {
  test('is a byte-for-byte copy of shared/schemas/grpc_predict_v2.proto', (t) => {
    if (!existsSync(SHARED)) {
      t.skip('../shared/schemas is not present in this checkout; nothing to compare against');
      return;
    }
    assert.ok(readFileSync(LOCAL).equals(readFileSync(SHARED)), `${PROTO_FILE} differs from the shared copy`);
  });

  test('keeps the Apache-2.0 notice and package inference', () => {
    const text = readFileSync(LOCAL, 'utf8');
    assert.match(text, /Licensed under the Apache License, Version 2\.0/);
    assert.match(text, /^package inference;$/m);
  });

  test('loads the six GRPCInferenceService methods under /inference.GRPCInferenceService/', () => {
    const service = inferenceService();
    assert.deepEqual(
      Object.values(service)
        .map((m) => m.path)
        .sort(),
      [
        '/inference.GRPCInferenceService/ModelInfer',
        '/inference.GRPCInferenceService/ModelMetadata',
        '/inference.GRPCInferenceService/ModelReady',
        '/inference.GRPCInferenceService/ServerLive',
        '/inference.GRPCInferenceService/ServerMetadata',
        '/inference.GRPCInferenceService/ServerReady',
      ],
    );
  });
});
