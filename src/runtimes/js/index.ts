/**
 * The `js` runtime's public surface: custom JavaScript/TypeScript models in a .tgz folder. `createRuntime('js')`
 * loads `JsRuntime` lazily in workers; the registry uses `inspectJsModel`; the CLI uses `packFolder`.
 */
export { extractArchive, extractCached, sha256File } from './extract.ts';
export { inspectJsModel, type JsInspectOptions } from './inspect.ts';
export type { JsModelContext, JsModelModule, JsOutput } from './js-model.ts';
export { type JsModelManifest, MANIFEST_FILE, parseSignature, readJsManifest } from './manifest.ts';
export { badArchive, readTarGz, safeEntryPath, type TarEntry, type TarLimits } from './tar-reader.ts';
export { packFolder, packTar, type TarEntryInput, tarHeader } from './tar-writer.ts';

/** True when a file head is gzip (how an upload without `?format=` is recognised as a js model archive). */
export function isGzip(head: Uint8Array): boolean {
  return head[0] === 0x1f && head[1] === 0x8b;
}
