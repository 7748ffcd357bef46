/** Zod schemas of the API's objects: they validate requests and document responses in OpenAPI. */
import { z } from 'zod';
import { DATATYPES } from '../core/index.ts';

export const Name = z.string().min(1).max(63).describe('A lowercase name: letters, digits, ".", "_" or "-"');

export const ProjectParams = z.strictObject({ project: Name });
export const ModelParams = z.strictObject({ project: Name, model: Name });
export const VersionParams = z.strictObject({
  project: Name,
  model: Name,
  version: z
    .string()
    .regex(
      /^[1-9]\d{0,8}$|^[a-z][a-z0-9_-]{0,62}$|^commit:[0-9a-f]{7,64}$/,
      'use a version number, an alias, or commit:<data commit id prefix>',
    )
    .describe('A version number (3), an alias (champion), or the data commit it was trained on (commit:4f2a91c)'),
});
export const AliasParams = z.strictObject({ project: Name, model: Name, alias: Name });

export const TensorSpecSchema = z.object({
  name: z.string(),
  datatype: z.enum(DATATYPES),
  shape: z.array(z.number().int()).describe('-1 marks a dynamic dimension'),
  dimNames: z.array(z.string().nullable()).optional(),
});

export const SignatureSchema = z.object({ inputs: z.array(TensorSpecSchema), outputs: z.array(TensorSpecSchema) });

/** A friendly signature (src/signatures); the registry checks it in full against the version's tensors. */
export const FriendlySignatureSchema = z
  .strictObject({
    features: z
      .array(
        z.strictObject({
          name: z.string(),
          type: z.enum(['number', 'integer', 'boolean', 'string']).default('number'),
          min: z.number().optional(),
          max: z.number().optional(),
          values: z.array(z.union([z.string(), z.number()])).optional(),
        }),
      )
      .optional()
      .describe("Named features in order: the columns of the model's single input"),
    outputs: z
      .strictObject({
        labels: z.array(z.string()).optional().describe('Class names by class index'),
        probabilities: z.string().optional().describe('The output holding class probabilities'),
        label: z.string().optional().describe('The output holding the class index'),
        threshold: z.number().optional().describe('For a single-probability output'),
      })
      .optional(),
  })
  .describe('Named, typed features and an output mapping; V1 then takes rows keyed by feature name');

export const ProjectSchema = z.object({ name: z.string(), createdAt: z.string() });

export const ModelSchema = z.object({
  project: z.string(),
  name: z.string(),
  description: z.string(),
  latestVersion: z.number().int().nullable(),
  versionCount: z.number().int(),
  aliases: z.record(z.string(), z.number().int()),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const ModelVersionSchema = z.object({
  project: z.string(),
  model: z.string(),
  version: z.number().int(),
  format: z.string(),
  modelType: z.string(),
  sha256: z.string(),
  size: z.number().int(),
  signature: SignatureSchema,
  friendlySignature: FriendlySignatureSchema.nullable().optional(),
  description: z.string(),
  tags: z.record(z.string(), z.string()),
  metrics: z.record(z.string(), z.number()),
  lineage: z.object({
    source: z.string().nullable(),
    dataCommit: z.string().nullable(),
    pipelineRun: z.string().nullable(),
  }),
  aliases: z.array(z.string()),
  image: z.string().nullable().optional().describe('The OCI reference of a version that is a model image'),
  createdAt: z.string(),
});

const TagKey = z.string().min(1).max(128);
export const Tags = z.record(TagKey, z.string().max(1024));
export const Metrics = z.record(TagKey, z.number().refine(Number.isFinite, 'must be a finite number'));
