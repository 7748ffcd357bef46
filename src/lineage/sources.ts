/**
 * What the lineage room reads, as narrow interfaces: each is one or two methods of a service of another room
 * (registry, deployments, pipelines, data, the payload log, scans), passed by the composition root. The types are
 * imported for their shapes only; this room calls nothing of those rooms itself.
 */
import type { DataCommit, FileProfile, TreeEntry } from '../data/index.ts';
import type { Deployment } from '../deployments/index.ts';
import type { Run } from '../pipelines/index.ts';
import type { ModelVersion } from '../registry/index.ts';

/** A deployment revision as the deployments room stores it: what each arm was pinned to. */
export interface RevisionRecord {
  revision: number;
  createdAt: string;
  targets: {
    traffic: { ref: string; model: string; version: number; weight: number; tag?: string | undefined }[];
    shadow?: { ref: string; model: string; version: number; percent: number } | undefined;
  };
}

/** One logged prediction (the payload log's record, the fields lineage shows). */
export interface PredictionRecord {
  requestId: string;
  time: string;
  deployment: string;
  revision: number;
  arm: string;
  model: string;
  modelVersion: number;
  protocol: string;
  status: string;
  prediction: string | null;
  totalMs: number;
}

/** How many predictions a revision's arm answered (the payload log), with the first and last. */
export interface PredictionCount {
  revision: number;
  arm: string;
  count: number;
  first: string | null;
  last: string | null;
}

/** A scan's result about a model version or a data commit (the scans room). */
export interface ScanResult {
  id: string;
  name: string;
  state: string;
  /** Where the console shows it. */
  link: string | null;
  time: string | null;
  detail: Record<string, string | number | boolean | null>;
}

export interface LineageSources {
  models: {
    /** `name@version`, `name@alias`, `name@commit:<prefix>`; `not_found` naming the field when absent. */
    getVersion(project: string, ref: string): Promise<ModelVersion>;
    versionsFrom(project: string, from: { dataCommit: string } | { pipelineRun: string }): Promise<ModelVersion[]>;
  };
  deployments: {
    list(project: string): Promise<Deployment[]>;
    get(project: string, name: string): Promise<Deployment>;
    revisions(project: string, name: string): Promise<RevisionRecord[]>;
  };
  runs: {
    /** By id, unique prefix of 8+ characters, or `<pipeline>#<number>`. */
    getRun(project: string, ref: string): Promise<Run>;
    runsOfCommit(project: string, repo: string, commit: string): Promise<Run[]>;
  };
  data: {
    resolveCommit(project: string, repo: string, ref: string): Promise<DataCommit>;
    tree(
      project: string,
      repo: string,
      ref: string,
      path: string,
      recursive: boolean,
    ): Promise<{ commit: DataCommit; entries: TreeEntry[] }>;
    profile(project: string, repo: string, ref: string, path: string): Promise<FileProfile>;
  };
  /** The payload log, when this server has one. */
  predictions?: {
    /** The records of one request id (several when a shadow answered too). */
    get(project: string, requestId: string): Promise<PredictionRecord[]>;
    /** Per revision and arm, the predictions a deployment answered (one query per deployment and lineage query). */
    count(project: string, deployment: string): Promise<PredictionCount[]>;
  };
  /**
   * Scans (the scans room): results about a model version or a data commit. An extension point: absent until the
   * composition root passes it, and then its results join the graph as `scan` nodes.
   */
  scans?: {
    ofVersion(project: string, model: string, version: number): Promise<ScanResult[]>;
    ofCommit(project: string, repo: string, commit: string): Promise<ScanResult[]>;
  };
}
