/** Lineage: the graph from a prediction back to its data and forward to what a commit reached; OpenLineage events. */
export { LineageService, type LineageServiceOptions } from './lineage-service.ts';
export {
  type CommitInput,
  eventTypeOf,
  nameUuid,
  OPENLINEAGE_SCHEMA_URL,
  type OpenLineageDataset,
  OpenLineageEvents,
  type OpenLineageOptions,
  type OpenLineageRunEvent,
  OpenLineageValidator,
} from './openlineage.ts';
export { type EmitOutcome, OpenLineageEmitter, type OpenLineageEmitterOptions } from './openlineage-emitter.ts';
export { commitInputOf, OpenLineageFeed } from './openlineage-feed.ts';
export type {
  LineageSources,
  PredictionCount,
  PredictionRecord,
  RevisionRecord,
  ScanResult,
} from './sources.ts';
export {
  type Direction,
  type LineageEdge,
  type LineageGraph,
  type LineageNode,
  NODE_KINDS,
  type NodeKind,
} from './types.ts';
