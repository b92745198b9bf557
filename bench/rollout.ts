// Follows the release on the control plane and records when it was rolling out: from the first
// look that finds it unsettled to the first that finds every pod ready and every workload rolled
// out again. The control plane is polled every 100 ms, so an interval is known to about that.
import type { ControlPlane, KubeObject } from '../test/control-plane/cluster.ts';

export interface RolloutObserver {
  /** Stops observing and returns the unsettled intervals, as [start, end] in ms since the epoch. */
  stop(): Promise<[number, number][]>;
}

interface Status {
  replicas?: number;
  readyReplicas?: number;
  updatedReplicas?: number;
  observedGeneration?: number;
  conditions?: { type: string; status: string }[];
  phase?: string;
}

const status = (o: KubeObject) => (o.status ?? {}) as Status;

/** True when every pod of the release is ready and every Deployment and StatefulSet rolled out. */
export async function settled(
  cluster: Pick<ControlPlane, 'store'>,
  release: string,
  namespace: string,
): Promise<boolean> {
  // Milvus labels its objects with app.kubernetes.io/instance, its Pulsar and etcd charts with
  // release: one list per kind, filtered here, rather than one per kind and label.
  const ofRelease = (o: KubeObject) => {
    const labels = o.metadata.labels ?? {};
    return labels['app.kubernetes.io/instance'] === release || labels.release === release;
  };
  const [pods, deployments, statefulSets] = await Promise.all(
    ['pods', 'deployments', 'statefulsets'].map(async (resource) =>
      (await cluster.store.list(resource, { namespace })).filter(ofRelease),
    ),
  );
  for (const pod of pods ?? []) {
    const s = status(pod);
    if (s.phase === 'Succeeded') continue;
    if (pod.metadata.deletionTimestamp) return false;
    if (!s.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) return false;
  }
  for (const workload of [...(deployments ?? []), ...(statefulSets ?? [])]) {
    const s = status(workload);
    const want = (workload.spec as { replicas?: number } | undefined)?.replicas ?? 1;
    if ((s.observedGeneration ?? 0) < (workload.metadata.generation ?? 0)) return false;
    const counts = [s.replicas, s.readyReplicas, s.updatedReplicas].map((n) => n ?? 0);
    if (counts.some((n) => n !== want)) return false;
  }
  return true;
}

/** Starts recording the intervals during which the release is not settled. */
export function observeRollouts(
  cluster: Pick<ControlPlane, 'store' | 'waitFor'>,
  release: string,
  namespace: string,
): RolloutObserver {
  const intervals: [number, number][] = [];
  let since: number | undefined;
  let stopped = false;
  const check = async () => {
    const now = Date.now();
    // A failed look (an API hiccup) tells nothing: the state stays as last seen.
    const calm = await settled(cluster, release, namespace).catch(() => undefined);
    if (calm === false && since === undefined) since = now;
    if (calm === true && since !== undefined) {
      intervals.push([since, now]);
      since = undefined;
    }
    return stopped;
  };
  const done = cluster.waitFor(check, 3_600_000);
  return {
    async stop() {
      stopped = true;
      await done;
      if (since !== undefined) intervals.push([since, Date.now()]);
      return intervals;
    },
  };
}
