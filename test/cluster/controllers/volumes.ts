// Volume binding: every pending PVC gets a dynamically provisioned PV (`pvc-<uid>`) and is Bound;
// a PVC in use by a pod stays Terminating (pvc-protection); a released PV is deleted or kept
// according to its reclaim policy.
import type { StoreEvent } from '../store.ts';
import type { KubeObject, Pod } from '../types.ts';
import { type JsonObject, timestamp } from '../util.ts';
import { type Context, type Controller, keyOf } from './manager.ts';

const PROTECTION = 'kubernetes.io/pvc-protection';

const claimNames = (pod: Pod) =>
  (pod.spec.volumes ?? [])
    .map((v) => (v.persistentVolumeClaim as { claimName?: string } | undefined)?.claimName)
    .filter((n): n is string => !!n);

export class VolumeController implements Controller {
  readonly name = 'volumes';
  readonly #ctx: Context;

  constructor(ctx: Context) {
    this.#ctx = ctx;
  }

  onEvent(event: StoreEvent, enqueue: (key: string) => void): void {
    const { object } = event;
    if (event.rt.kind === 'PersistentVolumeClaim') {
      if (event.type === 'DELETED')
        enqueue(`pv:${(object.spec as { volumeName?: string } | undefined)?.volumeName ?? ''}`);
      else enqueue(`pvc:${keyOf(object)}`);
    }
    if (
      event.rt.kind === 'Pod' &&
      (event.type === 'DELETED' || object.metadata.deletionTimestamp)
    ) {
      for (const claim of claimNames(object as Pod))
        enqueue(`pvc:${object.metadata.namespace}/${claim}`);
    }
  }

  reconcile(key: string): void {
    if (key.startsWith('pv:')) this.#release(key.slice(3));
    else this.#claim(key.slice(4));
  }

  #claim(key: string): void {
    const [namespace, name] = key.split('/') as [string, string];
    const pvcType = this.#ctx.rt('persistentvolumeclaims');
    const pvc = this.#ctx.objects.store.get(pvcType, namespace, name);
    if (!pvc) return;
    if (pvc.metadata.deletionTimestamp) {
      const inUse = (this.#ctx.list('pods', namespace) as Pod[]).some(
        (p) => !p.metadata.deletionTimestamp && claimNames(p).includes(name),
      );
      if (!inUse) this.#ctx.objects.removeFinalizer(pvcType, pvc, PROTECTION);
      return;
    }
    const status = (pvc.status ?? {}) as JsonObject;
    if (status.phase === 'Bound') return;
    const spec = (pvc.spec ?? {}) as JsonObject;
    const className = spec.storageClassName as string | undefined;
    const storageClass = className
      ? this.#ctx.get('storageclasses', undefined, className)
      : undefined;
    if (!storageClass) return; // Without a provisioner the claim stays Pending, as on a real cluster.
    const storage =
      ((spec.resources as JsonObject | undefined)?.requests as JsonObject | undefined)?.storage ??
      '1Gi';
    const pvName = `pvc-${pvc.metadata.uid}`;
    const pvType = this.#ctx.rt('persistentvolumes');
    if (!this.#ctx.objects.store.get(pvType, undefined, pvName)) {
      const pv = this.#ctx.objects.create(pvType, undefined, {
        metadata: {
          name: pvName,
          annotations: {
            'pv.kubernetes.io/provisioned-by': String(storageClass.provisioner ?? ''),
          },
        },
        spec: {
          accessModes: spec.accessModes ?? ['ReadWriteOnce'],
          capacity: { storage },
          claimRef: {
            apiVersion: 'v1',
            kind: 'PersistentVolumeClaim',
            namespace,
            name,
            uid: pvc.metadata.uid,
            resourceVersion: pvc.metadata.resourceVersion,
          },
          hostPath: { path: `/var/lib/test-cluster/${pvName}`, type: 'DirectoryOrCreate' },
          persistentVolumeReclaimPolicy: storageClass.reclaimPolicy ?? 'Delete',
          storageClassName: className,
          volumeMode: spec.volumeMode ?? 'Filesystem',
        },
      });
      this.#ctx.objects.update(
        pvType,
        undefined,
        pvName,
        { ...pv, status: { phase: 'Bound', lastPhaseTransitionTime: timestamp() } },
        { subresource: 'status' },
      );
    }
    const provisioner = String(storageClass.provisioner ?? '');
    const bound: KubeObject = {
      ...pvc,
      metadata: {
        ...pvc.metadata,
        annotations: {
          ...(pvc.metadata.annotations ?? {}),
          'pv.kubernetes.io/bind-completed': 'yes',
          'pv.kubernetes.io/bound-by-controller': 'yes',
          'volume.beta.kubernetes.io/storage-provisioner': provisioner,
          'volume.kubernetes.io/storage-provisioner': provisioner,
        },
      },
      spec: { ...spec, volumeName: pvName },
    };
    const written = this.#ctx.objects.writeInternal(pvcType, bound) ?? bound;
    this.#ctx.objects.update(
      pvcType,
      namespace,
      name,
      {
        ...written,
        status: {
          phase: 'Bound',
          accessModes: spec.accessModes ?? ['ReadWriteOnce'],
          capacity: { storage },
        },
      },
      { subresource: 'status' },
    );
  }

  #release(pvName: string): void {
    if (!pvName) return;
    const pvType = this.#ctx.rt('persistentvolumes');
    const pv = this.#ctx.objects.store.get(pvType, undefined, pvName);
    if (!pv) return;
    if ((pv.spec as JsonObject).persistentVolumeReclaimPolicy === 'Delete') {
      this.#ctx.objects.store.remove(pvType, undefined, pvName);
    } else {
      this.#ctx.objects.update(
        pvType,
        undefined,
        pvName,
        { ...pv, status: { phase: 'Released' } },
        { subresource: 'status' },
      );
    }
  }
}
