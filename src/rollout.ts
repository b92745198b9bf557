// Rolls a hop's Milvus components in the order Milvus needs instead of all at once: the
// Deployments the hop keeps are held (paused) before `helm upgrade`, and released one component at
// a time once the one before it has landed, while Helm waits for the whole release.
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { inBackground } from './background.ts';
import type { Helm } from './helm.ts';
import { isBusy } from './helm-errors.ts';
import { milvusSelector, toDeploymentInfo, toPodInfo } from './inspect.ts';
import { type Kube, WaitTimeout } from './kube.ts';
import { describePods } from './landing.ts';
import type { Component, RolloutStep } from './milvus.ts';
import type { PodInfo } from './observed.ts';
import type { PlannedHop } from './planner.ts';
import { Cancelled, cancellation } from './process.ts';
import { imageTag, normalizeVersion } from './versions.ts';

export interface StepRecord {
  component: Component;
  seconds: number;
}

export interface RolloutTarget {
  namespace: string;
  release: string;
  milvusName: string;
}

/** Why a component's pods have not landed yet; empty once they have. */
export function stepProblems(
  pods: readonly PodInfo[],
  replicas: number,
  version: string,
  done: RolloutStep['done'],
): string[] {
  const terminating = pods.filter((p) => p.phase === 'Terminating');
  const live = pods.filter((p) => p.phase !== 'Terminating');
  const old = live.filter((p) => normalizeVersion(imageTag(p.milvusImage ?? '') ?? '') !== version);
  const unready = done === 'ready' ? live.filter((p) => !p.ready) : [];
  const problems: string[] = [];
  if (terminating.length > 0) problems.push(`terminating: ${describePods(terminating)}`);
  if (old.length > 0) problems.push(`not at ${version}: ${describePods(old)}`);
  if (unready.length > 0) problems.push(`not ready: ${describePods(unready)}`);
  if (live.length < replicas) problems.push(`${live.length} of ${replicas} pods`);
  return problems;
}

/** How long Helm may take to confirm a release after a failed ordered rollout. */
const RECHECK_TIMEOUT = '10s';

/** The same `helm upgrade` arguments with another `--timeout`. */
function withTimeout(args: readonly string[], timeout: string): string[] {
  return args.map((arg, i) => (args[i - 1] === '--timeout' ? timeout : arg));
}

/** A promise that rejects when `promise` does, and otherwise never settles. */
function failureOf(promise: Promise<unknown>): Promise<never> {
  return promise.then(() => new Promise<never>(() => undefined));
}

/**
 * Runs `helm upgrade` for the hop with its Milvus components rolled in `hop.spec.order`. Returns
 * each component's rollout time. On a failure the held Deployments are released (nothing stays
 * paused after a reported failure); a cancelled run leaves them held for the next run to resume.
 */
export async function rollInOrder(
  helm: Helm,
  kube: Kube,
  target: RolloutTarget,
  hop: PlannedHop,
  timeoutMs: number,
  log: (line: string) => void,
): Promise<StepRecord[]> {
  const { namespace } = target;
  const selector = milvusSelector(target.release, target.milvusName);
  const deadline = Date.now() + timeoutMs;
  const heldFor = `hop ${hop.number} (${hop.to})`;
  const order = hop.spec.order.filter((step) => hop.components.includes(step.component));
  const before = (await kube.deployments(namespace, selector)).flatMap(
    (d) => toDeploymentInfo(d) ?? [],
  );
  const held = new Set(before.filter((d) => d.heldFor).map((d) => d.name));
  const toHold = before.filter((d) => hop.components.includes(d.component) && !d.paused);
  await Promise.all(toHold.map((d) => kube.setHeld(namespace, d.name, heldFor)));
  for (const d of toHold) held.add(d.name);
  /** What this run paused itself; the rest was held by an earlier (or a concurrent) run. */
  const ours = new Set(toHold.map((d) => d.name));
  if (held.size > 0) log(`Holding ${[...held].join(', ')} for the ordered rollout.`);

  const upgrade = inBackground(helm.upgrade(hop.args));
  const helmFails = inBackground(failureOf(upgrade));
  try {
    // Helm has applied once every component exists and every held one runs the new template.
    const applied = (deployments: V1Deployment[]) => {
      const infos = deployments.flatMap((d) => toDeploymentInfo(d) ?? []);
      return order.every((step) => {
        const d = infos.find((info) => info.component === step.component);
        const tag = normalizeVersion(imageTag(d?.images[0] ?? '') ?? '');
        return d !== undefined && (!held.has(d.name) || tag === hop.to);
      });
    };
    const deployments = await Promise.race([
      kube.waitForDeployments(namespace, selector, applied, deadline - Date.now()),
      upgrade.then(() => kube.deployments(namespace, selector)),
    ]);
    const steps: StepRecord[] = [];
    for (const step of order) {
      const deployment = deployments
        .flatMap((d) => toDeploymentInfo(d) ?? [])
        .find((d) => d.component === step.component);
      if (!deployment) continue;
      const started = Date.now();
      if (held.has(deployment.name)) {
        await kube.setHeld(namespace, deployment.name, undefined);
        held.delete(deployment.name);
      }
      const landed = (pods: V1Pod[]) =>
        stepProblems(
          pods.map((pod) => toPodInfo(pod, target.milvusName)),
          deployment.replicas,
          hop.to,
          step.done,
        ).length === 0;
      try {
        await Promise.race([
          kube.waitForPods(
            namespace,
            `${selector},component=${step.component}`,
            landed,
            deadline - Date.now(),
          ),
          helmFails,
        ]);
      } catch (error) {
        if (!(error instanceof WaitTimeout)) throw error;
        const pods = (error.items as V1Pod[]).map((pod) => toPodInfo(pod, target.milvusName));
        throw new Error(
          `the ordered rollout stopped at ${step.component}: ${stepProblems(pods, deployment.replicas, hop.to, step.done).join('; ')}`,
        );
      }
      const seconds = Math.round((Date.now() - started) / 100) / 10;
      steps.push({ component: step.component, seconds });
      log(`${step.component}: rolled out to ${hop.to} in ${seconds} s`);
    }
    await upgrade;
    return steps;
  } catch (error) {
    if (error instanceof Cancelled || cancellation()) throw error;
    // A reported failure leaves nothing paused: the rest is released, in order. When another
    // operation holds the release, what it holds is its own to release.
    const release = isBusy(error) ? ours : held;
    for (const step of order) {
      const name = before.find((d) => d.component === step.component)?.name;
      if (name && held.has(name) && release.has(name))
        await kube.setHeld(namespace, name, undefined);
    }
    // Helm's own outcome is the better account of a failed hop; let it finish recording it.
    await upgrade;
    // Helm 3 counts a paused Deployment as ready, so it may have recorded the hop as deployed
    // while later components were still held. Asked again, now that nothing is held, Helm
    // records what is true: `failed` unless the whole release is ready after all.
    log('Helm recorded the hop while components were held; asking Helm again, with all released.');
    await helm.upgrade(withTimeout(hop.args, RECHECK_TIMEOUT)).catch(() => undefined);
    throw error;
  }
}
