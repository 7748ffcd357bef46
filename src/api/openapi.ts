/**
 * The OpenAPI 3.1 document of the control plane, generated from the same route table and zod schemas that
 * validate requests, so the document cannot drift from what the server accepts.
 */
import { z } from 'zod';
import { ERROR_CODES } from '../core/index.ts';
import { type AnyRoute, isStreamBody } from './route.ts';

type JsonSchema = Record<string, unknown>;

const toSchema = (schema: z.ZodType): JsonSchema => {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io: 'input',
    unrepresentable: 'any',
  }) as JsonSchema;
  return rest;
};

const ERROR_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', enum: Object.keys(ERROR_CODES) },
        message: { type: 'string' },
        field: { type: 'string', description: 'The request field at fault, as a path such as body.tags' },
      },
    },
  },
};

function parameters(schema: z.ZodType | undefined, location: 'path' | 'query'): JsonSchema[] {
  if (schema === undefined) return [];
  const json = toSchema(schema);
  const properties = (json['properties'] ?? {}) as Record<string, JsonSchema>;
  const required = new Set((json['required'] as string[] | undefined) ?? []);
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: location,
    required: location === 'path' || (required.has(name) && property['type'] !== 'array'),
    ...(property['description'] ? { description: property['description'] } : {}),
    schema: property,
    ...(property['type'] === 'array' ? { style: 'form', explode: true } : {}),
  }));
}

export function buildOpenApiDocument(routes: readonly AnyRoute[], version: string): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const def of routes) {
    const path = `/api/v1${def.path.replace(/:([a-zA-Z]+)/g, '{$1}')}`;
    const status = String(def.status ?? 200);
    const operation: JsonSchema = {
      operationId: def.id,
      summary: def.summary,
      tags: [def.tag],
      'x-permission': def.permission,
      ...(def.alsoNeeds ? { 'x-also-needs': { permission: def.alsoNeeds.permission, when: def.alsoNeeds.when } } : {}),
      parameters: [...parameters(def.params, 'path'), ...parameters(def.query, 'query')],
      responses: {
        [status]: {
          description: 'Success',
          ...(typeof def.response === 'object'
            ? { content: { 'application/json': { schema: toSchema(def.response) } } }
            : {}),
        },
        default: {
          description: 'An error; `code` is listed in docs/errors.md',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
      },
    };
    if (def.body !== undefined) {
      operation['requestBody'] = isStreamBody(def.body)
        ? {
            required: true,
            content: {
              [def.body.stream]: {
                schema: def.body.schema ? toSchema(def.body.schema) : { type: 'string', format: 'binary' },
              },
            },
          }
        : { required: true, content: { 'application/json': { schema: toSchema(def.body) } } };
    }
    paths[path] ??= {};
    paths[path][def.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Modelport control plane',
      version,
      description: 'Models, versions, aliases and the rest of the platform. Inference is served under /v2 and /v1.',
    },
    servers: [{ url: '/' }],
    // With auth on (--auth, or any address but loopback) every route needs a bearer token; see x-permission.
    security: [{ bearerToken: [] }],
    paths,
    components: {
      schemas: { Error: ERROR_SCHEMA },
      securitySchemes: {
        bearerToken: {
          type: 'http',
          scheme: 'bearer',
          description: 'A Modelport API token (mp_…) from `modelport tokens create` or the admin token file',
        },
      },
    },
  };
}
