/** The `hosted` runtime: a prediction service running elsewhere, called through the egress guard. */
export { decodeHostedResponse, encodeHostedRequest, pointer } from './hosted-codecs.ts';
export {
  compileHostedDescriptor,
  HOSTED_PROTOCOLS,
  type HostedDescriptor,
  type HostedProtocol,
  parseHostedDescriptor,
  readHostedDescriptor,
} from './hosted-descriptor.ts';
export { HostedRuntime, type HostedRuntimeOptions } from './hosted-runtime.ts';
