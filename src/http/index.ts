/** The public surface of http/: other folders import from here, never a file inside. */
export { exceedsDepth, parseJson, readBody, tooLarge } from './body.ts';
export { capConnections, createHttpServer, LISTEN_BACKLOG, listenOn, type PathHandler } from './http-server.ts';
export { type InjectInit, inject } from './inject.ts';
export { errorHeaders, sendError, sendJson } from './respond.ts';
