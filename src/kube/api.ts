// Small helpers for talking to the API through client-node. Types only from the client: the
// agent shares this file with the controller, and the bundle gives the agent a trimmed copy of
// the client of its own (scripts/bundle.ts); a value imported here would pull the controller's
// whole copy into the agent.

/**
 * A client-node model written as an object literal. The models are classes (with static
 * serializer tables); the server only ever sees their JSON, so a literal of the same shape is
 * what we mean. Same helper as test/support's.
 */
export type Plain<T> = T extends Date ? T : T extends (infer U)[] ? Plain<U>[] : T extends object ? { [K in keyof T]: Plain<T[K]> } : T;
export const model = <T>(value: Plain<T>): T => value as unknown as T;

/**
 * The HTTP status of a failed client-node call, if it was one: client-node's ApiException
 * carries it as a numeric `code` (Node's own errors, a refused or reset connection, have
 * string codes such as "ECONNRESET").
 */
export function apiStatus(err: unknown): number | undefined {
  const code = err instanceof Error ? (err as Error & { code?: unknown }).code : undefined;
  return typeof code === "number" ? code : undefined;
}

/** The HTTP status of the first error in `err`'s cause chain that carries one. */
export function apiStatusIn(err: unknown): number | undefined {
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 8; e = e instanceof Error ? e.cause : undefined, depth += 1) {
    const status = apiStatus(e);
    if (status !== undefined) return status;
  }
  return undefined;
}

/**
 * The API server's own words about a failed call: the `message` of the Status it answered
 * (`DaemonSet.apps "x" is invalid: spec...: Forbidden: disallowed by cluster policy`), else
 * the error's message, looking through the cause chain.
 */
export function apiMessageIn(err: unknown): string {
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 8; e = e instanceof Error ? e.cause : undefined, depth += 1) {
    if (apiStatus(e) === undefined) continue;
    const body = (e as { body?: unknown }).body;
    const text = typeof body === "string" ? body : JSON.stringify(body);
    try {
      const message = (JSON.parse(text) as { message?: unknown }).message;
      if (typeof message === "string" && message !== "") return message;
    } catch {
      // not a Status body: fall through to the error's own message
    }
  }
  return err instanceof Error ? err.message : String(err);
}

export const isNotFound = (err: unknown): boolean => apiStatus(err) === 404;
export const isConflict = (err: unknown): boolean => apiStatus(err) === 409;

/** Wall-clock milliseconds; injected so tests can move time forward. */
export type Clock = () => number;
export const systemClock: Clock = () => Date.now();

/** metav1.Time: RFC 3339 in whole seconds, as the API server writes it. */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** A timestamp as client-node hands it over: a Date from typed lists, a string from watches. */
export function timeMs(value: unknown): number | undefined {
  if (value instanceof Date) return value.getTime();
  if (typeof value !== "string") return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}
