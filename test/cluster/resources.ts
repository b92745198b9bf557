// The kinds the test cluster serves: built-in ones plus those registered by CustomResourceDefinitions.

export interface ResourceType {
  group: string;
  version: string;
  kind: string;
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  /** Writes to the main resource keep `status`; `/status` writes change only `status`. */
  statusSubresource: boolean;
  scaleSubresource: boolean;
  /** `metadata.generation` is kept and bumped on spec changes. */
  generation: boolean;
  /** Top-level fields accepted under `fieldValidation=Strict`; undefined accepts any (custom kinds). */
  fields: string[] | undefined;
  /** Served from a CustomResourceDefinition: no strategic merge patch, items listed with kind. */
  custom: boolean;
}

export function apiVersionOf(rt: { group: string; version: string }): string {
  return rt.group ? `${rt.group}/${rt.version}` : rt.version;
}

/** Key under which objects of this resource are stored, whatever version they are served in. */
export function storageKey(rt: ResourceType): string {
  return `${rt.group}/${rt.plural}`;
}

type Spec = [
  group: string,
  version: string,
  kind: string,
  plural: string,
  flags: string,
  fields: string,
  shortNames?: string,
];

// flags: n = namespaced, s = status subresource, c = scale subresource, g = generation, a = category "all"
const BUILT_IN: Spec[] = [
  ['', 'v1', 'Namespace', 'namespaces', 's', 'spec status', 'ns'],
  ['', 'v1', 'Node', 'nodes', 's', 'spec status', 'no'],
  ['', 'v1', 'Pod', 'pods', 'nsa', 'spec status', 'po'],
  ['', 'v1', 'Service', 'services', 'nsa', 'spec status', 'svc'],
  ['', 'v1', 'ConfigMap', 'configmaps', 'n', 'data binaryData immutable', 'cm'],
  ['', 'v1', 'Secret', 'secrets', 'n', 'data stringData type immutable'],
  ['', 'v1', 'PersistentVolumeClaim', 'persistentvolumeclaims', 'ns', 'spec status', 'pvc'],
  ['', 'v1', 'PersistentVolume', 'persistentvolumes', 's', 'spec status', 'pv'],
  [
    '',
    'v1',
    'ServiceAccount',
    'serviceaccounts',
    'n',
    'secrets imagePullSecrets automountServiceAccountToken',
    'sa',
  ],
  ['', 'v1', 'Endpoints', 'endpoints', 'n', 'subsets', 'ep'],
  [
    '',
    'v1',
    'Event',
    'events',
    'n',
    'involvedObject reason message source firstTimestamp lastTimestamp count type eventTime series action related reportingComponent reportingInstance',
    'ev',
  ],
  ['apps', 'v1', 'Deployment', 'deployments', 'nscga', 'spec status', 'deploy'],
  ['apps', 'v1', 'StatefulSet', 'statefulsets', 'nscga', 'spec status', 'sts'],
  ['apps', 'v1', 'ReplicaSet', 'replicasets', 'nscga', 'spec status', 'rs'],
  ['apps', 'v1', 'DaemonSet', 'daemonsets', 'nsga', 'spec status', 'ds'],
  ['apps', 'v1', 'ControllerRevision', 'controllerrevisions', 'n', 'data revision'],
  ['batch', 'v1', 'Job', 'jobs', 'nsga', 'spec status'],
  ['batch', 'v1', 'CronJob', 'cronjobs', 'nsga', 'spec status', 'cj'],
  ['rbac.authorization.k8s.io', 'v1', 'Role', 'roles', 'n', 'rules'],
  ['rbac.authorization.k8s.io', 'v1', 'RoleBinding', 'rolebindings', 'n', 'subjects roleRef'],
  ['rbac.authorization.k8s.io', 'v1', 'ClusterRole', 'clusterroles', '', 'rules aggregationRule'],
  [
    'rbac.authorization.k8s.io',
    'v1',
    'ClusterRoleBinding',
    'clusterrolebindings',
    '',
    'subjects roleRef',
  ],
  ['policy', 'v1', 'PodDisruptionBudget', 'poddisruptionbudgets', 'nsg', 'spec status', 'pdb'],
  [
    'autoscaling',
    'v2',
    'HorizontalPodAutoscaler',
    'horizontalpodautoscalers',
    'nsga',
    'spec status',
    'hpa',
  ],
  ['networking.k8s.io', 'v1', 'Ingress', 'ingresses', 'nsg', 'spec status', 'ing'],
  ['networking.k8s.io', 'v1', 'IngressClass', 'ingressclasses', 'g', 'spec'],
  ['networking.k8s.io', 'v1', 'NetworkPolicy', 'networkpolicies', 'ng', 'spec', 'netpol'],
  [
    'storage.k8s.io',
    'v1',
    'StorageClass',
    'storageclasses',
    '',
    'provisioner parameters reclaimPolicy mountOptions allowVolumeExpansion volumeBindingMode allowedTopologies',
    'sc',
  ],
  [
    'apiextensions.k8s.io',
    'v1',
    'CustomResourceDefinition',
    'customresourcedefinitions',
    'sg',
    'spec status',
    'crd crds',
  ],
];

function builtIn([group, version, kind, plural, flags, fields, shortNames]: Spec): ResourceType {
  return {
    group,
    version,
    kind,
    plural,
    singular: kind.toLowerCase(),
    namespaced: flags.includes('n'),
    shortNames: shortNames ? shortNames.split(' ') : [],
    categories: flags.includes('a') ? ['all'] : [],
    statusSubresource: flags.includes('s'),
    scaleSubresource: flags.includes('c'),
    generation: flags.includes('g'),
    fields: ['apiVersion', 'kind', 'metadata', ...fields.split(' ')],
    custom: false,
  };
}

export class ResourceRegistry {
  #types: ResourceType[] = BUILT_IN.map(builtIn);

  all(): ResourceType[] {
    return [...this.#types];
  }

  get(group: string, version: string, plural: string): ResourceType | undefined {
    return this.#types.find(
      (t) => t.group === group && t.version === version && t.plural === plural,
    );
  }

  byKind(apiVersion: string, kind: string): ResourceType | undefined {
    return this.#types.find((t) => apiVersionOf(t) === apiVersion && t.kind === kind);
  }

  /** The built-in or custom type with this kind, plural, singular, short name or `plural.group`. */
  find(name: string): ResourceType | undefined {
    const wanted = name.toLowerCase();
    return this.#types.find(
      (t) =>
        t.kind.toLowerCase() === wanted ||
        t.plural === wanted ||
        t.singular === wanted ||
        t.shortNames.includes(wanted) ||
        `${t.plural}.${t.group}` === wanted,
    );
  }

  /** Group versions in discovery order: the core group first, then groups as registered. */
  groupVersions(): { group: string; versions: string[] }[] {
    const groups = new Map<string, string[]>();
    for (const t of this.#types) {
      const versions = groups.get(t.group) ?? [];
      if (!versions.includes(t.version)) versions.push(t.version);
      groups.set(t.group, versions);
    }
    return [...groups].map(([group, versions]) => ({ group, versions }));
  }

  register(types: ResourceType[]): void {
    for (const t of types) {
      this.unregister(t.group, t.plural);
    }
    this.#types.push(...types);
  }

  unregister(group: string, plural: string): void {
    this.#types = this.#types.filter(
      (t) => !(t.custom && t.group === group && t.plural === plural),
    );
  }
}
