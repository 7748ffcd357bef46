/**
 * The gRPC floor: a bare @grpc/grpc-js server (a child process of `bench/serving.ts`) whose ModelInfer answers a
 * fixed serialized response, the gateway's own answer to the same request, without decoding the request.
 * Sends `{ type: 'ready', port }` over IPC once bound.
 *
 * Run: node bench/bare-grpc-server.ts <response file>
 */
import { readFileSync } from 'node:fs';
import { Server, ServerCredentials, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import { MODEL_INFER_PATH } from './bodies.ts';

const response = readFileSync(process.argv[2] ?? '');
const identity = (b: Buffer) => b;

const server = new Server();
server.addService(
  {
    ModelInfer: {
      path: MODEL_INFER_PATH,
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    },
  },
  { ModelInfer: (_call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => callback(null, response) },
);
server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, port) => {
  if (error) throw error;
  process.send?.({ type: 'ready', port });
});
process.on('disconnect', () => process.exit(0));
