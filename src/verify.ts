// Confirms that a hop landed (the rule is landing.ts'): waits on the pods with a watch, then
// checks the Deployments and Helm's record.
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import type { Helm } from './helm.ts';
import {
  findRelease,
  milvusSelector,
  releaseSelector,
  toDeploymentInfo,
  toPodInfo,
} from './inspect.ts';
import { type Kube, WaitTimeout } from './kube.ts';
import { deploymentProblems, type Expectation, podProblems } from './landing.ts';
import type { Component } from './milvus.ts';
import type { ReleaseInfo } from './observed.ts';

/** What a settled cluster looks like after a hop. */
export interface Landing {
  release: ReleaseInfo;
  components: Component[];
  /** Milvus image per component. */
  images: Partial<Record<Component, string>>;
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
  const deadline = Date.now() + timeoutMs;
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

  // The Deployment controller reports a rollout a moment after its pods show it: wait for that.
  const infos = (items: V1Deployment[]) => items.flatMap((d) => toDeploymentInfo(d) ?? []);
  const left = Math.max(deadline - Date.now(), 1000);
  const [deployments, entry] = await Promise.all([
    kube
      .waitForDeployments(
        namespace,
        milvusSelector(release, name),
        (items) => deploymentProblems(infos(items), expect).length === 0,
        left,
      )
      .catch((error: unknown) => {
        if (error instanceof WaitTimeout) return error.items as V1Deployment[];
        throw error;
      }),
    record,
  ]);
  const milvus = infos(deployments);
  const components = milvus.map((d) => d.component);
  const problems = deploymentProblems(milvus, expect);
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
