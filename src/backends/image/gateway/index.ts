/** The compose bundle's gateway (`modelport gateway`): see gateway.ts. */
export { type GatewayOptions, type RunningGateway, startGateway } from './gateway.ts';
export { type GatewayRoutes, parseRoutes } from './routes-file.ts';
