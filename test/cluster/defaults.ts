// The defaults a real API server fills in on write. Helm 3's three-way patches and readiness checks
// see them in the live objects (e.g. the Deployment strategy and the StatefulSet update strategy).
import type { ResourceType } from './resources.ts';
import type { Container, KubeObject, PodSpec, PodTemplate } from './types.ts';
import { isObject, type JsonObject } from './util.ts';

type Mutable = JsonObject;

function obj(parent: Mutable, key: string): Mutable {
  const value = parent[key];
  if (isObject(value)) return value;
  const created: Mutable = {};
  parent[key] = created;
  return created;
}

function setDefault(target: Mutable, key: string, value: unknown): void {
  if (target[key] === undefined || target[key] === null) target[key] = value;
}

/** `Always` for `:latest` or untagged images, else `IfNotPresent`. */
export function defaultPullPolicy(image: string | undefined): string {
  if (!image || image.includes('@')) return 'IfNotPresent';
  const lastSegment = image.slice(image.lastIndexOf('/') + 1);
  const tag = lastSegment.includes(':') ? lastSegment.slice(lastSegment.lastIndexOf(':') + 1) : '';
  return tag === '' || tag === 'latest' ? 'Always' : 'IfNotPresent';
}

function defaultContainer(container: Container): void {
  const c = container as Mutable;
  setDefault(c, 'terminationMessagePath', '/dev/termination-log');
  setDefault(c, 'terminationMessagePolicy', 'File');
  setDefault(c, 'imagePullPolicy', defaultPullPolicy(container.image));
  setDefault(c, 'resources', {});
  for (const port of container.ports ?? []) setDefault(port as Mutable, 'protocol', 'TCP');
  for (const probeKey of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
    const probe = c[probeKey];
    if (!isObject(probe)) continue;
    setDefault(probe, 'timeoutSeconds', 1);
    setDefault(probe, 'periodSeconds', 10);
    setDefault(probe, 'successThreshold', 1);
    setDefault(probe, 'failureThreshold', 3);
    if (isObject(probe.httpGet)) setDefault(probe.httpGet, 'scheme', 'HTTP');
  }
  for (const env of (c.env as Mutable[] | undefined) ?? []) {
    const fieldRef = isObject(env.valueFrom) ? env.valueFrom.fieldRef : undefined;
    if (isObject(fieldRef)) setDefault(fieldRef, 'apiVersion', 'v1');
  }
}

export function defaultPodSpec(podSpec: PodSpec): void {
  const spec = podSpec as Mutable;
  setDefault(spec, 'restartPolicy', 'Always');
  setDefault(spec, 'terminationGracePeriodSeconds', 30);
  setDefault(spec, 'dnsPolicy', 'ClusterFirst');
  setDefault(spec, 'securityContext', {});
  setDefault(spec, 'schedulerName', 'default-scheduler');
  // The deprecated serviceAccount field mirrors serviceAccountName.
  if (spec.serviceAccountName && !spec.serviceAccount)
    spec.serviceAccount = spec.serviceAccountName;
  if (spec.serviceAccount && !spec.serviceAccountName)
    spec.serviceAccountName = spec.serviceAccount;
  for (const container of [...(podSpec.containers ?? []), ...(podSpec.initContainers ?? [])]) {
    defaultContainer(container);
  }
  for (const volume of podSpec.volumes ?? []) {
    for (const source of ['configMap', 'secret', 'downwardAPI', 'projected']) {
      const v = volume[source];
      if (isObject(v)) setDefault(v, 'defaultMode', 420);
    }
  }
}

function defaultTemplate(template: PodTemplate | undefined): void {
  if (isObject(template) && isObject(template.spec)) defaultPodSpec(template.spec);
}

function defaultWorkload(spec: Mutable): void {
  defaultTemplate(spec.template as PodTemplate | undefined);
}

