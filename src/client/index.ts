/** The public surface of client/: the HTTP client of the control API, its errors and its derived types. */
export {
  type ApiBody,
  type ApiParams,
  type ApiQuery,
  type ApiResponse,
  type CallArgs,
  type CallInput,
  type CallOptions,
  type CallParams,
  type ClientOptions,
  type DataPutOptions,
  type Download,
  ModelportApiError,
  ModelportClient,
  OPERATIONS,
  type OperationId,
  type RegisterOptions,
  type UploadBody,
} from './client.ts';
export { type TarFile, tarSize, writeTar } from './tar-writer.ts';
