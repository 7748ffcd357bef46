/** The public surface of server/: other folders import from here, never a file inside. */
export { createHttpServer } from './http-server.ts';
export { type RunningServer, type StartOptions, startServer } from './server.ts';
