// Pure rules that turn what was observed of a release into facts the planner can trust, or a
// refusal that says why the action will not touch it.
import { refusal } from './errors.ts';
import { describePods, expectationOf, landingProblems, unreadyPods } from './landing.ts';
import {
  type Component,
  type HopSpec,
  hopSpecs,
  LEGACY_COORDINATORS,
  MINIMUM_SOURCE_VERSION,
} from './milvus.ts';
import type { ObservedRelease, PodInfo, ReleaseInfo, Values } from './observed.ts';
import { isOn, type QueueReading, readQueue } from './queue.ts';
import { valueAt } from './values.ts';
import {
  compareVersions,
  imageTag,
  isPrerelease,
  normalizeVersion,
  series,
  sortVersions,
} from './versions.ts';

/** The versions and chart the user asked for (validated inputs). */
export interface Targets {
  chartName: string;
  intermediateVersion: string;
  intermediateChartVersion: string;
  targetVersion: string;
  targetChartVersion: string;
}

export type Layout = 'mixcoord' | 'separate' | 'standalone';

export interface Assessment {
  release: ReleaseInfo;
  /** Distinct Milvus versions the containers run, lowest first. */
  versions: string[];
  lowest: string;
  highest: string;
  layout: Layout;
  components: Component[];
  queue: QueueReading & { queue: NonNullable<QueueReading['queue']> };
  /** Pods of the release that are not ready (terminating and completed pods aside). */
  unready: PodInfo[];
  /** The hop of an earlier run that stopped part-way, which the plan runs again. */
  stoppedHop: 1 | 2 | undefined;
  /** The last deployed revision: what the next hop reuses and where a rollback returns to. */
  deployedRevision: number | undefined;
  /** Already on the target version with exactly the 2.6 components, deployed and ready. */
  atTarget: boolean;
  warnings: string[];
}

/** Whether the release's user values carry every `--set` of this hop (its fingerprint). */
function carriesHop(userValues: Values, spec: HopSpec, version: string | undefined): boolean {
  const tag = valueAt(userValues, 'image.all.tag');
  const tagged = typeof tag === 'string' && normalizeVersion(tag) !== undefined;
  const sameTag = version === undefined ? tagged : tagged && normalizeVersion(tag) === version;
  return sameTag && spec.sets.every(([key, value]) => String(valueAt(userValues, key)) === value);
}

/** Whether the release is exactly where a hop to `version` leaves a healthy cluster. */
function complete(
  observed: ObservedRelease,
  release: ReleaseInfo,
  spec: HopSpec,
  version: string,
): boolean {
  const expect = expectationOf(spec, version);
  return landingProblems(release, observed.pods, observed.deployments, expect).length === 0;
}

function stoppedHop(
  observed: ObservedRelease,
  release: ReleaseInfo,
  versions: readonly string[],
  t: Targets,
  standalone: boolean,
): 1 | 2 | undefined {
  const { userValues } = observed;
  const chart = release.chartVersion;
  const specs = hopSpecs(standalone);
  if (chart === t.targetChartVersion && carriesHop(userValues, specs[2], t.targetVersion)) {
    return complete(observed, release, specs[2], t.targetVersion) ? undefined : 2;
  }
  if (chart === t.intermediateChartVersion && carriesHop(userValues, specs[1], undefined)) {
    // Hop 1 may have landed on another 2.5 release than today's intermediate-version input.
    const [only] = versions;
    const landed = versions.length === 1 && only && series(only) === '2.5' ? only : undefined;
    return complete(observed, release, specs[1], landed ?? t.intermediateVersion) ? undefined : 1;
  }
  return undefined;
}

function runningVersions(observed: ObservedRelease): string[] {
  const images = observed.pods
    .filter((pod) => pod.milvus && pod.milvusImage && pod.phase !== 'Terminating')
    .map((pod) => pod.milvusImage as string);
  const all = images.length > 0 ? images : observed.deployments.flatMap((d) => d.images);
  const versions = all.map((image) => {
    const version = normalizeVersion(imageTag(image) ?? '');
    if (!version) {
      throw refusal(
        `Cannot tell the Milvus version from the image ${image}: its tag is not a release version.`,
        'Run Milvus from a release tag (image.all.tag such as v2.5.10), then re-run.',
      );
    }
    return version;
  });
  return sortVersions(versions);
}

