// Requests the API server itself answers 429 Too Many Requests, through its API Priority and
// Fairness (flowcontrol.apiserver.k8s.io/v1). A FlowSchema sends the chosen requests to a priority
// level without seats of its own, which still runs one request when it runs nothing else; a request
// of the harness that never finishes sending its body keeps that one place taken, so every other
// request at the level is refused at once, as a saturated API server refuses them.
import type { ClientRequest } from 'node:http';
import { request } from 'node:https';
import type { Api, ClusterObjects, KubeObject } from './api.ts';

export interface RejectRule {
  /**
   * Whose requests, by user name, e.g. `system:serviceaccount:default:upgrader` (see
   * serviceAccountKubeconfig). Members of system:masters, such as the kubeconfig's `admin`, are
   * exempt from flow control and never refused.
   */
  user: string;
  /** `get`, `list`, `watch`, `create`… */
  verbs: string[];
  /** `pods`, or `deployments.apps` for a resource of a group. */
  resources?: string[];
  /** Namespaces of those resources (default: all of them, and cluster-scoped resources). */
  namespaces?: string[];
  /** Paths that are not resources, e.g. `/version`. */
  nonResourceURLs?: string[];
}

export interface Rejection {
  /** Resolves once the API server serves the requests again. */
  lift(): Promise<void>;
}

const GROUP_VERSION = 'flowcontrol.apiserver.k8s.io/v1';
const PREFIX = 'control-plane-test';
/**
 * The API server ends a request after 60 s, the holding one too. Before that, a second level,
 * held meanwhile, takes over: the rules move to it while both refuse, so none gets through.
 */
const HANDOVER_MS = 40_000;

const level = (i: number) => `${PREFIX}-reject-${i}`;
const holderUser = (i: number) => `${PREFIX}-holder-${i}`;

function flowSchema(name: string, levelName: string, rule: object): KubeObject {
  return {
    apiVersion: GROUP_VERSION,
    kind: 'FlowSchema',
    metadata: { name },
    spec: {
      priorityLevelConfiguration: { name: levelName },
      // 1 is the exempt schema's alone (system:masters).
      matchingPrecedence: 2,
      distinguisherMethod: { type: 'ByUser' },
      rules: [rule],
    },
  };
}

export class FlowControlFaults {
  readonly #api: Api;
  readonly #store: ClusterObjects;
  readonly #direct: { url: string; caPem: string; token: string };
  /** The rules in force: FlowSchema name → its rule. */
  readonly #rules = new Map<string, object>();
  /** The level the rules use, and the requests holding each level. */
  #current = 0;
  readonly #holders: (ClientRequest | undefined)[] = [undefined, undefined];
  #handover: NodeJS.Timeout | undefined;
  #count = 0;
  /** One change at a time: rules, lifts and handovers. */
  #queue: Promise<unknown> = Promise.resolve();

  /** `direct`: the API server itself, not Toxiproxy, whose faults must not end a holder. */
  constructor(
    api: Api,
    store: ClusterObjects,
    direct: { url: string; caPem: string; token: string },
  ) {
    this.#api = api;
    this.#store = store;
    this.#direct = direct;
  }

