/** How the Open Inference Protocol's datatypes map to ONNX tensor element types (BYTES is ONNX STRING). */
import type { Datatype } from '../core/index.ts';
import type { OnnxDataType } from './model-proto.ts';

export const ONNX_TYPE_OF_DATATYPE: Readonly<Record<Datatype, OnnxDataType>> = {
  BOOL: 'BOOL',
  UINT8: 'UINT8',
  UINT16: 'UINT16',
  UINT32: 'UINT32',
  UINT64: 'UINT64',
  INT8: 'INT8',
  INT16: 'INT16',
  INT32: 'INT32',
  INT64: 'INT64',
  FP16: 'FLOAT16',
  FP32: 'FLOAT',
  FP64: 'DOUBLE',
  BYTES: 'STRING',
};
