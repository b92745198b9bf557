// The StatefulSet controller: pods `<name>-<ordinal>` created in order (OrderedReady) or together
// (Parallel), PVCs `<template>-<name>-<ordinal>` from volumeClaimTemplates (kept on deletion unless
// the retention policy says otherwise), ControllerRevisions, and rolling updates from the highest
// ordinal down to the partition, one pod at a time.
import type { StoreEvent } from '../store.ts';
import type { KubeObject, LabelSelector, Pod, PodTemplate, Workload } from '../types.ts';
import { clone, type JsonObject, templateHash } from '../util.ts';
import {
  type Context,
  type Controller,
  controllerOf,
  keyOf,
  ownerReference,
  splitKey,
} from './manager.ts';
import { createPod, deletePod, isPodReady, omitZero, writeStatus } from './pods.ts';

const REVISION_LABEL = 'controller-revision-hash';

interface ClaimTemplate {
  metadata?: {
    name?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: JsonObject;
}

interface StatefulSetSpec {
  replicas?: number;
  serviceName?: string;
  podManagementPolicy?: string;
  updateStrategy?: { type?: string; rollingUpdate?: { partition?: number } };
  persistentVolumeClaimRetentionPolicy?: { whenDeleted?: string; whenScaled?: string };
  volumeClaimTemplates?: ClaimTemplate[];
  revisionHistoryLimit?: number;
  selector?: LabelSelector;
  template: PodTemplate;
}

function ordinalOf(sts: KubeObject, pod: KubeObject): number | undefined {
  const prefix = `${sts.metadata.name}-`;
  const name = pod.metadata.name ?? '';
  if (!name.startsWith(prefix)) return undefined;
  const rest = name.slice(prefix.length);
  return /^\d+$/.test(rest) ? Number(rest) : undefined;
}

const revisionOf = (pod: KubeObject) => pod.metadata.labels?.[REVISION_LABEL];

export class StatefulSetController implements Controller {
  readonly name = 'statefulset';
  readonly #ctx: Context;

  constructor(ctx: Context) {
    this.#ctx = ctx;
  }

  onEvent(event: StoreEvent, enqueue: (key: string) => void): void {
    if (event.rt.kind === 'StatefulSet' && event.type !== 'DELETED') enqueue(keyOf(event.object));
    if (event.rt.kind === 'Pod') {
      const owner = controllerOf(event.object);
      if (owner?.kind === 'StatefulSet')
        enqueue(`${event.object.metadata.namespace}/${owner.name}`);
    }
  }

