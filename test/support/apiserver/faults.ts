// Fault injection for reliability tests: fail or delay matching requests, cut every open watch,
// forget the event history. Rules match on method and path (without the query string).

export interface RequestMatcher {
  method?: string;
  pathPrefix?: string;
  pathRegex?: RegExp;
}

export interface FailRule extends RequestMatcher {
  status: number;
  /** how many matching requests fail; default 1 */
  count?: number;
  message?: string;
}

interface ActiveFail {
  rule: FailRule;
  remaining: number;
}

interface ActiveDelay {
  ms: number;
  matcher: RequestMatcher;
}

export function matches(m: RequestMatcher, method: string, path: string): boolean {
  if (m.method !== undefined && m.method.toUpperCase() !== method.toUpperCase()) return false;
  if (m.pathPrefix !== undefined && !path.startsWith(m.pathPrefix)) return false;
  if (m.pathRegex !== undefined && !m.pathRegex.test(path)) return false;
  return true;
}

export class Faults {
  private fails: ActiveFail[] = [];
  private delays: ActiveDelay[] = [];

  constructor(
    private readonly onDropWatches: () => number,
    private readonly onExpireHistory: () => void,
  ) {}

  /** The next `count` requests matching the rule answer `status` with a real-looking Status body. */
  failNext(rule: FailRule): void {
    this.fails.push({ rule, remaining: rule.count ?? 1 });
  }

  /** Every matching request waits `ms` before it is served, until `clear()`. */
  delay(ms: number, matcher: RequestMatcher = {}): void {
    this.delays.push({ ms, matcher });
  }

  /** Ends every open watch connection abruptly (the socket is destroyed); returns how many. */
  dropWatches(): number {
    return this.onDropWatches();
  }

  /** Forgets the event history: watches from any earlier resourceVersion get 410 Gone. */
  expireHistory(): void {
    this.onExpireHistory();
  }

  /** Removes every pending failure and delay. */
  clear(): void {
    this.fails = [];
    this.delays = [];
  }

  /** The failure this request must answer, consuming it; undefined to serve it. */
  takeFailure(method: string, path: string): FailRule | undefined {
    const hit = this.fails.find((f) => f.remaining > 0 && matches(f.rule, method, path));
    if (hit === undefined) return undefined;
    hit.remaining -= 1;
    this.fails = this.fails.filter((f) => f.remaining > 0);
    return hit.rule;
  }

  delayFor(method: string, path: string): number {
    return this.delays.filter((d) => matches(d.matcher, method, path)).reduce((sum, d) => sum + d.ms, 0);
  }
}
