/**
 * The ONNX model builder: writes .onnx files from TypeScript (a protobuf encoder, typed ONNX messages, a graph
 * builder, and the deterministic models the tests, the example and the benchmarks use). Not part of the server:
 * nothing in src outside tests imports it. Everything here is pure: builders return bytes.
 */
export { buildCnnModel, type CnnChannels, type CnnWeights, cnnWeights } from './cnn-model.ts';
export { ONNX_TYPE_OF_DATATYPE } from './datatypes.ts';
export {
  type AttributeInput,
  type ConstantDataType,
  float,
  floats,
  GraphBuilder,
  type ModelOptions,
  type NodeOptions,
  type TensorValues,
  tensor,
} from './graph-builder.ts';
export { buildLogisticRegressionModel, type LogisticRegressionOptions } from './logistic-regression-model.ts';
export {
  type AttributeProto,
  DEFAULT_IR_VERSION,
  DEFAULT_OPSET,
  type Dim,
  encodeModel,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  ONNX_DATA_TYPES,
  type OnnxDataType,
  type OperatorSetId,
  type TensorProto,
  type ValueInfoProto,
} from './model-proto.ts';
export {
  fieldBytes,
  fieldBytesAll,
  fieldString,
  fieldVarints,
  readFields,
  readPackedVarints,
  type WireField,
} from './protobuf-reader.ts';
export { ProtoWriter, WireType } from './protobuf-writer.ts';
export { createRandom, type Random } from './random.ts';
export { buildCrashModel, buildDatatypesModel, buildMultiInputModel, buildSumModel } from './test-models.ts';
