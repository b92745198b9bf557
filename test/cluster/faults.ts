// Faults a test can switch on and off while the cluster runs: pods that never become ready, API
// errors and reset connections for a share of requests, added latency, and the API going away.
import { matchesLabels, parseLabelSelector, type Selector } from './selectors.ts';

export type UnreadyReason = 'CrashLoopBackOff' | 'ImagePullBackOff' | 'NotReady';

export interface ErrorRule {
  /** Share of matching requests that fail, 0..1. */
  rate: number;
  /** HTTP status of the `Status` error, or `reset` to drop the connection (TCP RST). Default 503. */
  status?: 429 | 500 | 502 | 503 | 504 | 'reset';
  method?: string | RegExp;
  path?: string | RegExp;
  userAgent?: string | RegExp;
  /** Only watch requests (true) or only non-watch requests (false). */
  watch?: boolean;
  /** Stop after this many injected failures. */
  limit?: number;
  /** Sends `Retry-After`, which makes client-go (Helm) retry 429 and 5xx answers by itself. */
  retryAfterSeconds?: number;
}

export interface RequestInfo {
  method: string;
  path: string;
  userAgent: string;
  watch: boolean;
}

export interface LatencyRule {
  ms: number;
  method?: string | RegExp;
  path?: string | RegExp;
  userAgent?: string | RegExp;
}

function matches(pattern: string | RegExp | undefined, value: string): boolean {
  if (pattern === undefined) return true;
  return typeof pattern === 'string' ? value.includes(pattern) : pattern.test(value);
}

function appliesTo(
  rule: { method?: string | RegExp; path?: string | RegExp; userAgent?: string | RegExp },
  request: RequestInfo,
): boolean {
  const method =
    typeof rule.method === 'string'
      ? rule.method.toUpperCase() === request.method
      : matches(rule.method, request.method);
  return method && matches(rule.path, request.path) && matches(rule.userAgent, request.userAgent);
}

export interface FaultTarget {
  down(): Promise<void>;
  up(): Promise<void>;
}

export class Faults {
  #unready: { selector: Selector; reason: UnreadyReason }[] = [];
  #errorRules: { rule: ErrorRule; injected: number }[] = [];
  #latency: LatencyRule | undefined;
  readonly #listeners = new Set<() => void>();
  readonly #target: FaultTarget;

  constructor(target: FaultTarget) {
    this.#target = target;
  }

  /**
   * Pods matching `labelSelector` (e.g. `component=streamingnode`) never become ready: they
   * crash-loop (restartCount growing), hang in ImagePullBackOff, or run without passing their
   * readiness probe (`NotReady`).
   */
  unready(labelSelector: string, reason: UnreadyReason = 'CrashLoopBackOff'): void {
    this.#unready.push({
      selector: parseLabelSelector(labelSelector),
      reason,
    });
    this.#changed();
  }

  clearUnready(): void {
    this.#unready = [];
    this.#changed();
  }

  /** How a pod with these labels fails to become ready, if a fault selects it. */
  unreadyReason(labels: Record<string, string> | undefined): UnreadyReason | undefined {
    return this.#unready.find((u) => matchesLabels(labels, u.selector))?.reason;
  }

  /** Replaces the error rules; call with no rules to stop injecting errors. */
  errors(...rules: ErrorRule[]): void {
    this.#errorRules = rules.map((rule) => ({ rule, injected: 0 }));
  }

  /** Delays every matching request by `ms` (0 turns it off). */
  latency(ms: number, match: Omit<LatencyRule, 'ms'> = {}): void {
    this.#latency = ms > 0 ? { ms, ...match } : undefined;
  }

  /** Closes the listener and destroys every open connection, watches included. */
  down(): Promise<void> {
    return this.#target.down();
  }

  /** Listens again on the same port. */
  up(): Promise<void> {
    return this.#target.up();
  }

  /** Turns every fault off (the API is brought back up if it was down). */
  async clear(): Promise<void> {
    this.errors();
    this.latency(0);
    this.clearUnready();
    await this.up();
  }

  delayFor(request: RequestInfo): number {
    return this.#latency && appliesTo(this.#latency, request) ? this.#latency.ms : 0;
  }

  /** The rule that fails this request, if any. */
  errorFor(request: RequestInfo): ErrorRule | undefined {
    for (const entry of this.#errorRules) {
      const { rule } = entry;
      if (!appliesTo(rule, request)) continue;
      if (rule.watch !== undefined && rule.watch !== request.watch) continue;
      if (rule.limit !== undefined && entry.injected >= rule.limit) continue;
      if (Math.random() >= rule.rate) continue;
      entry.injected++;
      return rule;
    }
    return undefined;
  }

  /** Called when the unready selectors change, so the simulated kubelet re-evaluates pods. */
  onUnreadyChange(listener: () => void): void {
    this.#listeners.add(listener);
  }

  #changed(): void {
    for (const listener of this.#listeners) listener();
  }
}
