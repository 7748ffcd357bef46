/**
 * The routing table compiled from a checked routes file: each deployment by name, and a model name that only one
 * deployment serves as a route of its own (split over that deployment's targets of the model).
 */
import type { ParsedDeployment, ParsedRoutes } from './routes-file.ts';

export interface Upstream {
  /** `model@version`, in logs, metrics and the `modelport-target` header. */
  label: string;
  model: string;
  version: number;
  origin: URL;
}

export interface RoutedUpstream extends Upstream {
  weight: number;
  tag?: string | undefined;
}

export interface Route {
  deployment: string;
  modelIdHeader: string;
  stickyHeader?: string | undefined;
  targets: RoutedUpstream[];
  shadow?: (Upstream & { percent: number }) | undefined;
}

export interface Table {
  byName: Map<string, Route>;
  /** Every deployment's model-id header, lower-cased. */
  modelIdHeaders: Set<string>;
  /** Every traffic upstream once, for readiness. */
  upstreams: Upstream[];
}

const upstreamOf = (t: { model: string; version: number; url: string }): Upstream => ({
  label: `${t.model}@${t.version}`,
  model: t.model,
  version: t.version,
  origin: new URL(t.url),
});

function routeOf(d: ParsedDeployment, traffic: ParsedDeployment['traffic']): Route {
  // A model's share of a split deployment is rescaled to 100 (equal shares when all its weights are 0).
  const sum = traffic.reduce((n, t) => n + t.weight, 0);
  return {
    deployment: d.name,
    modelIdHeader: d.modelIdHeader.toLowerCase(),
    stickyHeader: d.stickyHeader?.toLowerCase(),
    targets: traffic.map((t) => ({
      ...upstreamOf(t),
      weight: sum > 0 ? (t.weight * 100) / sum : 100 / traffic.length,
      tag: t.tag,
    })),
    shadow: d.shadow ? { ...upstreamOf(d.shadow), percent: d.shadow.percent } : undefined,
  };
}

export function compile(routes: ParsedRoutes): Table {
  const byName = new Map<string, Route>();
  for (const d of routes.deployments) byName.set(d.name, routeOf(d, d.traffic));
  const owners = new Map<string, ParsedDeployment[]>();
  for (const d of routes.deployments) {
    for (const model of new Set(d.traffic.map((t) => t.model))) owners.set(model, [...(owners.get(model) ?? []), d]);
  }
  for (const [model, [only, ...others]] of owners) {
    if (only && others.length === 0 && !byName.has(model)) {
      byName.set(
        model,
        routeOf(
          only,
          only.traffic.filter((t) => t.model === model),
        ),
      );
    }
  }
  const upstreams = new Map(routes.deployments.flatMap((d) => d.traffic.map((t) => [t.url, upstreamOf(t)] as const)));
  return {
    byName,
    modelIdHeaders: new Set(routes.deployments.map((d) => d.modelIdHeader.toLowerCase())),
    upstreams: [...upstreams.values()],
  };
}