/** Fills in the defaults a real server sets for `rt`'s kind. Mutates `object`. */
export function applyDefaults(rt: ResourceType, object: KubeObject): void {
  const o = object as Mutable;
  switch (rt.kind) {
    case 'Pod': {
      const spec = obj(o, 'spec');
      defaultPodSpec(spec as PodSpec);
      setDefault(spec, 'enableServiceLinks', true);
      setDefault(spec, 'preemptionPolicy', 'PreemptLowerPriority');
      setDefault(spec, 'priority', 0);
      break;
    }
    case 'Deployment': {
      const spec = obj(o, 'spec');
      setDefault(spec, 'replicas', 1);
      setDefault(spec, 'revisionHistoryLimit', 10);
      setDefault(spec, 'progressDeadlineSeconds', 600);
      const strategy = obj(spec, 'strategy');
      setDefault(strategy, 'type', 'RollingUpdate');
      if (strategy.type === 'RollingUpdate') {
        const rolling = obj(strategy, 'rollingUpdate');
        setDefault(rolling, 'maxUnavailable', '25%');
        setDefault(rolling, 'maxSurge', '25%');
      }
      defaultWorkload(spec);
      break;
    }
    case 'StatefulSet': {
      const spec = obj(o, 'spec');
      setDefault(spec, 'replicas', 1);
      setDefault(spec, 'podManagementPolicy', 'OrderedReady');
      setDefault(spec, 'revisionHistoryLimit', 10);
      const strategy = obj(spec, 'updateStrategy');
      setDefault(strategy, 'type', 'RollingUpdate');
      if (strategy.type === 'RollingUpdate')
        setDefault(obj(strategy, 'rollingUpdate'), 'partition', 0);
      const retention = obj(spec, 'persistentVolumeClaimRetentionPolicy');
      setDefault(retention, 'whenDeleted', 'Retain');
      setDefault(retention, 'whenScaled', 'Retain');
      for (const claim of (spec.volumeClaimTemplates as Mutable[] | undefined) ?? []) {
        setDefault(claim, 'apiVersion', 'v1');
        setDefault(claim, 'kind', 'PersistentVolumeClaim');
        setDefault(obj(claim, 'spec'), 'volumeMode', 'Filesystem');
        setDefault(claim, 'status', { phase: 'Pending' });
      }
      defaultWorkload(spec);
      break;
    }
    case 'ReplicaSet': {
      const spec = obj(o, 'spec');
      setDefault(spec, 'replicas', 1);
      defaultWorkload(spec);
      break;
    }
    case 'DaemonSet': {
      const spec = obj(o, 'spec');
      setDefault(spec, 'revisionHistoryLimit', 10);
      const strategy = obj(spec, 'updateStrategy');
      setDefault(strategy, 'type', 'RollingUpdate');
      if (strategy.type === 'RollingUpdate') {
        const rolling = obj(strategy, 'rollingUpdate');
        setDefault(rolling, 'maxUnavailable', 1);
        setDefault(rolling, 'maxSurge', 0);
      }
      defaultWorkload(spec);
      break;
    }
    case 'Job': {
      const spec = obj(o, 'spec');
      if (spec.completions === undefined && spec.parallelism === undefined) spec.completions = 1;
      setDefault(spec, 'parallelism', 1);
      setDefault(spec, 'backoffLimit', 6);
      setDefault(spec, 'completionMode', 'NonIndexed');
      setDefault(spec, 'suspend', false);
      setDefault(spec, 'podReplacementPolicy', 'TerminatingOrFailed');
      defaultWorkload(spec);
      break;
    }
    case 'CronJob': {
      const spec = obj(o, 'spec');
      setDefault(spec, 'concurrencyPolicy', 'Allow');
      setDefault(spec, 'suspend', false);
      setDefault(spec, 'successfulJobsHistoryLimit', 3);
      setDefault(spec, 'failedJobsHistoryLimit', 1);
      const jobTemplate = obj(spec, 'jobTemplate');
      defaultWorkload(obj(jobTemplate, 'spec'));
      break;
    }
    case 'Service': {
      const spec = obj(o, 'spec');
      setDefault(spec, 'type', 'ClusterIP');
      setDefault(spec, 'sessionAffinity', 'None');
      for (const port of (spec.ports as Mutable[] | undefined) ?? []) {
        setDefault(port, 'protocol', 'TCP');
        if (spec.type !== 'ExternalName') setDefault(port, 'targetPort', port.port);
      }
      if (spec.type !== 'ExternalName') {
        setDefault(spec, 'internalTrafficPolicy', 'Cluster');
        setDefault(spec, 'ipFamilyPolicy', 'SingleStack');
        setDefault(spec, 'ipFamilies', ['IPv4']);
      }
      if (spec.type === 'NodePort' || spec.type === 'LoadBalancer')
        setDefault(spec, 'externalTrafficPolicy', 'Cluster');
      if (spec.type === 'LoadBalancer') setDefault(spec, 'allocateLoadBalancerNodePorts', true);
      setDefault(o, 'status', { loadBalancer: {} });
      break;
    }
    case 'PersistentVolumeClaim':
      setDefault(obj(o, 'spec'), 'volumeMode', 'Filesystem');
      setDefault(o, 'status', { phase: 'Pending' });
      break;
    case 'PersistentVolume':
      setDefault(obj(o, 'spec'), 'persistentVolumeReclaimPolicy', 'Retain');
      setDefault(obj(o, 'spec'), 'volumeMode', 'Filesystem');
      setDefault(o, 'status', { phase: 'Available' });
      break;
    case 'Secret': {
      setDefault(o, 'type', 'Opaque');
      // stringData is write-only: it is merged into data.
      if (isObject(o.stringData)) {
        const data = obj(o, 'data');
        for (const [key, value] of Object.entries(o.stringData))
          data[key] = Buffer.from(String(value)).toString('base64');
        delete o.stringData;
      }
      break;
    }
    case 'Namespace': {
      setDefault(obj(o, 'spec'), 'finalizers', ['kubernetes']);
      setDefault(o, 'status', { phase: 'Active' });
      obj(obj(o, 'metadata'), 'labels')['kubernetes.io/metadata.name'] = object.metadata.name ?? '';
      break;
    }
    case 'Ingress':
      setDefault(o, 'status', { loadBalancer: {} });
      break;
    case 'NetworkPolicy': {
      const spec = obj(o, 'spec');
      setDefault(spec, 'policyTypes', spec.egress ? ['Ingress', 'Egress'] : ['Ingress']);
      break;
    }
    case 'RoleBinding':
    case 'ClusterRoleBinding':
      for (const subject of (o.subjects as Mutable[] | undefined) ?? []) {
        if (subject.kind !== 'ServiceAccount')
          setDefault(subject, 'apiGroup', 'rbac.authorization.k8s.io');
      }
      break;
    case 'StorageClass':
      setDefault(o, 'reclaimPolicy', 'Delete');
      setDefault(o, 'volumeBindingMode', 'Immediate');
      break;
    case 'Endpoints':
      for (const subset of (o.subsets as Mutable[] | undefined) ?? []) {
        for (const port of (subset.ports as Mutable[] | undefined) ?? [])
          setDefault(port, 'protocol', 'TCP');
      }
      break;
    case 'CustomResourceDefinition':
      setDefault(obj(o, 'spec'), 'conversion', { strategy: 'None' });
      break;
  }
}
