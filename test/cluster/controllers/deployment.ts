// The Deployment controller: one ReplicaSet per pod template (`<name>-<hash>`, labelled with
// `pod-template-hash`), rolled with RollingUpdate (maxSurge/maxUnavailable) or Recreate, old
// ReplicaSets kept at zero up to revisionHistoryLimit, and the status Helm 3 and kstatus read.
import type { StoreEvent } from '../store.ts';
import type { Condition, LabelSelector, Pod, PodTemplate, Workload } from '../types.ts';
import {
  clone,
  deepEqual,
  intOrPercent,
  type JsonObject,
  templateHash,
  timestamp,
} from '../util.ts';
import {
  type Context,
  type Controller,
  controllerOf,
  keyOf,
  ownerReference,
  splitKey,
} from './manager.ts';
import { creationTime, omitZero, writeStatus } from './pods.ts';

const HASH_LABEL = 'pod-template-hash';
const REVISION = 'deployment.kubernetes.io/revision';

function withoutHash(template: PodTemplate): PodTemplate {
  const copy = clone(template);
  if (copy.metadata?.labels) {
    delete copy.metadata.labels[HASH_LABEL];
    if (Object.keys(copy.metadata.labels).length === 0) delete copy.metadata.labels;
  }
  return copy;
}

const revisionOf = (rs: Workload) => Number(rs.metadata.annotations?.[REVISION] ?? 0);
const specReplicas = (rs: Workload) => rs.spec.replicas ?? 0;
const statusNumber = (o: Workload, key: string) => Number(o.status?.[key] ?? 0);

export class DeploymentController implements Controller {
  readonly name = 'deployment';
  readonly #ctx: Context;
  readonly #deadlines = new Map<string, NodeJS.Timeout>();

  constructor(ctx: Context) {
    this.#ctx = ctx;
  }

  onEvent(event: StoreEvent, enqueue: (key: string) => void): void {
    if (event.rt.kind === 'Deployment') {
      if (event.type === 'DELETED')
        this.#ctx.cancel(this.#deadlines.get(event.object.metadata.uid ?? ''));
      else enqueue(keyOf(event.object));
    }
    if (event.rt.kind === 'ReplicaSet' || event.rt.kind === 'Pod') {
      const owner = controllerOf(event.object);
      if (owner?.kind === 'Deployment') enqueue(`${event.object.metadata.namespace}/${owner.name}`);
      // Recreate waits for the old pods to be gone: their RS's owner must hear about it.
      if (owner?.kind === 'ReplicaSet' && event.type === 'DELETED') {
        const rs = this.#ctx.get('replicasets', event.object.metadata.namespace, owner.name);
        const deployment = rs && controllerOf(rs);
        if (deployment?.kind === 'Deployment')
          enqueue(`${event.object.metadata.namespace}/${deployment.name}`);
      }
    }
  }

