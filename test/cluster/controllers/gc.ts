// The garbage collector: deletes objects whose owners are all gone (background propagation),
// waits out foreground deletion, and strips ownerReferences on orphaning deletes.
import { ApiError } from '../errors.ts';
import type { StoreEvent } from '../store.ts';
import type { Context, Controller } from './manager.ts';

export class GarbageCollector implements Controller {
  readonly name = 'garbage-collector';
  readonly #ctx: Context;

  constructor(ctx: Context) {
    this.#ctx = ctx;
  }

  onEvent(event: StoreEvent, enqueue: (key: string) => void): void {
    const { object } = event;
    const uid = object.metadata.uid ?? '';
    if (event.type === 'DELETED') {
      // Dependents of the deleted object, and owners waiting in foreground deletion for it.
      for (const dependent of this.#ctx.objects.store.dependentsOf(uid))
        enqueue(dependent.object.metadata.uid ?? '');
      for (const ref of object.metadata.ownerReferences ?? []) enqueue(ref.uid);
      return;
    }
    const finalizers = object.metadata.finalizers ?? [];
    if (
      object.metadata.deletionTimestamp &&
      (finalizers.includes('orphan') || finalizers.includes('foregroundDeletion'))
    ) {
      enqueue(uid);
    }
    if (event.type === 'ADDED' && object.metadata.ownerReferences?.length) enqueue(uid);
  }

  reconcile(uid: string): void {
    const store = this.#ctx.objects.store;
    const found = store.byUid(uid);
    if (!found) return;
    const { rt, object } = found;
    const meta = object.metadata;
    const finalizers = meta.finalizers ?? [];
    if (meta.deletionTimestamp && finalizers.includes('orphan')) {
      for (const dependent of store.dependentsOf(uid)) {
        const refs = dependent.object.metadata.ownerReferences?.filter((r) => r.uid !== uid) ?? [];
        dependent.object.metadata.ownerReferences = refs.length ? refs : undefined;
        if (!refs.length) delete dependent.object.metadata.ownerReferences;
        this.#ctx.objects.writeInternal(dependent.rt, dependent.object);
      }
      this.#ctx.objects.removeFinalizer(rt, object, 'orphan');
      return;
    }
    if (meta.deletionTimestamp && finalizers.includes('foregroundDeletion')) {
      const dependents = store.dependentsOf(uid);
      if (dependents.length === 0)
        this.#ctx.objects.removeFinalizer(rt, object, 'foregroundDeletion');
      for (const dependent of dependents) {
        if (!dependent.object.metadata.deletionTimestamp)
          this.#delete(dependent.rt, dependent.object, 'Foreground');
      }
      return;
    }
    const refs = meta.ownerReferences ?? [];
    if (refs.length === 0 || meta.deletionTimestamp) return;
    const live = refs.filter((r) => store.byUid(r.uid));
    if (live.length === 0) {
      this.#delete(rt, object, 'Background');
    } else if (live.length < refs.length) {
      object.metadata.ownerReferences = live;
      this.#ctx.objects.writeInternal(rt, object);
    }
  }

  #delete(
    rt: Parameters<Context['objects']['delete']>[0],
    object: { metadata: { namespace?: string; name?: string } },
    propagationPolicy: string,
  ): void {
    try {
      this.#ctx.objects.delete(rt, object.metadata.namespace, object.metadata.name ?? '', {
        propagationPolicy,
      });
    } catch (error) {
      if (!(error instanceof ApiError && error.code === 404)) throw error;
    }
  }
}
