/**
 * A CycloneDX 1.6 SBOM (JSON) for a model's serving image, for an image-scan step: the image itself
 * (`metadata.component`), the base image, the model (a `machine-learning-model` with its sha256), and, when the base
 * is Modelport's own image, Modelport and every Node package that `npm ci --omit=dev` installs, read from
 * package-lock.json (version, purl, the lockfile's integrity hash, license). Nothing in it depends on the clock or
 * the machine: the same version and lockfile give the same bytes. Validated against the official schema in
 * src/backends/schemas/cyclonedx/ by sbom.test.ts.
 */
import { createHash } from 'node:crypto';
import type { ModelVersion } from '../../registry/index.ts';

/** The parts of package-lock.json (lockfileVersion 2 or 3) read here. */
export interface Lockfile {
  name?: string;
  version?: string;
  lockfileVersion?: number;
  packages?: Record<
    string,
    {
      name?: string;
      version?: string;
      integrity?: string;
      license?: string;
      dev?: boolean;
      optional?: boolean;
      devOptional?: boolean;
      link?: boolean;
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    }
  >;
}

export interface SbomInput {
  version: Pick<ModelVersion, 'project' | 'model' | 'version' | 'sha256' | 'size' | 'createdAt' | 'modelType'>;
  /** The image the context builds on. */
  baseImage: string;
  /** Modelport's lockfile when the base is Modelport's image (its Node packages are in the image); else undefined. */
  lockfile?: Lockfile | undefined;
  /** Known SPDX license ids (the schema's enum): others are written as an expression or a name. */
  spdxIds?: ReadonlySet<string>;
}

interface Component {
  type: string;
  'bom-ref': string;
  name: string;
  group?: string;
  version?: string;
  scope?: 'required' | 'optional';
  purl?: string;
  hashes?: { alg: string; content: string }[];
  licenses?: ({ license: { id: string } | { name: string } } | { expression: string })[];
  description?: string;
}

const HASH_ALGS: Record<string, string> = { sha1: 'SHA-1', sha256: 'SHA-256', sha384: 'SHA-384', sha512: 'SHA-512' };

/** `sha512-<base64>` (npm's integrity, possibly several) as CycloneDX hashes in hex. */
function integrityHashes(integrity: string | undefined): Component['hashes'] {
  const hashes = (integrity ?? '')
    .split(/\s+/)
    .map((entry) => /^(sha1|sha256|sha384|sha512)-([A-Za-z0-9+/=]+)$/.exec(entry))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ alg: HASH_ALGS[m[1]!]!, content: Buffer.from(m[2]!, 'base64').toString('hex') }));
  return hashes.length ? hashes : undefined;
}

function licenses(license: string | undefined, spdx: ReadonlySet<string> | undefined): Component['licenses'] {
  if (!license) return undefined;
  if (spdx?.has(license)) return [{ license: { id: license } }];
  if (/^[A-Za-z0-9.+\-() ]+$/.test(license) && /\b(OR|AND|WITH)\b/.test(license)) return [{ expression: license }];
  return [{ license: { name: license } }];
}

/** `pkg:npm/%40scope/name@1.0.0` (purl-spec: the scope's `@` percent-encoded). */
export function npmPurl(name: string, version: string): string {
  const encoded = name.startsWith('@') ? `%40${name.slice(1)}` : name;
  return `pkg:npm/${encoded}@${encodeURIComponent(version)}`;
}

