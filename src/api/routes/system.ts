/** Routes about the server itself. */
import { z } from 'zod';
import { route } from '../route.ts';

export function systemRoutes(info: { version: string; database: string; artifacts: string }) {
  return [
    route({
      id: 'getHealth',
      method: 'GET',
      path: '/health',
      permission: 'read',
      tag: 'system',
      summary: 'Liveness of the control plane',
      response: z.object({ status: z.literal('ok') }),
      handler: async () => ({ status: 'ok' as const }),
    }),
    route({
      id: 'getInfo',
      method: 'GET',
      path: '/info',
      permission: 'read',
      tag: 'system',
      summary: 'Server version and the kinds of stores in use',
      response: z.object({ name: z.string(), version: z.string(), database: z.string(), artifacts: z.string() }),
      handler: async () => ({
        name: 'modelport',
        version: info.version,
        database: info.database,
        artifacts: info.artifacts.startsWith('s3://') ? 's3' : 'folder',
      }),
    }),
  ];
}
