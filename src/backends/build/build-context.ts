/**
 * `modelport build`: a Docker build context that turns one model version into a self-contained serving image, for
 * `docker build` or kaniko (the OpenDataHub guide builds an image per model). The context holds:
 *
 * - `Dockerfile`: FROM the model type's base image (Modelport's own image for onnx, js and hosted), the artifact
 *   copied to `/models/<model>/<version>` (where compose bundles put it, so the type's compose template applies as
 *   it is), a RUN step that verifies its sha256 and fails the build on a mismatch, the type's environment and
 *   command, OCI and `dev.modelport.*` labels, a non-root user and a HEALTHCHECK on `/v2/health/ready`;
 * - `model/<sha256>`: the artifact, named by its checksum;
 * - `modelport/verify-sha256.sh`, `modelport/healthcheck.sh`: the two scripts the Dockerfile runs (POSIX sh, with
 *   whichever of sha256sum, node, python3 or openssl / curl, wget, python3 or node the base image has);
 * - `modelport/signature.json`: the version's signature and friendly signature (read by Modelport's image);
 * - `modelport/sbom.cdx.json`: a CycloneDX 1.6 SBOM (sbom.ts).
 *
 * Everything is a function of the version, its type and the lockfile: the same input gives the same bytes.
 *
 * ```ts
 * const files = buildContextFiles({ version, type, template, sbom });   // every file but the artifact
 * ```
 */
import { ModelportError } from '../../core/index.ts';
import type { ModelType } from '../../modeltypes/index.ts';
import type { ModelVersion } from '../../registry/index.ts';
import { BUILT_IN_TEMPLATES, bindVersion, MODEL_PORT, renderBinding } from '../render-input.ts';

/** The non-root user the image runs as: an arbitrary UID in group 0, as OpenShift runs images. */
export const IMAGE_USER = '10001:0';

/** Where the artifact lands in the image, as in compose bundles. */
export const modelPath = (v: Pick<ModelVersion, 'model' | 'version'>) => `/models/${v.model}/${v.version}`;

/** The artifact's path inside the context. */
export const artifactPath = (v: Pick<ModelVersion, 'sha256'>) => `model/${v.sha256}`;

export interface BuildContextInput {
  version: ModelVersion;
  type: ModelType;
  /**
   * The type's compose template text (refs resolved); undefined for Modelport's own runtimes without one (the
   * built-in template is used).
   */
  template: string | undefined;
  /** Name of one of the type's `available_base_images` to build on instead of the default (`--base-image`). */
  baseImage?: string | undefined;
  /** Modelport's image for onnx, js and hosted models (`--modelport-image`); default the type's default image. */
  modelportImage?: string | undefined;
  /** The CycloneDX document (sbom.ts), written as `modelport/sbom.cdx.json`. */
  sbom: unknown;
}

export interface ContextFile {
  /** Relative to the context folder, with `/`. */
  path: string;
  content: string;
  /** 0o755 for the scripts, else 0o644. */
  mode: number;
}

/** Fails the image build when the copied model is not the registered one. */
export const VERIFY_SCRIPT = `#!/bin/sh
# Written by modelport build: fails the image build when the model file is not the registered one.
# Usage: verify-sha256.sh FILE EXPECTED_SHA256
set -eu
file="$1"
expected="$2"
if [ ! -f "$file" ]; then
  echo "modelport: $file is missing from the image; run modelport build again" >&2
  exit 1
fi
if command -v sha256sum >/dev/null 2>&1; then
  out=$(sha256sum "$file")
elif command -v node >/dev/null 2>&1; then
  out=$(node -e "process.stdout.write(require('crypto').createHash('sha256').update(require('fs').readFileSync(process.argv[1])).digest('hex'))" "$file")
elif command -v python3 >/dev/null 2>&1; then
  out=$(python3 -c "import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest())" "$file")
elif command -v openssl >/dev/null 2>&1; then
  out=$(openssl dgst -sha256 -r "$file")
else
  echo "modelport: the base image has none of sha256sum, node, python3 or openssl to verify $file" >&2
  exit 2
fi
actual=\${out%% *}
if [ "$actual" != "$expected" ]; then
  echo "modelport: $file has sha256 $actual but the registered model has $expected: the build context was changed; run modelport build again" >&2
  exit 1
fi
echo "modelport: $file sha256 $actual verified"
`;

/** Exits 0 when the model server answers /v2/health/ready with 2xx, whatever HTTP client the base image has. */
export const HEALTHCHECK_SCRIPT = `#!/bin/sh
# Written by modelport build: the image's HEALTHCHECK, asking the model server's /v2/health/ready.
# Usage: healthcheck.sh [PORT]
url="http://127.0.0.1:\${1:-${MODEL_PORT}}/v2/health/ready"
if command -v curl >/dev/null 2>&1; then
  exec curl -fsS -o /dev/null --max-time 5 "$url"
elif command -v wget >/dev/null 2>&1; then
  exec wget -q -O /dev/null -T 5 "$url"
elif command -v python3 >/dev/null 2>&1; then
  exec python3 -c "import sys,urllib.request; sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=5).status < 300 else 1)" "$url"
elif command -v node >/dev/null 2>&1; then
  exec node -e "fetch(process.argv[1], { signal: AbortSignal.timeout(5000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))" "$url"
fi
echo "modelport: the image has none of curl, wget, python3 or node to check $url" >&2
exit 1
`;

