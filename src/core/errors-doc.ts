/** Renders docs/errors.md from the error catalogue, so the reference page and the code cannot disagree. */
import { ERROR_CODES } from './errors.ts';

const GRPC_NAMES: Record<number, string> = {
  3: 'INVALID_ARGUMENT',
  4: 'DEADLINE_EXCEEDED',
  5: 'NOT_FOUND',
  6: 'ALREADY_EXISTS',
  7: 'PERMISSION_DENIED',
  8: 'RESOURCE_EXHAUSTED',
  9: 'FAILED_PRECONDITION',
  10: 'ABORTED',
  13: 'INTERNAL',
  14: 'UNAVAILABLE',
  16: 'UNAUTHENTICATED',
};

export function renderErrorsDoc(): string {
  const rows = Object.entries(ERROR_CODES).map(
    ([code, info]) => `| \`${code}\` | ${info.http} | ${GRPC_NAMES[info.grpc] ?? info.grpc} | ${info.summary} |`,
  );
  return `<!-- Generated from src/core/errors.ts by \`npm run docs\`; do not edit by hand. -->
# Error codes

Every error Modelport returns carries one of these stable codes. The control-plane API (\`/api/v1\`) answers

\`\`\`json
{ "error": { "code": "invalid_request", "message": "body.name: ...", "field": "body.name" } }
\`\`\`

The inference protocols answer in their own shape (V2: \`{"error": "message"}\`; gRPC: the status below with the
message), with the same HTTP or gRPC status. \`overloaded\` and \`not_ready\` come with a \`Retry-After\` header
(gRPC: \`retry-after\` trailing metadata). The CLI prints \`modelport: <message> (<code>)\` and exits non-zero.

| code | HTTP | gRPC | meaning and fix |
| --- | --- | --- | --- |
${rows.join('\n')}
`;
}
