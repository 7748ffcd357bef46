/**
 * The `local` backend: deployments served by this server's own workers, and the resolver the gateway uses to route
 * a request to a deployment's targets.
 */
export { DeploymentResolver, type LocalRoutes } from './deployment-resolver.ts';
export { LocalBackend, type LocalBackendOptions, type RoutedTarget, type RouteTable } from './local-backend.ts';