  reconcile(key: string): void {
    const [namespace, name] = splitKey(key);
    const sts = this.#ctx.get('statefulsets', namespace, name) as Workload | undefined;
    if (!sts || sts.metadata.deletionTimestamp) return;
    const spec = sts.spec as unknown as StatefulSetSpec;
    const desired = spec.replicas ?? 1;
    const updateRevision = this.#ensureRevision(sts, spec);
    const currentRevision = (sts.status?.currentRevision as string | undefined) || updateRevision;
    const ordered = spec.podManagementPolicy !== 'Parallel';
    const onDelete = spec.updateStrategy?.type === 'OnDelete';
    const partition = onDelete ? 0 : (spec.updateStrategy?.rollingUpdate?.partition ?? 0);

    const pods = (this.#ctx.owned('pods', sts) as Pod[]).filter(
      (p) => ordinalOf(sts, p) !== undefined,
    );
    const byOrdinal = new Map(pods.map((p) => [ordinalOf(sts, p) ?? -1, p]));
    const healthy = (p: Pod) => !p.metadata.deletionTimestamp && isPodReady(p);

    let blocked = false;
    for (let ordinal = 0; ordinal < desired; ordinal++) {
      const pod = byOrdinal.get(ordinal);
      if (pod) {
        if (ordered && !healthy(pod)) blocked = true;
        continue;
      }
      if (blocked) break;
      const revision = ordinal < partition ? currentRevision : updateRevision;
      const created = this.#createPod(sts, spec, ordinal, revision);
      if (created) byOrdinal.set(ordinal, created);
      if (ordered) blocked = true;
    }

    const condemned = pods
      .filter((p) => (ordinalOf(sts, p) ?? 0) >= desired)
      .sort((a, b) => (ordinalOf(sts, b) ?? 0) - (ordinalOf(sts, a) ?? 0));
    const terminating = pods.some((p) => p.metadata.deletionTimestamp);
    if (condemned.length > 0) {
      const victims = ordered ? (terminating || blocked ? [] : condemned.slice(0, 1)) : condemned;
      for (const pod of victims) {
        if (pod.metadata.deletionTimestamp) continue;
        if (spec.persistentVolumeClaimRetentionPolicy?.whenScaled === 'Delete')
          this.#handClaimsTo(pod, spec);
        deletePod(this.#ctx, pod);
      }
    } else if (!onDelete && !blocked && !terminating) {
      // One pod at a time, highest ordinal first, only while every pod is healthy.
      const allHealthy = [...byOrdinal.values()].every(healthy);
      for (let ordinal = desired - 1; ordinal >= partition && allHealthy; ordinal--) {
        const pod = byOrdinal.get(ordinal);
        if (pod && revisionOf(pod) !== updateRevision) {
          deletePod(this.#ctx, pod);
          break;
        }
      }
    }

    const live = (this.#ctx.owned('pods', sts) as Pod[]).filter(
      (p) => ordinalOf(sts, p) !== undefined && !p.metadata.deletionTimestamp,
    );
    const ready = live.filter(isPodReady).length;
    let current = currentRevision;
    let currentReplicas = live.filter((p) => revisionOf(p) === currentRevision).length;
    const updatedReplicas = live.filter((p) => revisionOf(p) === updateRevision).length;
    if (
      !onDelete &&
      updatedReplicas === live.length &&
      ready === live.length &&
      live.length === desired
    ) {
      current = updateRevision;
      currentReplicas = updatedReplicas;
    }
    writeStatus(this.#ctx, 'statefulsets', sts, {
      observedGeneration: sts.metadata.generation,
      replicas: live.length,
      ...omitZero({ readyReplicas: ready, currentReplicas, updatedReplicas }, [
        'readyReplicas',
        'currentReplicas',
        'updatedReplicas',
      ]),
      currentRevision: current,
      updateRevision,
      collisionCount: 0,
      availableReplicas: ready,
    });
  }

  /** The ControllerRevision of the current template, created when the template changes. */
  #ensureRevision(sts: Workload, spec: StatefulSetSpec): string {
    const hash = templateHash(spec.template);
    const name = `${sts.metadata.name}-${hash}`;
    const rt = this.#ctx.rt('controllerrevisions');
    const revisions = this.#ctx.owned('controllerrevisions', sts);
    if (!revisions.some((r) => r.metadata.name === name)) {
      const revision = Math.max(0, ...revisions.map((r) => Number(r.revision ?? 0))) + 1;
      this.#ctx.objects.create(rt, sts.metadata.namespace, {
        metadata: {
          name,
          namespace: sts.metadata.namespace,
          labels: { ...(spec.selector?.matchLabels ?? {}), 'controller.kubernetes.io/hash': hash },
          ownerReferences: [ownerReference(sts)],
        },
        data: { spec: { template: { ...clone(spec.template), $patch: 'replace' } } },
        revision,
      });
      const limit = spec.revisionHistoryLimit ?? 10;
      const stale = revisions
        .filter((r) => r.metadata.name !== sts.status?.currentRevision)
        .sort((a, b) => Number(a.revision ?? 0) - Number(b.revision ?? 0));
      for (const r of stale.slice(0, Math.max(0, stale.length + 1 - limit))) {
        this.#ctx.objects.delete(rt, r.metadata.namespace, r.metadata.name ?? '', {});
      }
    }
    return name;
  }

  #templateOf(sts: Workload, spec: StatefulSetSpec, revision: string): PodTemplate {
    const stored = this.#ctx.get('controllerrevisions', sts.metadata.namespace, revision);
    const template = (
      stored?.data as { spec?: { template?: PodTemplate & { $patch?: string } } } | undefined
    )?.spec?.template;
    if (!template) return spec.template;
    const { $patch: _patch, ...rest } = template;
    return rest;
  }

  #createPod(
    sts: Workload,
    spec: StatefulSetSpec,
    ordinal: number,
    revision: string,
  ): Pod | undefined {
    const podName = `${sts.metadata.name}-${ordinal}`;
    const template = clone(this.#templateOf(sts, spec, revision));
    const volumes = (template.spec.volumes ?? []).filter(
      (v) => !(spec.volumeClaimTemplates ?? []).some((c) => c.metadata?.name === v.name),
    );
    for (const claim of spec.volumeClaimTemplates ?? []) {
      const claimName = `${claim.metadata?.name}-${podName}`;
      this.#ensureClaim(sts, spec, claim, claimName);
      volumes.push({ name: claim.metadata?.name ?? '', persistentVolumeClaim: { claimName } });
    }
    if (volumes.length) template.spec.volumes = volumes;
    template.spec.hostname = podName;
    if (spec.serviceName) template.spec.subdomain = spec.serviceName;
    return createPod(
      this.#ctx,
      sts,
      template,
      { name: podName },
      {
        [REVISION_LABEL]: revision,
        'statefulset.kubernetes.io/pod-name': podName,
        'apps.kubernetes.io/pod-index': String(ordinal),
      },
      'statefulset-controller',
    );
  }

  #ensureClaim(
    sts: Workload,
    spec: StatefulSetSpec,
    claim: ClaimTemplate,
    claimName: string,
  ): void {
    const rt = this.#ctx.rt('persistentvolumeclaims');
    if (this.#ctx.objects.store.get(rt, sts.metadata.namespace, claimName)) return;
    const deleteWithSet = spec.persistentVolumeClaimRetentionPolicy?.whenDeleted === 'Delete';
    this.#ctx.objects.create(rt, sts.metadata.namespace, {
      metadata: {
        name: claimName,
        namespace: sts.metadata.namespace,
        labels: { ...(spec.selector?.matchLabels ?? {}), ...(claim.metadata?.labels ?? {}) },
        ...(claim.metadata?.annotations ? { annotations: clone(claim.metadata.annotations) } : {}),
        ...(deleteWithSet ? { ownerReferences: [ownerReference(sts)] } : {}),
      },
      spec: clone(claim.spec ?? {}),
    });
  }

  /** whenScaled=Delete: the condemned pod becomes the owner of its claims, so they go with it. */
  #handClaimsTo(pod: Pod, spec: StatefulSetSpec): void {
    const rt = this.#ctx.rt('persistentvolumeclaims');
    for (const claim of spec.volumeClaimTemplates ?? []) {
      const pvc = this.#ctx.objects.store.get(
        rt,
        pod.metadata.namespace,
        `${claim.metadata?.name}-${pod.metadata.name}`,
      );
      if (!pvc) continue;
      pvc.metadata.ownerReferences = [{ ...ownerReference(pod), controller: false }];
      this.#ctx.objects.writeInternal(rt, pvc);
    }
  }
}