/** Every file of the context but the artifact (which the caller streams to `artifactPath(version)`). */
export function buildContextFiles(input: BuildContextInput): ContextFile[] {
  const { version, type } = input;
  if (version.image) {
    throw new ModelportError(
      'invalid_request',
      `model: ${version.model}@${version.version} is the image ${version.image} itself, so there is nothing to build; deploy it as it is, or pull and retag it with docker`,
      { field: 'model' },
    );
  }
  const own = type.runtime !== 'container';
  const template = input.template ?? (own ? BUILT_IN_TEMPLATES.compose : undefined);
  if (template === undefined) {
    throw new ModelportError(
      'invalid_request',
      `model: the model type '${type.name}' has no compose template, which build uses for the image's command and environment; add one to the type`,
      { field: 'model' },
    );
  }
  const binding = bindVersion(version, type, template, {
    baseImage: input.baseImage,
    baseImageField: 'baseImage',
    modelportImage: input.modelportImage ?? type.default_base_image.value,
  });
  const path = modelPath(version);
  const service = renderBinding(
    binding,
    { name: version.model, namespace: version.project, 'model.uri': path, 'model.path': path },
    'model',
  );
  const env: Record<string, string> = {
    ...stringMap(service['environment'], 'environment'),
    ...(own ? { MODELPORT_SIGNATURE_FILE: '/etc/modelport/signature.json' } : {}),
  };
  const labels: Record<string, string> = {
    'org.opencontainers.image.title': version.model,
    'org.opencontainers.image.version': String(version.version),
    'org.opencontainers.image.created': version.createdAt,
    'org.opencontainers.image.description':
      version.description || `${version.model}@${version.version} (${type.name}) served on ${binding.image}`,
    'org.opencontainers.image.base.name': binding.image,
    ...(version.lineage.source ? { 'org.opencontainers.image.source': version.lineage.source } : {}),
    'dev.modelport.project': version.project,
    'dev.modelport.model': version.model,
    'dev.modelport.version': String(version.version),
    'dev.modelport.sha256': version.sha256,
    'dev.modelport.model-type': type.name,
  };
  const lines = [
    `# Generated by modelport build for ${version.model}@${version.version} (model type ${type.name}).`,
    '# Build: docker build -t <registry>/<name>:<tag> .   or kaniko: --context dir://<this folder>',
    `FROM ${binding.image}`,
    '',
    `COPY ${artifactPath(version)} ${path}`,
    'COPY modelport/ /etc/modelport/',
    '# Fails the build when the model is not the registered one.',
    `RUN ${json(['sh', '/etc/modelport/verify-sha256.sh', path, version.sha256])}`,
    '',
    ...Object.entries(env).map(([k, v]) => `ENV ${checkEnvName(k)}=${quote(v)}`),
    `LABEL ${Object.entries(labels)
      .map(([k, v]) => `${k}=${quote(v)}`)
      .join(' \\\n      ')}`,
    '',
    `# Non-root: an arbitrary UID in group 0 (as OpenShift runs images); the model and scripts stay root-owned, read-only.`,
    `USER ${IMAGE_USER}`,
    `EXPOSE ${MODEL_PORT}`,
    `HEALTHCHECK --interval=10s --timeout=6s --start-period=30s --retries=3 CMD ${json(['sh', '/etc/modelport/healthcheck.sh', String(MODEL_PORT)])}`,
    ...(service['entrypoint'] !== undefined
      ? [`ENTRYPOINT ${json(command(service['entrypoint'], 'entrypoint'))}`]
      : []),
    ...(service['command'] !== undefined ? [`CMD ${json(command(service['command'], 'command'))}`] : []),
  ];
  const signature = {
    model: version.model,
    version: version.version,
    signature: version.signature,
    friendlySignature: version.friendlySignature ?? null,
  };
  return [
    { path: 'Dockerfile', content: `${lines.join('\n')}\n`, mode: 0o644 },
    { path: '.dockerignore', content: '# Everything here goes into the image.\n', mode: 0o644 },
    { path: 'modelport/healthcheck.sh', content: HEALTHCHECK_SCRIPT, mode: 0o755 },
    { path: 'modelport/sbom.cdx.json', content: `${JSON.stringify(input.sbom, null, 2)}\n`, mode: 0o644 },
    { path: 'modelport/signature.json', content: `${JSON.stringify(signature, null, 2)}\n`, mode: 0o644 },
    { path: 'modelport/verify-sha256.sh', content: VERIFY_SCRIPT, mode: 0o755 },
  ];
}

const json = (value: readonly string[]) => JSON.stringify(value);

/** A Dockerfile double-quoted word: `\`, `"` and `$` escaped so nothing is expanded; no line breaks. */
function quote(value: string): string {
  if (/[\r\n]/.test(value)) {
    throw new ModelportError('invalid_request', `model: a label or environment value may not hold a line break`, {
      field: 'model',
    });
  }
  return `"${value.replace(/[\\"$]/g, '\\$&')}"`;
}

function checkEnvName(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw new ModelportError('invalid_request', `model: the type's template sets an invalid variable name '${name}'`, {
      field: 'model',
    });
  }
  return name;
}

/** The compose template's `environment` as a map (compose also allows a KEY=value list). */
function stringMap(value: unknown, field: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (Array.isArray(value)) {
    return Object.fromEntries(
      value.map((item) => {
        const text = String(item);
        const eq = text.indexOf('=');
        return eq < 0 ? [text, ''] : [text.slice(0, eq), text.slice(eq + 1)];
      }),
    );
  }
  if (typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]));
  throw new ModelportError('invalid_request', `model: the type's compose template has a ${field} that is not a map`, {
    field: 'model',
  });
}

/** A compose `command`/`entrypoint`: a list as it is, a string split on spaces (compose's own rule, no shell). */
function command(value: unknown, field: string): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value === 'string') return value.split(/\s+/).filter(Boolean);
  throw new ModelportError('invalid_request', `model: the type's compose template has a ${field} that is not a list`, {
    field: 'model',
  });
}
