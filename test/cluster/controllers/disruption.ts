// The disruption controller: PodDisruptionBudget status from the pods the budget selects.
import { fromLabelSelector, matchesLabels } from '../selectors.ts';
import type { StoreEvent } from '../store.ts';
import type { Condition, LabelSelector, Pod } from '../types.ts';
import { intOrPercent, timestamp } from '../util.ts';
import { type Context, type Controller, keyOf, splitKey } from './manager.ts';
import { isActive, isPodReady, writeStatus } from './pods.ts';

export class DisruptionController implements Controller {
  readonly name = 'disruption';
  readonly #ctx: Context;

  constructor(ctx: Context) {
    this.#ctx = ctx;
  }

  onEvent(event: StoreEvent, enqueue: (key: string) => void): void {
    if (event.rt.kind === 'PodDisruptionBudget' && event.type !== 'DELETED')
      enqueue(keyOf(event.object));
    if (event.rt.kind === 'Pod') {
      for (const pdb of this.#ctx.list('poddisruptionbudgets', event.object.metadata.namespace))
        enqueue(keyOf(pdb));
    }
  }

  reconcile(key: string): void {
    const [namespace, name] = splitKey(key);
    const pdb = this.#ctx.get('poddisruptionbudgets', namespace, name);
    if (!pdb) return;
    const spec = (pdb.spec ?? {}) as {
      selector?: LabelSelector;
      minAvailable?: unknown;
      maxUnavailable?: unknown;
    };
    const selector = fromLabelSelector(spec.selector);
    const pods = (this.#ctx.list('pods', namespace) as Pod[]).filter(
      (p) => isActive(p) && selector.length > 0 && matchesLabels(p.metadata.labels, selector),
    );
    const expected = pods.length;
    const healthy = pods.filter(isPodReady).length;
    const desired =
      spec.minAvailable !== undefined
        ? intOrPercent(spec.minAvailable, expected, true)
        : Math.max(0, expected - intOrPercent(spec.maxUnavailable ?? 0, expected, true));
    const allowed = Math.max(0, healthy - desired);
    const previous = ((pdb.status as { conditions?: Condition[] } | undefined)?.conditions ??
      [])[0];
    const state = allowed > 0 ? 'True' : 'False';
    writeStatus(this.#ctx, 'poddisruptionbudgets', pdb, {
      observedGeneration: pdb.metadata.generation,
      disruptionsAllowed: allowed,
      currentHealthy: healthy,
      desiredHealthy: desired,
      expectedPods: expected,
      conditions: [
        {
          type: 'DisruptionAllowed',
          status: state,
          observedGeneration: pdb.metadata.generation,
          lastTransitionTime:
            previous?.status === state ? previous.lastTransitionTime : timestamp(),
          reason: allowed > 0 ? 'SufficientPods' : 'InsufficientPods',
          message: '',
        },
      ],
    });
  }
}