  /** The API server refuses the requests `rule` matches with 429 until lifted. */
  reject(rule: RejectRule): Promise<Rejection> {
    return this.#serial(async () => {
      await this.#hold();
      const name = `${PREFIX}-rule-${++this.#count}`;
      const resourceRules = (rule.resources ?? []).map((resource) => {
        const [plural, ...group] = resource.split('.');
        return {
          verbs: rule.verbs,
          apiGroups: [group.join('.')],
          resources: [plural],
          ...(rule.namespaces
            ? { namespaces: rule.namespaces }
            : { namespaces: ['*'], clusterScope: true }),
        };
      });
      const schemaRule = {
        subjects: [{ kind: 'User', user: { name: rule.user } }],
        ...(resourceRules.length > 0 && { resourceRules }),
        ...(rule.nonResourceURLs && {
          nonResourceRules: [{ verbs: rule.verbs, nonResourceURLs: rule.nonResourceURLs }],
        }),
      };
      await this.#store.create(flowSchema(name, level(this.#current), schemaRule));
      this.#rules.set(name, schemaRule);
      await this.#digested(name);
      return { lift: () => this.#serial(() => this.#lift(name)) };
    });
  }

  /** Lifts every rule. */
  clear(): Promise<void> {
    return this.#serial(async () => {
      for (const name of [...this.#rules.keys()]) await this.#lift(name);
    });
  }

  #serial<T>(change: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(change);
    this.#queue = next.catch(() => {});
    return next;
  }

  async #lift(name: string): Promise<void> {
    if (!this.#rules.delete(name)) return;
    await this.#store.delete('flowschemas', undefined, name);
    await this.#sync();
    if (this.#rules.size > 0) return;
    clearInterval(this.#handover);
    this.#handover = undefined;
    await this.#hangUp(this.#current);
  }

  /**
   * Resolves once the API server has taken in every change made before: it takes them in order,
   * so a FlowSchema made now, once it reports on it, shows that.
   */
  async #sync(): Promise<void> {
    const name = `${PREFIX}-sync-${++this.#count}`;
    await this.#store.create(
      flowSchema(name, level(this.#current), {
        subjects: [{ kind: 'User', user: { name: `${PREFIX}-nobody` } }],
        nonResourceRules: [{ verbs: ['get'], nonResourceURLs: [`/${PREFIX}-sync`] }],
      }),
    );
    await this.#digested(name);
    await this.#store.delete('flowschemas', undefined, name);
  }

  /** Resolves once the API server has taken in FlowSchema `name` (it reports on it). */
  async #digested(name: string): Promise<void> {
    await until(`FlowSchema ${name} in force`, async () => {
      const schema = await this.#store.get('flowschemas', undefined, name);
      const status = schema?.status as { conditions?: unknown[] } | undefined;
      return (status?.conditions?.length ?? 0) > 0;
    });
  }

  /** Holds the current level (with its handover), unless it is held. */
  async #hold(): Promise<void> {
    if (this.#holders[this.#current]) return;
    for (const i of [0, 1]) {
      await this.#store.apply({
        apiVersion: GROUP_VERSION,
        kind: 'PriorityLevelConfiguration',
        metadata: { name: level(i) },
        spec: {
          type: 'Limited',
          limited: {
            nominalConcurrencyShares: 0,
            lendablePercent: 0,
            borrowingLimitPercent: 0,
            limitResponse: { type: 'Reject' },
          },
        },
      });
      const name = `${PREFIX}-holder-${i}`;
      await this.#store.apply(
        flowSchema(name, level(i), {
          subjects: [{ kind: 'User', user: { name: holderUser(i) } }],
          resourceRules: [
            {
              verbs: ['*'],
              apiGroups: ['*'],
              resources: ['*'],
              namespaces: ['*'],
              clusterScope: true,
            },
          ],
        }),
      );
      await this.#digested(name);
    }
    await this.#startHolder(this.#current);
    this.#handover ??= setInterval(() => {
      this.#serial(() => this.#handOver()).catch(() => {});
    }, HANDOVER_MS).unref();
  }

  /** Moves the rules to the other level, once it is held, then lets the current one go. */
  async #handOver(): Promise<void> {
    if (this.#rules.size === 0) return;
    const from = this.#current;
    const to = 1 - from;
    await this.#startHolder(to);
    for (const [name, rule] of this.#rules) {
      await this.#store.apply(flowSchema(name, level(to), rule));
    }
    this.#current = to;
    await this.#sync();
    await this.#hangUp(from);
  }

  /**
   * A create the API server has authorized and waits to read the body of: it runs at level `i`
   * until the harness hangs up. Resolves once the API server counts it as running.
   */
  async #startHolder(i: number): Promise<void> {
    const { url, caPem, token } = this.#direct;
    // Any authenticated user may create a SelfSubjectAccessReview.
    const path = '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews';
    const holder = request(new URL(path, url), {
      method: 'POST',
      ca: caPem,
      agent: false,
      headers: {
        authorization: `Bearer ${token}`,
        'impersonate-user': holderUser(i),
        'user-agent': 'control-plane-harness',
        'content-type': 'application/json',
        'content-length': 1024,
      },
    });
    holder.on('error', () => {});
    holder.on('response', (response) => {
      // Refused or timed out: it holds nothing any more.
      response.resume();
      if (this.#holders[i] === holder) this.#holders[i] = undefined;
    });
    holder.flushHeaders();
    this.#holders[i] = holder;
    await until(`the request holding ${level(i)} to run`, async () => {
      if (this.#holders[i] !== holder) throw new Error(`flow control: ${level(i)} is busy`);
      return (await this.#running(i)) >= 1;
    });
  }

  /** Ends the request holding level `i`; resolves once the API server no longer counts it. */
  async #hangUp(i: number): Promise<void> {
    this.#holders[i]?.destroy();
    this.#holders[i] = undefined;
    await until(`${level(i)} to be free`, async () => (await this.#running(i)) === 0);
  }

  /** Requests the API server counts as running at level `i`, from its metrics. */
  async #running(i: number): Promise<number> {
    const metrics = await this.#api<string>('GET', '/metrics');
    const line = metrics
      .split('\n')
      .find(
        (l) =>
          l.startsWith('apiserver_flowcontrol_current_executing_requests{') &&
          l.includes(`priority_level="${level(i)}"`),
      );
    return Number(line?.split(' ').at(-1) ?? 0);
  }
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000) {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`flow control: timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
