/**
 * The gRPC floors (child processes of `bench/serving.ts`): a ModelInfer that answers a fixed serialized response,
 * the gateway's own answer to the same request, without decoding the request.
 * - `http2`: straight node:http2, the transport the gateway's gRPC server is built on (the floor);
 * - `grpc-js`: a bare @grpc/grpc-js server, for reference (what most Node gRPC services run on).
 * Sends `{ type: 'ready', port }` over IPC once bound.
 *
 * Run: node bench/bare-grpc-server.ts <response file> [http2|grpc-js]
 */
import { readFileSync } from 'node:fs';
import { createServer, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { Server, ServerCredentials, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import { frameMessage } from '../src/serving/grpc/grpc-wire.ts';
import { MODEL_INFER_PATH } from './bodies.ts';

const response = readFileSync(process.argv[2] ?? '');
const transport = process.argv[3] ?? 'http2';
const ready = (port: number) => process.send?.({ type: 'ready', port });

if (transport === 'http2') {
  const framed = frameMessage(response);
  const server = createServer();
  server.on('stream', (stream: ServerHttp2Stream) => {
    stream.on('error', () => {});
    stream.on('data', () => {});
    stream.once('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(framed);
    });
  });
  server.listen(0, '127.0.0.1', () => ready((server.address() as AddressInfo).port));
} else {
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
    {
      ModelInfer: (_call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => callback(null, response),
    },
  );
  server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, port) => {
    if (error) throw error;
    ready(port);
  });
}
process.on('disconnect', () => process.exit(0));
