// Milvus' own answer, asked through a port-forward to a ready proxy pod over the API server (all a
// runner can reach): health before the first hop and after each, and what it holds before and
// after the upgrade. Ready pods are not a working Milvus.
import { UNCHANGED, UpgradeError } from './errors.ts';
import { milvusSelector } from './inspect.ts';
import { compareInventories, describeProblem, type Inventory, type Problem } from './inventory.ts';
import type { Kube } from './kube.ts';
import type { Health, Milvus } from './milvus-client.ts';

/** Milvus' gRPC port on its proxy (and on a standalone pod). */
const GRPC_PORT = 19530;
/** The pods that serve clients: proxies, or the one standalone pod. */
const SERVING = 'component in (proxy,standalone)';
/** The RBAC rule a port-forward needs, as a Role lists it. */
export const PORT_FORWARD_RULE =
  '{ apiGroups: [""], resources: [pods/portforward], verbs: [create] }';
/** Pause between two tries while Milvus settles after a hop. */
const RETRY_MS = 2000;
/** The most one SDK call may take. */
const CALL_MS = 30_000;

export interface MilvusTarget {
  namespace: string;
  release: string;
  /** The chart's `app.kubernetes.io/name` (milvus, or a fullname override). */
  name: string;
  token: string | undefined;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Refuses, before anything changes, when the credentials may not open a port-forward. */
export async function checkPortForward(kube: Kube, namespace: string): Promise<void> {
  if (await kube.allowed(namespace, 'create', 'pods/portforward')) return;
  throw new UpgradeError(
    `The kubeconfig's credentials may not create pods/portforward in ${namespace}, which the action needs to ask Milvus itself whether it serves and what it holds.`,
    UNCHANGED,
    `Add the rule ${PORT_FORWARD_RULE} to the Role bound to these credentials and re-run, or set verify-milvus: false to upgrade without asking Milvus.`,
  );
}

/** Opens a port-forward to a ready serving pod and a client on it; closes both after `use`. */
async function withMilvus<T>(
  kube: Kube,
  target: MilvusTarget,
  timeoutMs: number,
  use: (milvus: Milvus) => Promise<T>,
): Promise<T> {
  const pods = await kube.pods(
    target.namespace,
    `${milvusSelector(target.release, target.name)},${SERVING}`,
  );
  const pod = pods.find(
    (p) =>
      !p.metadata?.deletionTimestamp &&
      p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
  );
  if (!pod?.metadata?.name) {
    throw new Error(`no ready proxy pod of ${target.release} in ${target.namespace}`);
  }
  const forward = await kube.forwardPort(target.namespace, pod.metadata.name, GRPC_PORT);
  try {
    const { connectMilvus } = await import('./milvus-client.ts');
    const milvus = await connectMilvus({
      address: forward.address,
      token: target.token,
      timeoutMs: Math.min(CALL_MS, timeoutMs),
    });
    try {
      return await use(milvus);
    } finally {
      await milvus.close().catch(() => undefined);
    }
  } catch (error) {
    // The API server's own words (pod gone, port closed) say more than the client's.
    const said = forward.errors();
    if (said && error instanceof Error)
      error.message += ` (port-forward to ${pod.metadata.name}: ${said})`;
    throw error;
  } finally {
    await forward.close();
  }
}

/**
 * Asks Milvus for its health until it answers healthy or `timeoutMs` passes; resolves with the
 * last answer, or rejects with the last error when it never answered.
 */
export async function waitHealthy(
  kube: Kube,
  target: MilvusTarget,
  timeoutMs: number,
): Promise<Health> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let answer: Health | undefined;
    let failure: unknown;
    try {
      answer = await withMilvus(kube, target, deadline - Date.now(), (m) => m.checkHealth());
      if (answer.healthy) return answer;
    } catch (error) {
      failure = error;
    }
    if (Date.now() + RETRY_MS >= deadline) {
      if (answer) return answer;
      throw failure;
    }
    await sleep(RETRY_MS);
  }
}

/** What Milvus holds now: databases, and per collection rows, load state and indexes. */
export function takeInventory(
  kube: Kube,
  target: MilvusTarget,
  timeoutMs: number,
): Promise<Inventory> {
  return withMilvus(kube, target, timeoutMs, (m) => m.inventory());
}

/** Problems that time can settle: a collection still loading, an index still building. */
const SETTLING = new Set<Problem['kind']>(['not-loaded', 'index-unfinished']);

export interface Comparison {
  after: Inventory;
  /** What is lost or broken: each fails the run. */
  problems: Problem[];
  /** Statistics lower on a collection that is not loaded: count(*) cannot confirm a loss. */
  unconfirmed: Problem[];
}

/**
 * Takes the inventory again until nothing differs from `before` but what Milvus alone settles
 * (loading, index builds) or `timeoutMs` passes, then gives the verdict.
 */
export async function compareWithBefore(
  kube: Kube,
  target: MilvusTarget,
  before: Inventory,
  timeoutMs: number,
): Promise<Comparison> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const after = await takeInventory(kube, target, deadline - Date.now());
    const found = compareInventories(before, after);
    const settling = found.some((p) => SETTLING.has(p.kind));
    if (!settling || Date.now() + RETRY_MS >= deadline) {
      return {
        after,
        problems: found.filter((p) => !p.needsExactCount),
        unconfirmed: found.filter((p) => p.needsExactCount),
      };
    }
    await sleep(RETRY_MS);
  }
}

/** The failure for what Milvus lost or broke, one line per collection. */
export function describeLosses(problems: readonly Problem[]): string {
  return `Milvus does not hold what it held before the upgrade:\n${problems.map((p) => `- ${describeProblem(p)}`).join('\n')}`;
}

/** Milvus answered, after a hop, that it does not serve, or that it lost what it held. */
export class MilvusCheckFailed extends Error {
  readonly kind: 'unhealthy' | 'lost';
  constructor(message: string, kind: 'unhealthy' | 'lost') {
    super(message);
    this.name = 'MilvusCheckFailed';
    this.kind = kind;
  }
}
