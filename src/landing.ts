// The one definition of "the hop landed": the release deployed, every pod ready, every Milvus
// pod at the hop's version, exactly the hop's components, each Deployment rolled out. The check
// after a hop and the reading of an earlier run's state both ask it.
import { ALL_COMPONENTS, type Component, type HopSpec } from './milvus.ts';
import type { DeploymentInfo, PodInfo } from './observed.ts';
import { imageTag, normalizeVersion } from './versions.ts';

/** What a hop leaves behind. */
export interface Expectation {
  /** The Milvus version every Milvus pod runs. */
  version: string;
  components: readonly Component[];
  removes: readonly Component[];
}

/** The expectation of a hop to `version`: its components, and every other one gone. */
export function expectationOf(spec: HopSpec, version: string): Expectation {
  return {
    version,
    components: spec.components,
    removes: ALL_COMPONENTS.filter((c) => c !== 'standalone' && !spec.components.includes(c)),
  };
}

const MAX_LISTED = 8;

/** Pod names with why each is not ready, cut to a readable length. */
export function describePods(pods: readonly PodInfo[]): string {
  const shown = pods
    .slice(0, MAX_LISTED)
    .map((pod) => `${pod.name} (${pod.reason ?? pod.phase})`)
    .join(', ');
  return pods.length > MAX_LISTED ? `${shown} and ${pods.length - MAX_LISTED} more` : shown;
}

/** Pods that should be ready but are not: finished Job pods and pods on their way out aside. */
export function unreadyPods(pods: readonly PodInfo[]): PodInfo[] {
  return pods.filter(
    (pod) => !pod.ready && pod.phase !== 'Succeeded' && pod.phase !== 'Terminating',
  );
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

/** Why the Milvus Deployments do not match the expectation; empty once they do. */
export function deploymentProblems(
  deployments: readonly DeploymentInfo[],
  expect: Expectation,
): string[] {
  const problems: string[] = [];
  const components = deployments.map((d) => d.component);
  const missing = expect.components.filter((c) => !components.includes(c));
  if (missing.length > 0) problems.push(`Deployments missing: ${missing.join(', ')}`);
  const extra = components.filter((c) => expect.removes.includes(c));
  if (extra.length > 0) problems.push(`Deployments that should be gone: ${extra.join(', ')}`);
  for (const d of deployments) {
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
  return problems;
}

/** Why the release has not landed where `expect` says; empty once it has. */
export function landingProblems(
  release: { status: string },
  pods: readonly PodInfo[],
  deployments: readonly DeploymentInfo[],
  expect: Expectation,
): string[] {
  const status =
    release.status === 'deployed' ? [] : [`release status is ${release.status}, not deployed`];
  return [...podProblems(pods, expect), ...deploymentProblems(deployments, expect), ...status];
}