/** A name-based UUID (the version-5 layout, over sha256) so that the serial number is stable. */
function stableUuid(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  const variant = ((Number.parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The package name of a lockfile path (`node_modules/a/node_modules/@s/b` -> `@s/b`). */
const nameOfPath = (path: string) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);

/** The installed path a dependency of the package at `from` resolves to (Node's lookup, nearest node_modules up). */
function resolveDependency(packages: Record<string, unknown>, from: string, name: string): string | undefined {
  let base = from;
  for (;;) {
    const candidate = `${base ? `${base}/` : ''}node_modules/${name}`;
    if (candidate in packages) return candidate;
    if (!base) return undefined;
    const cut = base.lastIndexOf('/node_modules/');
    base = cut < 0 ? '' : base.slice(0, cut);
  }
}

export function createSbom(input: SbomInput): Record<string, unknown> {
  const { version } = input;
  const imageRef = 'image';
  const components: Component[] = [
    {
      type: 'container',
      'bom-ref': 'base-image',
      name: input.baseImage,
      description: 'the base image the model image is built on',
    },
    {
      type: 'machine-learning-model',
      'bom-ref': 'model',
      name: version.model,
      version: String(version.version),
      hashes: [{ alg: 'SHA-256', content: version.sha256 }],
      description: `model type ${version.modelType}, ${version.size} bytes, copied to /models/${version.model}/${version.version}`,
    },
  ];
  const dependencies: { ref: string; dependsOn?: string[] }[] = [];
  const packages = input.lockfile?.packages;
  if (input.lockfile && packages) {
    const root = packages[''] ?? {};
    const refOf = new Map<string, string>();
    const installed = Object.entries(packages)
      .filter(([path, p]) => path.includes('node_modules/') && !p.dev && !p.link && p.version)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const seen = new Set<string>();
    for (const [path, p] of installed) {
      const name = p.name ?? nameOfPath(path);
      const purl = npmPurl(name, p.version!);
      refOf.set(path, purl);
      if (seen.has(purl)) continue;
      seen.add(purl);
      const slash = name.startsWith('@') ? name.indexOf('/') : -1;
      const hashes = integrityHashes(p.integrity);
      const license = licenses(p.license, input.spdxIds);
      components.push({
        type: 'library',
        'bom-ref': purl,
        ...(slash > 0 ? { group: name.slice(0, slash), name: name.slice(slash + 1) } : { name }),
        version: p.version!,
        scope: p.optional || p.devOptional ? 'optional' : 'required',
        purl,
        ...(hashes ? { hashes } : {}),
        ...(license ? { licenses: license } : {}),
      });
    }
    const app = npmPurl(input.lockfile.name ?? 'modelport', input.lockfile.version ?? root.version ?? '0.0.0');
    components.push({
      type: 'application',
      'bom-ref': app,
      name: input.lockfile.name ?? 'modelport',
      version: input.lockfile.version ?? root.version ?? '0.0.0',
      purl: app,
      description: "Modelport's model server (serve-model), the image's entrypoint",
    });
    const dependsOn = (from: string, deps: Record<string, string> | undefined) =>
      [
        ...new Set(
          Object.keys(deps ?? {})
            .map((n) => resolveDependency(packages, from, n))
            .filter((p): p is string => p !== undefined && refOf.has(p))
            .map((p) => refOf.get(p)!),
        ),
      ].sort();
    dependencies.push({
      ref: app,
      dependsOn: dependsOn('', { ...root.dependencies, ...root.optionalDependencies }),
    });
    const done = new Set<string>();
    for (const [path, p] of installed) {
      const ref = refOf.get(path)!;
      if (done.has(ref)) continue;
      done.add(ref);
      const on = dependsOn(path, { ...p.dependencies, ...p.optionalDependencies });
      dependencies.push(on.length ? { ref, dependsOn: on } : { ref });
    }
  }
  const own = components.filter((c) => c.type === 'application').map((c) => c['bom-ref']);
  dependencies.unshift({ ref: imageRef, dependsOn: ['base-image', 'model', ...own].sort() });
  const body = {
    metadata: {
      timestamp: version.createdAt,
      tools: { components: [{ type: 'application', name: 'modelport build' }] },
      component: {
        type: 'container',
        'bom-ref': imageRef,
        name: version.model,
        version: String(version.version),
        description: `the serving image of ${version.project}/${version.model}@${version.version}`,
      },
    },
    components,
    dependencies,
  };
  return {
    $schema: 'http://cyclonedx.org/schema/bom-1.6.schema.json',
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    serialNumber: `urn:uuid:${stableUuid(JSON.stringify(body))}`,
    version: 1,
    ...body,
  };
}
