// Watches the test cluster's store and records when the release was rolling out: from the first
// change that unsettles it to the moment every pod is ready and every workload rolled out again.
import type { KubeObject, TestCluster } from '../test/cluster/index.ts';

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
export function settled(cluster: TestCluster, release: string, namespace: string): boolean {
  const selectors = [`app.kubernetes.io/instance=${release}`, `release=${release}`];
  for (const labelSelector of selectors) {
    for (const pod of cluster.store.list('pods', { namespace, labelSelector })) {
      const s = status(pod);
      if (s.phase === 'Succeeded') continue;
      if (pod.metadata.deletionTimestamp) return false;
      if (!s.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) return false;
    }
    for (const resource of ['deployments', 'statefulsets']) {
      for (const workload of cluster.store.list(resource, { namespace, labelSelector })) {
        const s = status(workload);
        const want = (workload.spec as { replicas?: number } | undefined)?.replicas ?? 1;
        if ((s.observedGeneration ?? 0) < (workload.metadata.generation ?? 0)) return false;
        const counts = [s.replicas, s.readyReplicas, s.updatedReplicas].map((n) => n ?? 0);
        if (counts.some((n) => n !== want)) return false;
      }
    }
  }
  return true;
}

/** Starts recording the intervals during which the release is not settled. */
export function observeRollouts(
  cluster: TestCluster,
  release: string,
  namespace: string,
): RolloutObserver {
  const intervals: [number, number][] = [];
  let since: number | undefined;
  let stopped = false;
  const check = () => {
    const now = Date.now();
    const calm = settled(cluster, release, namespace);
    if (!calm && since === undefined) since = now;
    if (calm && since !== undefined) {
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