  reconcile(key: string): void {
    const [namespace, name] = splitKey(key);
    const deployment = this.#ctx.get('deployments', namespace, name) as Workload | undefined;
    if (!deployment || deployment.metadata.deletionTimestamp) return;
    const spec = deployment.spec;
    const desired = spec.replicas ?? 1;
    const strategy = (spec.strategy ?? {}) as {
      type?: string;
      rollingUpdate?: { maxSurge?: unknown; maxUnavailable?: unknown };
    };
    const recreate = strategy.type === 'Recreate';
    let maxSurge = recreate
      ? 0
      : intOrPercent(strategy.rollingUpdate?.maxSurge ?? '25%', desired, true);
    let maxUnavailable = recreate
      ? 0
      : intOrPercent(strategy.rollingUpdate?.maxUnavailable ?? '25%', desired, false);
    if (!recreate && maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
    if (maxUnavailable > desired) maxUnavailable = desired;
    if (maxSurge < 0) maxSurge = 0;

    const all = this.#ctx.owned('replicasets', deployment) as Workload[];
    let newRS = all.find((rs) => deepEqual(withoutHash(rs.spec.template), spec.template));
    const old = all.filter((rs) => rs !== newRS).sort((a, b) => creationTime(a) - creationTime(b));
    const maxRevision = Math.max(0, ...all.map(revisionOf));
    let createdNew = false;

    if (!spec.paused) {
      if (newRS && revisionOf(newRS) < maxRevision) {
        // A rollback to an older template makes its ReplicaSet the newest revision again.
        newRS = this.#scale(newRS, specReplicas(newRS), { [REVISION]: String(maxRevision + 1) });
      }
      const oldTotal = old.reduce((n, rs) => n + specReplicas(rs), 0);
      if (recreate) {
        for (const rs of old) if (specReplicas(rs) > 0) this.#scale(rs, 0, {}, deployment);
        const oldPods = old.flatMap((rs) => this.#ctx.owned('pods', rs) as Pod[]);
        const running = oldPods.some(
          (p) => !['Succeeded', 'Failed'].includes(p.status?.phase ?? ''),
        );
        if (!running) {
          if (!newRS) {
            newRS = this.#createReplicaSet(deployment, maxRevision + 1, desired);
            createdNew = newRS !== undefined;
          } else if (specReplicas(newRS) !== desired) {
            this.#scale(newRS, desired, {}, deployment);
          }
        }
      } else if (!newRS) {
        const start = Math.max(0, Math.min(desired, desired + maxSurge - oldTotal));
        newRS = this.#createReplicaSet(deployment, maxRevision + 1, start);
        createdNew = newRS !== undefined;
      } else if (specReplicas(newRS) > desired) {
        this.#scale(newRS, desired, {}, deployment);
      } else {
        const current = specReplicas(newRS) + oldTotal;
        const room = Math.min(desired + maxSurge - current, desired - specReplicas(newRS));
        if (room > 0) this.#scale(newRS, specReplicas(newRS) + room, {}, deployment);
        else if (oldTotal > 0) this.#scaleDownOld(deployment, newRS, old, desired, maxUnavailable);
      }
      this.#cleanupHistory(deployment);
    }
    if (newRS && deployment.metadata.annotations?.[REVISION] !== String(revisionOf(newRS))) {
      const annotations = {
        ...(deployment.metadata.annotations ?? {}),
        [REVISION]: String(revisionOf(newRS)),
      };
      this.#ctx.objects.writeInternal(this.#ctx.rt('deployments'), {
        ...deployment,
        metadata: { ...deployment.metadata, annotations },
      });
    }
    this.#writeStatus(key, deployment, newRS?.metadata.name, desired, maxUnavailable, createdNew);
  }

