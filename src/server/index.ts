/** The public surface of server/ (the composition root): build the app, listen, or both. */
export { type App, buildApp, listen, type RunningServer, type StartOptions, startServer } from './server.ts';