/**
 * Checks an observed release against every rule of the upgrade. Throws a refusal (the cluster
 * untouched) when the action must not proceed; otherwise returns the facts for the planner.
 */
export function assess(observed: ObservedRelease, targets: Targets): Assessment {
  const { release, computedValues } = observed;
  const operator = observed.operator[0];
  if (operator || release?.chartName === 'milvus-operator') {
    throw refusal(
      `This Milvus cluster is managed by the Milvus Operator (${operator ? `${operator.deployment}: ${operator.reason}` : `release chart ${release?.chartName}`}), not by the Milvus Helm chart.`,
      'Upgrade it through the operator (patch spec.components.image of the Milvus resource, to v2.5.16 with mixCoord first, then to 2.6); this action upgrades Helm-deployed clusters only.',
    );
  }
  if (!release) {
    throw refusal(
      `Helm has no release ${observed.name} in the namespace ${observed.namespace}.`,
      'Check the release-name and namespace inputs (helm list --namespace <namespace> lists the releases), and that the kubeconfig points at the right cluster.',
    );
  }
  const where = `release ${release.name} in namespace ${release.namespace}`;
  const helmSays = release.description ? ` Helm says: "${release.description}".` : '';
  if (release.chartName !== targets.chartName) {
    throw refusal(
      `The ${where} is of the chart ${release.chartName}-${release.chartVersion}, not of the ${targets.chartName} chart.`,
      'Point release-name at the release of the Milvus Helm chart (or set chart-name if your mirror renames the chart).',
    );
  }
  if (release.status.startsWith('pending-')) {
    throw refusal(
      `The ${where} is ${release.status} at revision ${release.revision}: another Helm operation is in progress, or one was interrupted.${helmSays}`,
      `Wait for the other operation to finish and re-run. If it was interrupted, inspect it with \`helm history ${release.name} --namespace ${release.namespace}\`, bring the release back to a deployed revision, and re-run.`,
    );
  }
  const components = observed.deployments.map((d) => d.component);
  const standalone =
    valueAt(computedValues, 'cluster.enabled') === false || components.includes('standalone');
  if (observed.pods.every((pod) => !pod.milvus) && observed.deployments.length === 0) {
    throw refusal(
      `No Milvus pods or Deployments of the ${where} were found (selected by the labels app.kubernetes.io/instance=${release.name} and the chart name).`,
      'Check that the release is healthy and that its pods carry the chart labels, then re-run.',
    );
  }

  const versions = runningVersions(observed);
  const lowest = versions[0] as string;
  const highest = versions[versions.length - 1] as string;
  const unready = unreadyPods(observed.pods);
  const paused = observed.deployments.filter((d) => d.paused);
  const stopped = stoppedHop(observed, release, versions, targets, standalone);

  const preview = versions.find(isPrerelease);
  if (preview) {
    throw refusal(
      `The cluster runs the pre-release ${preview}. Pre-releases cannot be upgraded (2.6.0-rc1's data is incompatible with 2.6.4).`,
      'Follow the Milvus community guide for repairing a 2.6.0-rc1 deployment; this action upgrades 2.5.x releases.',
    );
  }
  if (compareVersions(lowest, MINIMUM_SOURCE_VERSION) < 0) {
    throw refusal(
      `The cluster runs Milvus ${lowest}, below ${MINIMUM_SOURCE_VERSION}; only 2.5.x can be upgraded to 2.6.`,
      'Upgrade to a 2.5.x release first (the Milvus documentation describes the earlier upgrades), then re-run.',
    );
  }
  if (compareVersions(highest, targets.targetVersion) > 0) {
    throw refusal(
      `The cluster runs Milvus ${highest}, newer than the target ${targets.targetVersion}.`,
      'Set target-version to the version you want to reach (downgrades are not supported).',
    );
  }
  if (versions.length > 1 && !stopped) {
    throw refusal(
      `The cluster runs several Milvus versions at once (${versions.join(', ')}), and not because of a hop of this upgrade.`,
      'Finish or undo the rollout that mixed them (every Milvus component should run one image tag), then re-run.',
    );
  }
  if (release.status === 'failed' && !stopped) {
    throw refusal(
      `The ${where} is failed at revision ${release.revision}, from an operation that was not a hop of this upgrade.${helmSays}`,
      `Inspect it with \`helm history ${release.name} --namespace ${release.namespace}\`, roll back to the last good revision with \`helm rollback ${release.name} <revision> --namespace ${release.namespace} --wait\`, then re-run.`,
    );
  }
  if (series(lowest) === '2.5' && isOn(computedValues, 'streaming.enabled') && stopped !== 2) {
    throw refusal(
      `The cluster runs Milvus ${lowest} with streaming.enabled=true, which is experimental on 2.5 and not a supported starting point for the upgrade.`,
      'Turn streaming off on 2.5 (streaming.enabled=false) and let the cluster settle, or ask the Milvus community how to upgrade such a cluster.',
    );
  }
  const pausedByOthers = paused.filter((d) => !d.heldFor);
  if (pausedByOthers.length > 0) {
    throw refusal(
      `The Deployment${pausedByOthers.length > 1 ? 's' : ''} ${pausedByOthers.map((d) => d.name).join(', ')} of the ${where} ${pausedByOthers.length > 1 ? 'are' : 'is'} paused, and not by this action: Kubernetes would not roll ${pausedByOthers.length > 1 ? 'them' : 'it'}, and the hop could not land.`,
      `Resume ${pausedByOthers.length > 1 ? 'them' : 'it'} (kubectl rollout resume deployment/<name>) and let the rollout finish, then re-run.`,
    );
  }
  if (unready.length > 0 && !stopped) {
    throw refusal(
      `The cluster is not healthy: ${unready.length} pod(s) of the ${where} are not ready: ${describePods(unready)}.`,
      'Fix the cluster until every pod is ready (kubectl get pods shows them), then re-run; the action does not start an upgrade on an unhealthy cluster.',
    );
  }

  // The queue Milvus runs on is the deployed revision's: a failed revision may not have applied.
  const queue = readQueue(observed.baseline.values);
  if (!queue.queue) {
    throw refusal(
      `Cannot tell which message queue the ${where} uses (${queue.basis}).`,
      'Make the queue explicit in the release values (enable exactly one of pulsar, pulsarv3, kafka, woodpecker, externalPulsar, externalKafka), then re-run.',
    );
  }
  const warnings: string[] = [];
  const held = paused.filter((d) => d.heldFor);
  if (held.length > 0) {
    warnings.push(
      `An earlier run stopped during its ordered rollout and left ${held.map((d) => `${d.name} (${d.heldFor})`).join(', ')} paused; the rollout resumes in order.`,
    );
  }
  if (queue.idleKafka) {
    warnings.push(
      `Both Kafka and ${queue.queue} are enabled; Milvus uses ${queue.queue} and the Kafka settings are unused. The upgrade keeps it that way.`,
    );
  }
  if (valueAt(computedValues, 'customConfigMap')) {
    warnings.push(
      'The release uses customConfigMap: the message queue is read from the chart values only; make sure your ConfigMap points at the same queue.',
    );
  }
  const legacy = new Set<Component>(LEGACY_COORDINATORS.map(({ component }) => component));
  const layout: Layout = standalone
    ? 'standalone'
    : components.some((c) => legacy.has(c))
      ? 'separate'
      : 'mixcoord';
  return {
    release,
    versions,
    lowest,
    highest,
    layout,
    components,
    queue: { ...queue, queue: queue.queue },
    unready,
    stoppedHop: stopped,
    deployedRevision: observed.deployedRevision,
    atTarget: complete(observed, release, hopSpecs(standalone)[2], targets.targetVersion),
    warnings,
  };
}