  #createReplicaSet(
    deployment: Workload,
    revision: number,
    replicas: number,
  ): Workload | undefined {
    const template = deployment.spec.template;
    const collisionCount = Number(deployment.status?.collisionCount ?? 0);
    const hash = templateHash(collisionCount ? [template, collisionCount] : template);
    const name = `${deployment.metadata.name}-${hash}`;
    const selector = (deployment.spec.selector ?? {}) as LabelSelector;
    const labels = { ...(template.metadata?.labels ?? {}), [HASH_LABEL]: hash };
    const rs = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name,
        namespace: deployment.metadata.namespace,
        labels,
        annotations: {
          'deployment.kubernetes.io/desired-replicas': String(deployment.spec.replicas ?? 1),
          [REVISION]: String(revision),
        },
        ownerReferences: [ownerReference(deployment)],
      },
      spec: {
        replicas,
        ...(deployment.spec.minReadySeconds
          ? { minReadySeconds: deployment.spec.minReadySeconds }
          : {}),
        selector: {
          ...clone(selector),
          matchLabels: { ...(selector.matchLabels ?? {}), [HASH_LABEL]: hash },
        },
        template: { ...clone(template), metadata: { ...clone(template.metadata ?? {}), labels } },
      },
    };
    const created = this.#ctx.objects.create(
      this.#ctx.rt('replicasets'),
      deployment.metadata.namespace,
      rs,
    ) as Workload;
    this.#ctx.event(
      deployment,
      'Normal',
      'ScalingReplicaSet',
      `Scaled up replica set ${name} to ${replicas}`,
      'deployment-controller',
    );
    return created;
  }

  #scale(
    rs: Workload,
    replicas: number,
    annotations: Record<string, string>,
    deployment?: Workload,
  ): Workload {
    const before = specReplicas(rs);
    const next = {
      ...rs,
      metadata: {
        ...rs.metadata,
        annotations: { ...(rs.metadata.annotations ?? {}), ...annotations },
      },
      spec: { ...rs.spec, replicas },
    };
    if (deployment) {
      next.metadata.annotations['deployment.kubernetes.io/desired-replicas'] = String(
        deployment.spec.replicas ?? 1,
      );
      const verb = replicas > before ? 'up' : 'down';
      this.#ctx.event(
        deployment,
        'Normal',
        'ScalingReplicaSet',
        `Scaled ${verb} replica set ${rs.metadata.name} to ${replicas} from ${before}`,
        'deployment-controller',
      );
    }
    return (
      (this.#ctx.objects.writeInternal(this.#ctx.rt('replicasets'), next) as
        | Workload
        | undefined) ?? next
    );
  }

  /** Scales old ReplicaSets down while keeping `replicas - maxUnavailable` pods available. */
  #scaleDownOld(
    deployment: Workload,
    newRS: Workload,
    old: Workload[],
    desired: number,
    maxUnavailable: number,
  ): void {
    const minAvailable = desired - maxUnavailable;
    const all = [newRS, ...old];
    const total = all.reduce((n, rs) => n + specReplicas(rs), 0);
    const newUnavailable = specReplicas(newRS) - statusNumber(newRS, 'availableReplicas');
    let budget = total - minAvailable - newUnavailable;
    // Unhealthy old replicas go first: removing them costs no availability.
    for (const rs of old) {
      if (budget <= 0) break;
      const unhealthy = specReplicas(rs) - statusNumber(rs, 'availableReplicas');
      if (unhealthy <= 0) continue;
      const cut = Math.min(budget, unhealthy);
      this.#scale(rs, specReplicas(rs) - cut, {}, deployment);
      rs.spec.replicas = specReplicas(rs) - cut;
      budget -= cut;
    }
    const available = all.reduce(
      (n, rs) => n + Math.min(statusNumber(rs, 'availableReplicas'), specReplicas(rs)),
      0,
    );
    let allowed = available - minAvailable;
    for (const rs of old) {
      if (allowed <= 0) break;
      if (specReplicas(rs) === 0) continue;
      const cut = Math.min(allowed, specReplicas(rs));
      this.#scale(rs, specReplicas(rs) - cut, {}, deployment);
      allowed -= cut;
    }
  }

  #cleanupHistory(deployment: Workload): void {
    const limit = Number(deployment.spec.revisionHistoryLimit ?? 10);
    const spare = (this.#ctx.owned('replicasets', deployment) as Workload[])
      .filter((rs) => !deepEqual(withoutHash(rs.spec.template), deployment.spec.template))
      .filter(
        (rs) =>
          specReplicas(rs) === 0 &&
          statusNumber(rs, 'replicas') === 0 &&
          !rs.metadata.deletionTimestamp,
      )
      .sort((a, b) => revisionOf(a) - revisionOf(b));
    for (const rs of spare.slice(0, Math.max(0, spare.length - limit))) {
      this.#ctx.objects.delete(
        this.#ctx.rt('replicasets'),
        rs.metadata.namespace,
        rs.metadata.name ?? '',
        {},
      );
    }
  }

  #writeStatus(
    key: string,
    deployment: Workload,
    newName: string | undefined,
    desired: number,
    maxUnavailable: number,
    createdNew: boolean,
  ): void {
    const all = this.#ctx.owned('replicasets', deployment) as Workload[];
    const newRS = all.find((rs) => rs.metadata.name === newName);
    const sum = (k: string) => all.reduce((n, rs) => n + statusNumber(rs, k), 0);
    const replicas = sum('replicas');
    const updated = newRS ? statusNumber(newRS, 'replicas') : 0;
    const ready = sum('readyReplicas');
    const available = sum('availableReplicas');
    const totalSpec = all.reduce((n, rs) => n + specReplicas(rs), 0);
    const previous = (deployment.status ?? {}) as JsonObject & { conditions?: Condition[] };
    const now = timestamp();
    const conditions = [...(previous.conditions ?? [])];
    const set = (
      type: string,
      status: Condition['status'],
      reason: string,
      message: string,
      progressed: boolean,
    ) => {
      const existing = conditions.find((c) => c.type === type);
      const changed = existing?.status !== status;
      const next: Condition = {
        type,
        status,
        lastUpdateTime:
          progressed || changed || existing?.reason !== reason
            ? now
            : (existing?.lastUpdateTime ?? now),
        lastTransitionTime: changed ? now : (existing?.lastTransitionTime ?? now),
        reason,
        message,
      };
      if (existing) conditions.splice(conditions.indexOf(existing), 1, next);
      else conditions.push(next);
    };
    const minAvailable = desired - maxUnavailable;
    if (available >= minAvailable)
      set(
        'Available',
        'True',
        'MinimumReplicasAvailable',
        'Deployment has minimum availability.',
        false,
      );
    else
      set(
        'Available',
        'False',
        'MinimumReplicasUnavailable',
        'Deployment does not have minimum availability.',
        false,
      );

    const rsName = newName ?? '';
    const complete =
      updated === desired && replicas === desired && available === desired && totalSpec === desired;
    const progressed =
      createdNew ||
      updated !== Number(previous.updatedReplicas ?? 0) ||
      ready !== Number(previous.readyReplicas ?? 0) ||
      available !== Number(previous.availableReplicas ?? 0) ||
      replicas !== Number(previous.replicas ?? 0);
    const progressing = conditions.find((c) => c.type === 'Progressing');
    const deadlineSeconds = Number(deployment.spec.progressDeadlineSeconds ?? 600);
    this.#ctx.cancel(this.#deadlines.get(deployment.metadata.uid ?? ''));
    if (deployment.spec.paused) {
      set('Progressing', 'Unknown', 'DeploymentPaused', 'Deployment is paused', false);
    } else if (complete) {
      set(
        'Progressing',
        'True',
        'NewReplicaSetAvailable',
        `ReplicaSet "${rsName}" has successfully progressed.`,
        progressed,
      );
    } else if (createdNew) {
      set(
        'Progressing',
        'True',
        'NewReplicaSetCreated',
        `Created new replica set "${rsName}"`,
        true,
      );
    } else if (progressed || !progressing || progressing.reason === 'NewReplicaSetAvailable') {
      set(
        'Progressing',
        'True',
        'ReplicaSetUpdated',
        `ReplicaSet "${rsName}" is progressing.`,
        true,
      );
    } else if (progressing.reason !== 'ProgressDeadlineExceeded') {
      const since = Date.parse(progressing.lastUpdateTime ?? now);
      const remaining = since + deadlineSeconds * 1000 - Date.now();
      if (remaining <= 0) {
        set(
          'Progressing',
          'False',
          'ProgressDeadlineExceeded',
          `ReplicaSet "${rsName}" has timed out progressing.`,
          false,
        );
      } else {
        const timer = this.#ctx.after(remaining + 1000, () => this.#ctx.enqueue(this.name, key));
        this.#deadlines.set(deployment.metadata.uid ?? '', timer);
      }
    }
    const order = ['Available', 'Progressing'];
    conditions.sort((a, b) => order.indexOf(a.type) - order.indexOf(b.type));
    writeStatus(this.#ctx, 'deployments', deployment, {
      observedGeneration: deployment.metadata.generation,
      ...omitZero(
        {
          replicas,
          updatedReplicas: updated,
          readyReplicas: ready,
          availableReplicas: available,
          unavailableReplicas: Math.max(0, totalSpec - available),
        },
        [
          'replicas',
          'updatedReplicas',
          'readyReplicas',
          'availableReplicas',
          'unavailableReplicas',
        ],
      ),
      conditions,
      ...(previous.collisionCount ? { collisionCount: previous.collisionCount } : {}),
    });
  }
}
