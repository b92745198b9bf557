// What the built-in admission plugins and allocators add to objects on write: Service cluster IPs
// and node ports, a Pod's service account and tolerations, a PVC's storage class, a Job's selector.
import type { ResourceType } from './resources.ts';
import type { Store } from './store.ts';
import type { KubeObject, Pod } from './types.ts';
import { isObject, type JsonObject } from './util.ts';

export class Admission {
  readonly #store: Store;
  readonly #registry: { find(name: string): ResourceType | undefined };
  #nextIp = 10;
  #nextNodePort = 30000;

  constructor(store: Store, registry: { find(name: string): ResourceType | undefined }) {
    this.#store = store;
    this.#registry = registry;
  }

  /** Cluster IPs come from 10.96.0.0/12; 10.96.0.1 is the `kubernetes` Service's. */
  #allocateIp(): string {
    const n = this.#nextIp++;
    return `10.${96 + Math.floor(n / 65536)}.${Math.floor(n / 256) % 256}.${n % 256}`;
  }

  onCreate(rt: ResourceType, object: KubeObject): void {
    switch (rt.kind) {
      case 'Service':
        this.#allocateService(object, undefined);
        break;
      case 'Pod': {
        const pod = object as Pod;
        const spec = pod.spec as JsonObject;
        if (!spec.serviceAccountName) {
          spec.serviceAccountName = 'default';
          spec.serviceAccount = 'default';
        }
        // The DefaultTolerationSeconds plugin.
        const tolerations = (spec.tolerations as JsonObject[] | undefined) ?? [];
        for (const key of ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']) {
          if (!tolerations.some((t) => t.key === key)) {
            tolerations.push({
              key,
              operator: 'Exists',
              effect: 'NoExecute',
              tolerationSeconds: 300,
            });
          }
        }
        spec.tolerations = tolerations;
        pod.status = { phase: 'Pending', qosClass: qosClass(pod) };
        break;
      }
      case 'PersistentVolumeClaim': {
        const spec = (object.spec ?? {}) as JsonObject;
        if (spec.storageClassName === undefined) {
          const scType = this.#registry.find('storageclasses');
          const defaultClass = scType
            ? this.#store
                .list(scType)
                .find(
                  (sc) =>
                    sc.metadata.annotations?.['storageclass.kubernetes.io/is-default-class'] ===
                    'true',
                )
            : undefined;
          if (defaultClass) spec.storageClassName = defaultClass.metadata.name;
        }
        addFinalizer(object, 'kubernetes.io/pvc-protection');
        break;
      }
      case 'Job': {
        // Without manualSelector the Job selects its pods by its own uid.
        const spec = (object.spec ?? {}) as JsonObject;
        if (spec.manualSelector === true) break;
        const uid = object.metadata.uid ?? '';
        const name = object.metadata.name ?? '';
        spec.selector = { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } };
        const template = isObject(spec.template) ? spec.template : {};
        const metadata = isObject(template.metadata) ? template.metadata : {};
        metadata.labels = {
          ...(isObject(metadata.labels) ? metadata.labels : {}),
          'batch.kubernetes.io/controller-uid': uid,
          'batch.kubernetes.io/job-name': name,
          'controller-uid': uid,
          'job-name': name,
        };
        template.metadata = metadata;
        spec.template = template;
        break;
      }
    }
  }

  onUpdate(rt: ResourceType, object: KubeObject, old: KubeObject): void {
    if (rt.kind === 'Service') this.#allocateService(object, old);
  }

  /** Assigns a cluster IP and node ports, keeping the ones already allocated on updates. */
  #allocateService(object: KubeObject, old: KubeObject | undefined): void {
    const spec = (object.spec ?? {}) as JsonObject;
    const oldSpec = (old?.spec ?? {}) as JsonObject;
    if (spec.type === 'ExternalName') return;
    if (!spec.clusterIP) spec.clusterIP = oldSpec.clusterIP || this.#allocateIp();
    if (!spec.clusterIPs || (old && !deepIncludes(spec.clusterIPs, spec.clusterIP))) {
      spec.clusterIPs = [spec.clusterIP];
    }
    if (spec.type !== 'NodePort' && spec.type !== 'LoadBalancer') return;
    const oldPorts = (oldSpec.ports as JsonObject[] | undefined) ?? [];
    for (const port of (spec.ports as JsonObject[] | undefined) ?? []) {
      if (port.nodePort) continue;
      const previous = oldPorts.find((p) => p.port === port.port && p.protocol === port.protocol);
      port.nodePort = previous?.nodePort ?? this.#nextNodePort++;
    }
  }
}

function deepIncludes(list: unknown, value: unknown): boolean {
  return Array.isArray(list) && list.includes(value);
}

function addFinalizer(object: KubeObject, finalizer: string): void {
  const finalizers = object.metadata.finalizers ?? [];
  if (!finalizers.includes(finalizer)) object.metadata.finalizers = [...finalizers, finalizer];
}

function qosClass(pod: Pod): string {
  const containers = pod.spec.containers ?? [];
  const resources = containers.map((c) => (isObject(c.resources) ? c.resources : {}));
  if (resources.every((r) => !isObject(r.requests) && !isObject(r.limits))) return 'BestEffort';
  const guaranteed = resources.every((r) => {
    const limits = isObject(r.limits) ? r.limits : {};
    const requests = isObject(r.requests) ? r.requests : limits;
    return (
      limits.cpu &&
      limits.memory &&
      requests.cpu === limits.cpu &&
      requests.memory === limits.memory
    );
  });
  return guaranteed ? 'Guaranteed' : 'Burstable';
}
