/**
 * Environment variables a deployment may not set (`spec.env` keys and `spec.secrets[].env` names): the ones that
 * change how a process or its loader behaves, where it connects, or how Modelport talks to its workers. Set by a
 * deployment, any of them turns "configure a model" into "run code in the worker" (`NODE_OPTIONS=--import=data:...`,
 * `LD_PRELOAD`, `OPENSSL_CONF` loading an engine) or into a redirection of its traffic (proxies, CA bundles).
 *
 * Names are compared case-insensitively: Linux reads `http_proxy` beside `HTTP_PROXY`, and Windows ignores case.
 * The README's table is generated from `RESERVED_ENV` (a test checks the drift), and every entry has a test.
 *
 * ```ts
 * reservedEnvReason('NODE_OPTIONS'); // 'Node.js options: --require/--import run code before the worker starts'
 * reservedEnvReason('LOG_LEVEL');    // undefined
 * ```
 */

export interface ReservedEnvEntry {
  /** An exact name, or a prefix when it ends with `*` (`LD_*`). Upper case; matching ignores case. */
  readonly name: string;
  /** Why a deployment may not set it. */
  readonly reason: string;
}

export const RESERVED_ENV: readonly ReservedEnvEntry[] = [
  // Node.js and libuv: every NODE_* changes Node's behaviour, and the worker's IPC channel is NODE_CHANNEL_FD.
  { name: 'NODE_*', reason: 'Node.js runtime settings (NODE_OPTIONS runs code with --import/--require)' },
  { name: 'UV_*', reason: 'libuv thread pool and I/O settings of the Node.js process' },
  // The dynamic loaders of Linux (glibc, musl) and macOS.
  { name: 'LD_*', reason: 'dynamic loader (LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT load code into the process)' },
  { name: 'DYLD_*', reason: 'macOS dynamic loader (DYLD_INSERT_LIBRARIES loads code into the process)' },
  { name: 'GLIBC_TUNABLES', reason: 'glibc tunables (a loader attack surface, CVE-2023-4911)' },
  { name: 'MALLOC_*', reason: 'glibc allocator settings' },
  { name: 'GCONV_PATH', reason: 'glibc loads iconv modules (code) from this path' },
  { name: 'LOCPATH', reason: 'glibc locale data path' },
  { name: 'NLSPATH', reason: 'message catalogue path' },
  { name: 'HOSTALIASES', reason: 'resolver host aliases (redirects name lookups)' },
  { name: 'RES_OPTIONS', reason: 'resolver options' },
  { name: 'LOCALDOMAIN', reason: 'resolver search domains' },
  { name: 'RESOLV_HOST_CONF', reason: 'resolver configuration file' },
  { name: 'TMPDIR', reason: 'where the process writes temporary files' },
  // Shells and the search path: a runtime that spawns anything would find another program.
  { name: 'PATH', reason: 'program search path' },
  { name: 'HOME', reason: 'home folder (configuration files are read from it)' },
  { name: 'SHELL', reason: 'the shell programs start' },
  { name: 'IFS', reason: 'shell word splitting' },
  { name: 'ENV', reason: 'a file sh runs at start' },
  { name: 'BASH_ENV', reason: 'a file bash runs at start' },
  { name: 'BASH_FUNC_*', reason: 'exported bash functions' },
  { name: 'PS4', reason: 'bash expands it (runs commands) when tracing' },
  { name: 'PROMPT_COMMAND', reason: 'bash runs it' },
  // TLS: trusting another CA or loading an OpenSSL engine.
  { name: 'OPENSSL_*', reason: 'OpenSSL settings (OPENSSL_CONF and OPENSSL_MODULES load code)' },
  { name: 'SSL_CERT_FILE', reason: 'trusted CA bundle' },
  { name: 'SSL_CERT_DIR', reason: 'trusted CA folder' },
  { name: 'SSLKEYLOGFILE', reason: 'writes TLS session keys to a file' },
  // Proxies, in both spellings (case is ignored).
  { name: 'HTTP_PROXY', reason: 'routes outbound HTTP through a proxy' },
  { name: 'HTTPS_PROXY', reason: 'routes outbound HTTPS through a proxy' },
  { name: 'ALL_PROXY', reason: 'routes all outbound traffic through a proxy' },
  { name: 'NO_PROXY', reason: 'proxy exceptions' },
  { name: 'FTP_PROXY', reason: 'routes FTP through a proxy' },
  { name: 'GRPC_*', reason: 'gRPC library settings (proxies, trusted roots)' },
  // Other language runtimes a model type may use (container images of the Kubernetes and compose backends).
  { name: 'PYTHON*', reason: 'Python settings (PYTHONPATH, PYTHONSTARTUP run code)' },
  { name: 'PERL5*', reason: 'Perl settings (PERL5OPT, PERL5LIB run code)' },
  { name: 'RUBYOPT', reason: 'Ruby options (-r runs code)' },
  { name: 'RUBYLIB', reason: 'Ruby library path' },
  { name: 'JAVA_TOOL_OPTIONS', reason: 'JVM options (-javaagent runs code)' },
  { name: '_JAVA_OPTIONS', reason: 'JVM options (-javaagent runs code)' },
  { name: 'JDK_JAVA_OPTIONS', reason: 'JVM options (-javaagent runs code)' },
  { name: 'CLASSPATH', reason: 'JVM class path' },
  // How Modelport runs its workers and reaches its storage.
  { name: 'MODELPORT_*', reason: "Modelport's own settings (home, egress allow list, storage, image)" },
  { name: 'STORAGE_URI', reason: 'where a serving container downloads its model (set by Modelport)' },
  { name: 'AWS_*', reason: 'S3 credentials, endpoint and configuration files of the model download' },
  { name: 'KUBERNETES_*', reason: 'Kubernetes in-cluster API address' },
];

/** Names inside a reserved prefix that only libraries read, never the runtime itself. */
export const ALLOWED_ENV: readonly string[] = ['NODE_ENV'];

/** Why a deployment may not set `name`, or undefined when it may. */
export function reservedEnvReason(name: string): string | undefined {
  const upper = name.toUpperCase();
  if (ALLOWED_ENV.includes(upper)) return undefined;
  for (const entry of RESERVED_ENV) {
    const matches = entry.name.endsWith('*') ? upper.startsWith(entry.name.slice(0, -1)) : upper === entry.name;
    if (matches) return entry.reason;
  }
  return undefined;
}

/** A copy of `env` without the reserved names (the last line of defence when a process is forked). */
export function withoutReservedEnv(env: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([name]) => reservedEnvReason(name) === undefined));
}

/** The README's table of reserved names (generated; a test checks the README holds it). */
export function reservedEnvTable(): string {
  const rows = RESERVED_ENV.map((e) => `| \`${e.name}\` | ${e.reason} |`);
  return ['| Name (case ignored) | Why a deployment may not set it |', '| --- | --- |', ...rows].join('\n');
}
