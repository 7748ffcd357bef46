/** Routes of the model-type catalogue: read by anyone with `read`, changed by administrators. */
import { z } from 'zod';
import type { ModelTypeCatalogue } from '../../modeltypes/index.ts';
import { BaseImageSchema, ModelTypeSchema } from '../../modeltypes/index.ts';
import { route } from '../route.ts';

export interface ModelTypeRoutesDeps {
  catalogue: ModelTypeCatalogue;
}

const TypeParams = z.strictObject({ name: z.string() });
// The router checks the shape; the catalogue checks the meaning (runtime, images, templates, references).
const AnyBody = ModelTypeSchema;

export function modelTypeRoutes({ catalogue }: ModelTypeRoutesDeps) {
  return [
    route({
      id: 'listModelTypes',
      method: 'GET',
      path: '/modeltypes',
      permission: 'read',
      tag: 'modeltypes',
      summary: 'List the model types',
      response: z.object({ modeltypes: z.array(ModelTypeSchema) }),
      handler: async () => ({ modeltypes: await catalogue.list() }),
    }),
    route({
      id: 'getModelType',
      method: 'GET',
      path: '/modeltypes/:name',
      permission: 'read',
      tag: 'modeltypes',
      summary: 'Show a model type with its templates and base images',
      params: TypeParams,
      response: ModelTypeSchema,
      handler: async ({ params }) => catalogue.get(params.name),
    }),
    route({
      id: 'addModelType',
      method: 'POST',
      path: '/modeltypes',
      permission: 'admin',
      tag: 'modeltypes',
      summary: 'Add a model type (the body is one entry of modeltypes.yaml, as JSON)',
      body: AnyBody,
      status: 201,
      response: ModelTypeSchema,
      handler: async ({ body }) => catalogue.add(body),
    }),
    route({
      id: 'updateModelType',
      method: 'PUT',
      path: '/modeltypes/:name',
      permission: 'admin',
      tag: 'modeltypes',
      summary: 'Replace a model type as a whole',
      params: TypeParams,
      body: AnyBody,
      response: ModelTypeSchema,
      handler: async ({ params, body }) => catalogue.update(params.name, body),
    }),
    route({
      id: 'setModelTypeDefaultImage',
      method: 'PUT',
      path: '/modeltypes/:name/default-image',
      permission: 'admin',
      tag: 'modeltypes',
      summary: 'Make one of the available base images the default',
      params: TypeParams,
      body: z.strictObject({ name: z.string() }),
      response: ModelTypeSchema,
      handler: async ({ params, body }) => catalogue.setDefaultImage(params.name, body.name),
    }),
    route({
      id: 'addModelTypeImage',
      method: 'POST',
      path: '/modeltypes/:name/images',
      permission: 'admin',
      tag: 'modeltypes',
      summary: 'Add a base image to the available ones',
      params: TypeParams,
      body: BaseImageSchema,
      status: 201,
      response: ModelTypeSchema,
      handler: async ({ params, body }) => catalogue.addImage(params.name, body),
    }),
  ];
}
