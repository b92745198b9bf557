// Confirms that a hop landed: every pod ready, the expected components and no others, every
// Milvus container at the hop's version, and the release deployed.
import type { V1Pod } from '@kubernetes/client-node';
import { describePods, unreadyPods } from './assess.ts';
import type { Helm } from './helm.ts';
import {
  findRelease,
  milvusSelector,
  releaseSelector,
  toDeploymentInfo,
  toPodInfo,
} from './inspect.ts';
import { type Kube, WaitTimeout } from './kube.ts';
import type { Component } from './milvus.ts';
import type { PodInfo, ReleaseInfo } from './state.ts';
import { imageTag, normalizeVersion } from './versions.ts';

export interface Expectation {
  version: string;
  components: readonly Component[];
  removes: readonly Component[];
}

/** What a settled cluster looks like after a hop. */
export interface Landing {
  release: ReleaseInfo;
  components: Component[];
  /** Milvus image per component. */
  images: Partial<Record<Component, string>>;
}

/** Why the pods do not (yet) match the expectation; empty once they do. */
export function podProblems(pods: readonly PodInfo[], expect: Expectation): string[] {
  const problems: string[] = [];
  const milvus = pods.filter((pod) => pod.milvus);
  const unready = unreadyPods(pods);
  if (unready.length > 0) problems.push(`pods not ready: ${describePods(unready)}`);
  // The Milvus Operator's rule: a component with a terminating pod is still rolling.
  const terminating = milvus.filter((pod) => pod.phase === 'Terminating');
  if (terminating.length > 0) problems.push(`pods still terminating: ${describePods(terminating)}`);
  const stale = milvus.filter(
    (pod) =>
      pod.phase !== 'Terminating' &&
      normalizeVersion(imageTag(pod.milvusImage ?? '') ?? '') !== expect.version,
  );
  if (stale.length > 0) {
    problems.push(
      `pods not at ${expect.version}: ${stale.map((pod) => `${pod.name} (${pod.milvusImage})`).join(', ')}`,
    );
  }
  const leftover = milvus.filter((pod) => expect.removes.includes(pod.component as Component));
  if (leftover.length > 0) {
    problems.push(
      `pods of removed components still present: ${leftover.map((p) => p.name).join(', ')}`,
    );
  }
  const missing = expect.components.filter(
    (component) => !milvus.some((pod) => pod.component === component && pod.ready),
  );
  if (missing.length > 0) problems.push(`no ready pod for: ${missing.join(', ')}`);
  return problems;
}

/**
 * What the release's pods show now against `expect`, for the message of a hop whose `helm
 * upgrade` failed (a timeout says nothing of which pods held it up); empty when nothing is off
 * or the pods cannot be read.
 */
export async function podProblemsNow(
  kube: Kube,
  target: { release: string; namespace: string; name: string },
  expect: Expectation,
): Promise<string[]> {
  try {
    const pods = await kube.pods(target.namespace, releaseSelector(target.release));
    return podProblems(
      pods.map((pod) => toPodInfo(pod, target.name)),
      expect,
    );
  } catch {
    return [];
  }
}

/**
 * Waits (with a watch) until the release's pods match `expect`, then checks the Deployments
 * and Helm's record. Throws an Error that names exactly what is off.
 */
export async function confirmLanding(
  helm: Helm,
  kube: Kube,
  target: { release: string; namespace: string; name: string },
  expect: Expectation,
  timeoutMs: number,
): Promise<Landing> {
  const { release, namespace, name } = target;
  const info = (pods: Parameters<typeof toPodInfo>[0][]) => pods.map((pod) => toPodInfo(pod, name));
  // Helm's record is final once `helm upgrade` has returned: read it while the pods are checked.
  const record = findRelease(helm, release, namespace);
  record.catch(() => undefined);
  try {
    await kube.waitForPods(
      namespace,
      releaseSelector(release),
      (pods) => podProblems(info(pods), expect).length === 0,
      timeoutMs,
    );
  } catch (error) {
    if (!(error instanceof WaitTimeout)) throw error;
    throw new Error(podProblems(info(error.items as V1Pod[]), expect).join('; '));
  }

  const [deployments, entry] = await Promise.all([
    kube.deployments(namespace, milvusSelector(release, name)),
    record,
  ]);
  const milvus = deployments.flatMap((d) => toDeploymentInfo(d) ?? []);
  const components = milvus.map((d) => d.component);
  const problems: string[] = [];
  const missing = expect.components.filter((c) => !components.includes(c));
  if (missing.length > 0) problems.push(`Deployments missing: ${missing.join(', ')}`);
  const extra = components.filter((c) => expect.removes.includes(c));
  if (extra.length > 0) problems.push(`Deployments that should be gone: ${extra.join(', ')}`);
  for (const d of milvus) {
    if (d.paused) problems.push(`Deployment ${d.name} is still paused`);
    if (
      d.observedGeneration < d.generation ||
      d.updatedReplicas < d.replicas ||
      d.readyReplicas < d.replicas
    ) {
      problems.push(
        `Deployment ${d.name} not rolled out (${d.readyReplicas}/${d.replicas} ready, ${d.updatedReplicas} updated)`,
      );
    }
  }
  if (!entry) problems.push('the release is no longer listed by Helm');
  else if (entry.status !== 'deployed')
    problems.push(`release status is ${entry.status}, not deployed`);
  if (problems.length > 0 || !entry) throw new Error(problems.join('; '));

  return {
    release: entry,
    components,
    images: Object.fromEntries(milvus.map((d) => [d.component, d.images[0] ?? ''])),
  };
}
