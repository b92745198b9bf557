// Reads a release as it is: Helm's record of it and the pods and Deployments it runs.
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { inBackground } from './background.ts';
import type { Helm } from './helm.ts';
import { exactFilter } from './helm-args.ts';
import type { Kube } from './kube.ts';
import { ALL_COMPONENTS, type Component, HELD_ANNOTATION } from './milvus.ts';
import type {
  DeploymentInfo,
  ObservedRelease,
  OperatorSign,
  PodInfo,
  ReleaseInfo,
  Values,
} from './observed.ts';
import { valueAt } from './values.ts';

/** The chart's `app.kubernetes.io/name` for Milvus objects: `nameOverride`, else the chart name. */
export function milvusName(values: Values, chartName: string): string {
  const override = valueAt(values, 'nameOverride');
  return typeof override === 'string' && override !== '' ? override : chartName;
}

export function releaseSelector(release: string): string {
  return `app.kubernetes.io/instance=${release}`;
}

export function milvusSelector(release: string, name: string): string {
  return `${releaseSelector(release)},app.kubernetes.io/name=${name}`;
}

function isComponent(value: string | undefined): value is Component {
  return ALL_COMPONENTS.includes(value as Component);
}

function containerImage(
  spec: { containers?: { name: string; image?: string }[] } | undefined,
  component: string | undefined,
): string | undefined {
  return spec?.containers?.find((c) => c.name === component)?.image;
}

export function toPodInfo(pod: V1Pod, name: string): PodInfo {
  const labels = pod.metadata?.labels ?? {};
  const component = labels.component;
  const milvus = labels['app.kubernetes.io/name'] === name && isComponent(component);
  const ready = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
  const waiting = pod.status?.containerStatuses?.find((s) => !s.ready)?.state?.waiting?.reason;
  return {
    name: pod.metadata?.name ?? '',
    component,
    milvus,
    ready: ready === true,
    phase: pod.metadata?.deletionTimestamp ? 'Terminating' : (pod.status?.phase ?? 'Unknown'),
    reason: waiting ?? (ready ? undefined : pod.status?.reason),
    milvusImage: milvus ? containerImage(pod.spec, component) : undefined,
  };
}

export function toDeploymentInfo(deployment: V1Deployment): DeploymentInfo | undefined {
  const component = deployment.metadata?.labels?.component;
  if (!isComponent(component)) return undefined;
  const status = deployment.status ?? {};
  const image = containerImage(deployment.spec?.template.spec, component);
  return {
    name: deployment.metadata?.name ?? '',
    component,
    replicas: deployment.spec?.replicas ?? 1,
    readyReplicas: status.readyReplicas ?? 0,
    updatedReplicas: status.updatedReplicas ?? 0,
    availableReplicas: status.availableReplicas ?? 0,
    generation: deployment.metadata?.generation ?? 0,
    observedGeneration: status.observedGeneration ?? 0,
    images: image ? [image] : [],
    paused: deployment.spec?.paused === true,
    heldFor: deployment.metadata?.annotations?.[HELD_ANNOTATION],
  };
}

/** Deployments of this instance that the Milvus Operator, not Helm, owns. */
export function operatorSigns(deployments: readonly V1Deployment[]): OperatorSign[] {
  return deployments.flatMap((d) => {
    const name = d.metadata?.name ?? '';
    const owner = d.metadata?.ownerReferences?.find((o) => o.kind === 'Milvus');
    if (owner) return [{ deployment: name, reason: `owned by the Milvus resource ${owner.name}` }];
    if (d.metadata?.labels?.['app.kubernetes.io/managed-by'] === 'milvus-operator') {
      return [
        { deployment: name, reason: 'labelled app.kubernetes.io/managed-by=milvus-operator' },
      ];
    }
    return [];
  });
}

/** Helm's record of the release's latest revision, or undefined when there is none. */
export async function findRelease(
  helm: Helm,
  release: string,
  namespace: string,
): Promise<ReleaseInfo | undefined> {
  const entries = await helm.list(namespace, { filter: exactFilter(release) });
  return entries.find((entry) => entry.name === release);
}

/**
 * Everything the rules need about the release, read in parallel: Helm's release record and
 * values, the instance's Deployments, and its pods (including dependencies labelled `release=`,
 * as the Pulsar and MinIO charts do).
 */
export async function inspectRelease(
  helm: Helm,
  kube: Kube,
  release: string,
  namespace: string,
  chartName: string,
): Promise<ObservedRelease> {
  // The values and manifest are read alongside `helm list` rather than after it; when the
  // release does not exist they fail, and the failure is dropped.
  const user = inBackground(helm.getValues(release, namespace));
  const computed = inBackground(helm.getValues(release, namespace, { all: true }));
  const manifest = inBackground(helm.getManifest(release, namespace));
  const [info, deployments, instancePods, dependencyPods] = await Promise.all([
    findRelease(helm, release, namespace),
    kube.deployments(namespace, releaseSelector(release)),
    kube.pods(namespace, releaseSelector(release)),
    kube.pods(namespace, `release=${release}`),
  ]);
  let userValues: Values = {};
  let computedValues: Values = {};
  let baseline = { values: {} as Values, manifest: '' };
  let deployedRevision: number | undefined;
  if (info) {
    [userValues, computedValues, baseline.manifest] = await Promise.all([user, computed, manifest]);
    baseline.values = computedValues;
    deployedRevision = info.status === 'deployed' ? info.revision : undefined;
  }
  // Let the failing reads finish too, so no Helm process outlives the step.
  else await Promise.allSettled([user, computed, manifest]);
  if (info && info.status !== 'deployed') {
    // Helm's description says what happened to the revision, and the next upgrade reuses the
    // last deployed revision, not this one: that is the baseline, and where a rollback goes.
    const [status, history] = await Promise.all([
      helm.status(release, namespace),
      helm.history(release, namespace),
    ]);
    info.description = status?.description;
    deployedRevision = history.findLast((r) => r.status === 'deployed')?.revision;
    if (deployedRevision !== undefined) {
      const revision = deployedRevision;
      const [values, text] = await Promise.all([
        helm.getValues(release, namespace, { all: true, revision }),
        helm.getManifest(release, namespace, revision),
      ]);
      baseline = { values, manifest: text };
    }
  }
  const name = milvusName(computedValues, info?.chartName || chartName);
  const pods = new Map<string, V1Pod>();
  for (const pod of [...instancePods, ...dependencyPods]) pods.set(pod.metadata?.name ?? '', pod);
  const milvusDeployments = deployments.filter(
    (d) => d.metadata?.labels?.['app.kubernetes.io/name'] === name,
  );
  return {
    name: release,
    namespace,
    release: info,
    userValues,
    computedValues,
    baseline,
    deployedRevision,
    deployments: milvusDeployments.flatMap((d) => toDeploymentInfo(d) ?? []),
    pods: [...pods.values()].map((pod) => toPodInfo(pod, name)),
    operator: operatorSigns(deployments),
  };
}
