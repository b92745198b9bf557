// The DaemonSet controller: one pod per matching node (the cluster has one), replaced when the
// template changes under the RollingUpdate strategy.
import { matchesLabels } from '../selectors.ts';
import type { StoreEvent } from '../store.ts';
import type { Pod, Workload } from '../types.ts';
import { templateHash } from '../util.ts';
import { type Context, type Controller, controllerOf, keyOf, splitKey } from './manager.ts';
import { createPod, deletePod, isPodReady, omitZero, writeStatus } from './pods.ts';

export class DaemonSetController implements Controller {
  readonly name = 'daemonset';
  readonly #ctx: Context;

  constructor(ctx: Context) {
    this.#ctx = ctx;
  }

  onEvent(event: StoreEvent, enqueue: (key: string) => void): void {
    if (event.rt.kind === 'DaemonSet' && event.type !== 'DELETED') enqueue(keyOf(event.object));
    if (event.rt.kind === 'Pod') {
      const owner = controllerOf(event.object);
      if (owner?.kind === 'DaemonSet') enqueue(`${event.object.metadata.namespace}/${owner.name}`);
    }
  }

  reconcile(key: string): void {
    const [namespace, name] = splitKey(key);
    const ds = this.#ctx.get('daemonsets', namespace, name) as Workload | undefined;
    if (!ds || ds.metadata.deletionTimestamp) return;
    const template = ds.spec.template;
    const hash = templateHash(template);
    const selector = Object.entries(template.spec.nodeSelector ?? {}).map(([k, v]) => ({
      key: k,
      operator: 'In' as const,
      values: [v],
    }));
    const nodes = this.#ctx.list('nodes').filter((n) => matchesLabels(n.metadata.labels, selector));
    const pods = this.#ctx.owned('pods', ds) as Pod[];
    const rolling = (ds.spec.updateStrategy as { type?: string } | undefined)?.type !== 'OnDelete';
    const allHealthy = pods.every((p) => !p.metadata.deletionTimestamp && isPodReady(p));
    for (const node of nodes) {
      const mine = pods.filter((p) => p.spec.nodeName === node.metadata.name);
      const live = mine.filter((p) => !p.metadata.deletionTimestamp);
      if (mine.length === 0) {
        createPod(
          this.#ctx,
          ds,
          { ...template, spec: { ...template.spec, nodeName: node.metadata.name } },
          { generateName: `${name}-` },
          {
            'controller-revision-hash': hash,
            'pod-template-generation': String(ds.metadata.generation ?? 1),
          },
          'daemonset-controller',
        );
      } else if (rolling && allHealthy) {
        for (const pod of live)
          if (pod.metadata.labels?.['controller-revision-hash'] !== hash) deletePod(this.#ctx, pod);
      }
    }
    const live = (this.#ctx.owned('pods', ds) as Pod[]).filter(
      (p) => !p.metadata.deletionTimestamp,
    );
    const ready = live.filter(isPodReady).length;
    writeStatus(this.#ctx, 'daemonsets', ds, {
      currentNumberScheduled: live.length,
      numberMisscheduled: 0,
      desiredNumberScheduled: nodes.length,
      numberReady: ready,
      observedGeneration: ds.metadata.generation,
      ...omitZero(
        {
          updatedNumberScheduled: live.filter(
            (p) => p.metadata.labels?.['controller-revision-hash'] === hash,
          ).length,
          numberAvailable: ready,
          numberUnavailable: Math.max(0, nodes.length - ready),
        },
        ['updatedNumberScheduled', 'numberAvailable', 'numberUnavailable'],
      ),
    });
  }
}
