/** Names for tests of the reserved environment variables (env-policy.ts). */
import { RESERVED_ENV } from './env-policy.ts';

/** A concrete name for every entry: the name itself, or for a prefix the variable that makes it dangerous. */
export const EXAMPLES: Record<string, string> = {
  'NODE_*': 'NODE_OPTIONS',
  'UV_*': 'UV_THREADPOOL_SIZE',
  'LD_*': 'LD_PRELOAD',
  'DYLD_*': 'DYLD_INSERT_LIBRARIES',
  'MALLOC_*': 'MALLOC_CHECK_',
  'BASH_FUNC_*': 'BASH_FUNC_LS',
  'OPENSSL_*': 'OPENSSL_CONF',
  'GRPC_*': 'GRPC_DEFAULT_SSL_ROOTS_FILE_PATH',
  'PYTHON*': 'PYTHONPATH',
  'PERL5*': 'PERL5OPT',
  'MODELPORT_*': 'MODELPORT_EGRESS_ALLOW_HOSTS',
  'AWS_*': 'AWS_SECRET_ACCESS_KEY',
  'KUBERNETES_*': 'KUBERNETES_SERVICE_HOST',
};

/** The names the security issue lists, and the loader and Modelport variables around them. */
export const NAMED_IN_THE_ISSUE = [
  'NODE_OPTIONS',
  'NODE_PATH',
  'NODE_EXTRA_CA_CERTS',
  'NODE_TLS_REJECT_UNAUTHORIZED',
  'NODE_CHANNEL_FD',
  'NODE_COMPILE_CACHE',
  'NODE_REPL_EXTERNAL_MODULE',
  'NODE_V8_COVERAGE',
  'LD_PRELOAD',
  'LD_LIBRARY_PATH',
  'LD_AUDIT',
  'DYLD_INSERT_LIBRARIES',
  'DYLD_LIBRARY_PATH',
  'PATH',
  'HOME',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'ALL_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'all_proxy',
  'STORAGE_URI',
  'AWS_ACCESS_KEY_ID',
  'MODELPORT_HOME',
];

/** One name per entry of RESERVED_ENV. */
export function examplesOfEveryEntry(): string[] {
  return RESERVED_ENV.map((e) => (e.name.endsWith('*') ? EXAMPLES[e.name] : e.name)).filter(
    (n): n is string => n !== undefined,
  );
}
