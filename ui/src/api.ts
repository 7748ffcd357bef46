/** The console's one connection to the control plane: the typed client, on the origin that served the page. */
import { ModelportApiError, ModelportClient } from '../../src/client/client.ts';

export const api = new ModelportClient({
  url: window.location.origin,
  timeoutMs: 30_000,
  // Bound to window: browsers refuse fetch called as a method of another object.
  fetch: (input, init) => window.fetch(input, init),
});

/** An error as the API words it (its message), or the thrown value's text. */
export function errorText(error: unknown): string {
  if (error instanceof ModelportApiError) return error.message;
  return error instanceof Error ? error.message : String(error);
}
