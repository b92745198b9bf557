// Accounting of every request the API server received, so tests and benchmarks can tell how many
// calls a client made and whether it polled or watched.

export interface RequestRecord {
  /** When the request arrived (ms since the epoch). */
  time: number;
  method: string;
  path: string;
  query: Record<string, string>;
  userAgent: string;
  /** Media type of the request body (e.g. `application/apply-patch+yaml`); empty without a body. */
  contentType: string;
  /** Kubernetes verb: get, list, watch, create, update, patch, delete, deletecollection; or `other`. */
  verb: string;
  /** `pods`, `deployments.apps`...; empty for discovery, version and OpenAPI requests. */
  resource: string;
  watch: boolean;
  /** HTTP status; 0 while a response is under way, or when the connection was reset. */
  status: number;
  /** Until the response ended (for watches, until the stream closed); undefined while open. */
  durationMs: number | undefined;
  /** Set when a fault was injected into this request. */
  fault: 'error' | 'reset' | undefined;
}

export interface RequestFilter {
  userAgent?: string | RegExp;
  method?: string;
  verb?: string;
  resource?: string;
  path?: string | RegExp;
  contentType?: string;
  watch?: boolean;
  status?: number;
  /** Only requests that arrived at or after this time (ms since the epoch). */
  since?: number;
}

function matchText(pattern: string | RegExp | undefined, value: string): boolean {
  if (pattern === undefined) return true;
  return typeof pattern === 'string' ? value.includes(pattern) : pattern.test(value);
}

export class RequestLog {
  readonly entries: RequestRecord[] = [];

  add(record: RequestRecord): RequestRecord {
    this.entries.push(record);
    return record;
  }

  filter(filter: RequestFilter = {}): RequestRecord[] {
    return this.entries.filter(
      (r) =>
        matchText(filter.userAgent, r.userAgent) &&
        matchText(filter.path, r.path) &&
        (filter.method === undefined || r.method === filter.method.toUpperCase()) &&
        (filter.verb === undefined || r.verb === filter.verb) &&
        (filter.resource === undefined || r.resource === filter.resource) &&
        (filter.contentType === undefined || r.contentType === filter.contentType) &&
        (filter.watch === undefined || r.watch === filter.watch) &&
        (filter.status === undefined || r.status === filter.status) &&
        (filter.since === undefined || r.time >= filter.since),
    );
  }

  count(filter: RequestFilter = {}): number {
    return this.filter(filter).length;
  }

  /** Request counts per user agent and verb, e.g. `{ 'Helm/3.18.0': { get: 12, watch: 2 } }`. */
  summary(filter: RequestFilter = {}): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const r of this.filter(filter)) {
      const agent = out[r.userAgent] ?? {};
      agent[r.verb] = (agent[r.verb] ?? 0) + 1;
      out[r.userAgent] = agent;
    }
    return out;
  }

  clear(): void {
    this.entries.length = 0;
  }
}
