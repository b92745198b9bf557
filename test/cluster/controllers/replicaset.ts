// The ReplicaSet controller: keeps `spec.replicas` active pods and reports how many are ready.
import type { StoreEvent } from '../store.ts';
import type { Pod, Workload } from '../types.ts';
import { type Context, type Controller, controllerOf, keyOf, splitKey } from './manager.ts';
import {
  createPod,
  creationTime,
  deletePod,
  isActive,
  isPodReady,
  omitZero,
  writeStatus,
} from './pods.ts';

export class ReplicaSetController implements Controller {
  readonly name = 'replicaset';
  readonly #ctx: Context;

  constructor(ctx: Context) {
    this.#ctx = ctx;
  }

  onEvent(event: StoreEvent, enqueue: (key: string) => void): void {
    if (event.rt.kind === 'ReplicaSet' && event.type !== 'DELETED') enqueue(keyOf(event.object));
    if (event.rt.kind === 'Pod') {
      const owner = controllerOf(event.object);
      if (owner?.kind === 'ReplicaSet') enqueue(`${event.object.metadata.namespace}/${owner.name}`);
    }
  }

  reconcile(key: string): void {
    const [namespace, name] = splitKey(key);
    const rs = this.#ctx.get('replicasets', namespace, name) as Workload | undefined;
    if (!rs || rs.metadata.deletionTimestamp) return;
    let active = (this.#ctx.owned('pods', rs) as Pod[]).filter(isActive);
    const desired = rs.spec.replicas ?? 1;
    if (active.length < desired) {
      for (let i = active.length; i < desired; i++) {
        const pod = createPod(
          this.#ctx,
          rs,
          rs.spec.template,
          { generateName: `${name}-` },
          {},
          'replicaset-controller',
        );
        if (pod) active.push(pod);
      }
    } else if (active.length > desired) {
      // Unscheduled, pending and unready pods go first, then the newest.
      const rank = (p: Pod) => [
        p.spec.nodeName ? 1 : 0,
        p.status?.phase === 'Running' ? 1 : 0,
        isPodReady(p) ? 1 : 0,
      ];
      const sorted = [...active].sort((a, b) => {
        const [ra, rb] = [rank(a), rank(b)];
        for (let i = 0; i < ra.length; i++) if (ra[i] !== rb[i]) return (ra[i] ?? 0) - (rb[i] ?? 0);
        return creationTime(b) - creationTime(a);
      });
      const doomed = sorted.slice(0, active.length - desired);
      for (const pod of doomed) deletePod(this.#ctx, pod);
      active = active.filter((p) => !doomed.includes(p));
    }
    const ready = active.filter(isPodReady).length;
    writeStatus(this.#ctx, 'replicasets', rs, {
      replicas: active.length,
      ...omitZero(
        { fullyLabeledReplicas: active.length, readyReplicas: ready, availableReplicas: ready },
        ['fullyLabeledReplicas', 'readyReplicas', 'availableReplicas'],
      ),
      observedGeneration: rs.metadata.generation,
    });
  }
}
