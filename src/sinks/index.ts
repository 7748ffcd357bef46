/** The public surface of sinks/: the payload sink contract and its implementations. */
export { CE_REQUEST_TYPE, CE_RESPONSE_TYPE, CloudEventsSink, toCloudEvents } from './cloudevents-sink.ts';
export { compileWhere, WHERE_COLUMNS } from './payload-where.ts';
export type { LoggedTensor, PayloadArm, PayloadMode, PayloadRecord, PayloadSink, SinkWriteResult } from './sink.ts';
export {
  type LoggedPrediction,
  PAYLOAD_COLUMNS,
  type PayloadQuery,
  type RetentionPolicy,
  StoreSink,
  type StoreSinkOptions,
} from './store-sink.ts';
