// The API server's own record of the requests it served: its audit log (level Metadata, written
// before the response completes), read back as request records, so tests can tell what a client
// asked and whether it wrote.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { stringify } from 'yaml';

/**
 * Audit policy: every request at level Metadata, except those of the control plane's own
 * components and of the test harness (`harnessUser`), which a real cluster's clients would not see.
 */
export function auditPolicy(harnessUser: string): string {
  return stringify({
    apiVersion: 'audit.k8s.io/v1',
    kind: 'Policy',
    omitStages: ['RequestReceived'],
    rules: [
      {
        level: 'None',
        users: [
          harnessUser,
          'kwok-controller',
          'system:kube-controller-manager',
          'system:kube-scheduler',
          'system:apiserver',
        ],
      },
      // kube-controller-manager's controllers, with --use-service-account-credentials.
      { level: 'None', userGroups: ['system:serviceaccounts:kube-system'] },
      { level: 'Metadata' },
    ],
  });
}

/** Flags that make kube-apiserver write that log, synchronously, to `path`. */
export function auditFlags(policyFile: string, path: string): string[] {
  return [
    `--audit-policy-file=${policyFile}`,
    `--audit-log-path=${path}`,
    '--audit-log-format=json',
    // Blocking: the entry is written before the response is sent, so tests see it at once.
    '--audit-log-mode=blocking',
    // No rotation under a test (the reader follows one file).
    '--audit-log-maxsize=100000',
  ];
}

export interface AuditRecord {
  /** When the request arrived (ms since the epoch). */
  time: number;
  /** HTTP method, from the verb. */
  method: string;
  /** The request URI without its query. */
  path: string;
  query: Record<string, string>;
  userAgent: string;
  /** Not in an audit log: always empty. */
  contentType: string;
  /** get, list, watch, create, update, patch, delete, deletecollection; `other` for discovery, version, OpenAPI. */
  verb: string;
  /** `pods`, `deployments.apps`; empty for non-resource requests. */
  resource: string;
  subresource: string;
  namespace: string;
  /** Authenticated user name (empty when authentication failed). */
  user: string;
  watch: boolean;
  /** HTTP status; 0 until known. */
  status: number;
  /** Until the response ended (for watches, the stream); undefined while open. */
  durationMs: number | undefined;
  /** Connection faults never reach the API server: always undefined. */
  fault: undefined;
}

export interface AuditFilter {
  userAgent?: string | RegExp;
  user?: string | RegExp;
  method?: string;
  verb?: string;
  resource?: string;
  path?: string | RegExp;
  watch?: boolean;
  status?: number;
  /** Only requests that arrived at or after this time (ms since the epoch). */
  since?: number;
}

interface AuditEvent {
  auditID: string;
  stage: string;
  requestURI: string;
  verb: string;
  user?: { username?: string };
  userAgent?: string;
  objectRef?: { resource?: string; apiGroup?: string; subresource?: string; namespace?: string };
  responseStatus?: { code?: number };
  requestReceivedTimestamp: string;
  stageTimestamp: string;
}

const METHODS: Record<string, string> = {
  get: 'GET',
  list: 'GET',
  watch: 'GET',
  create: 'POST',
  update: 'PUT',
  patch: 'PATCH',
  delete: 'DELETE',
  deletecollection: 'DELETE',
};

const text = (pattern: string | RegExp | undefined, value: string) =>
  pattern === undefined ||
  (typeof pattern === 'string' ? value.includes(pattern) : pattern.test(value));

/** Reads the audit log as it grows; every read first takes in what was appended since. */
export class AuditLog {
  readonly #path: string;
  #offset = 0;
  #partial = '';
  #records: AuditRecord[] = [];
  /** Open watches, to complete when their ResponseComplete entry comes. */
  readonly #open = new Map<string, AuditRecord>();

  constructor(path: string) {
    this.#path = path;
  }

  /** Every request recorded so far (since the last clear()). */
  get entries(): AuditRecord[] {
    this.#read();
    return this.#records;
  }

  filter(filter: AuditFilter = {}): AuditRecord[] {
    return this.entries.filter(
      (r) =>
        text(filter.userAgent, r.userAgent) &&
        text(filter.user, r.user) &&
        text(filter.path, r.path) &&
        (filter.method === undefined || r.method === filter.method.toUpperCase()) &&
        (filter.verb === undefined || r.verb === filter.verb) &&
        (filter.resource === undefined || r.resource === filter.resource) &&
        (filter.watch === undefined || r.watch === filter.watch) &&
        (filter.status === undefined || r.status === filter.status) &&
        (filter.since === undefined || r.time >= filter.since),
    );
  }

  count(filter: AuditFilter = {}): number {
    return this.filter(filter).length;
  }

  /** Request counts per user agent and verb, e.g. `{ 'Helm/3.18.0': { get: 12, watch: 2 } }`. */
  summary(filter: AuditFilter = {}): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const r of this.filter(filter)) {
      const agent = out[r.userAgent] ?? {};
      agent[r.verb] = (agent[r.verb] ?? 0) + 1;
      out[r.userAgent] = agent;
    }
    return out;
  }

  clear(): void {
    this.#read();
    this.#records = [];
  }

  #read(): void {
    let size: number;
    try {
      size = statSync(this.#path).size;
    } catch {
      return; // Nothing logged yet.
    }
    if (size <= this.#offset) return;
    const buffer = Buffer.alloc(size - this.#offset);
    const fd = openSync(this.#path, 'r');
    try {
      readSync(fd, buffer, 0, buffer.length, this.#offset);
    } finally {
      closeSync(fd);
    }
    this.#offset = size;
    const lines = (this.#partial + buffer.toString('utf8')).split('\n');
    this.#partial = lines.pop() ?? '';
    for (const line of lines) if (line) this.#add(JSON.parse(line) as AuditEvent);
  }

  #add(event: AuditEvent): void {
    const open = this.#open.get(event.auditID);
    const complete = event.stage === 'ResponseComplete' || event.stage === 'Panic';
    const status = event.responseStatus?.code ?? 0;
    const durationMs = complete
      ? Date.parse(event.stageTimestamp) - Date.parse(event.requestReceivedTimestamp)
      : undefined;
    if (open) {
      // A long-running request's second entry: it has ended.
      if (complete) {
        open.status = status || open.status;
        open.durationMs = durationMs;
        this.#open.delete(event.auditID);
      }
      return;
    }
    const url = new URL(event.requestURI, 'https://127.0.0.1');
    const ref = event.objectRef;
    const record: AuditRecord = {
      time: Date.parse(event.requestReceivedTimestamp),
      method: ref ? (METHODS[event.verb] ?? event.verb.toUpperCase()) : event.verb.toUpperCase(),
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      userAgent: event.userAgent ?? '',
      contentType: '',
      verb: ref ? event.verb : 'other',
      resource: ref?.resource ? `${ref.resource}${ref.apiGroup ? `.${ref.apiGroup}` : ''}` : '',
      subresource: ref?.subresource ?? '',
      namespace: ref?.namespace ?? '',
      user: event.user?.username ?? '',
      watch: event.verb === 'watch',
      status,
      durationMs,
      fault: undefined,
    };
    this.#records.push(record);
    if (!complete) this.#open.set(event.auditID, record);
  }
}
