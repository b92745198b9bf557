// The cluster's object storage: one resourceVersion counter for everything, an event history that
// watches resume from, and indexes by uid and by owner for the garbage collector.
import { type ResourceType, storageKey } from './resources.ts';
import type { KubeObject } from './types.ts';
import { clone } from './util.ts';

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  type: EventType;
  rt: ResourceType;
  /** The object after the change (for DELETED, the last state with the deletion's resourceVersion). Frozen. */
  object: KubeObject;
  /** The object before the change, for MODIFIED. Frozen. */
  previous: KubeObject | undefined;
  rv: number;
}

interface Entry {
  rt: ResourceType;
  object: KubeObject;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

const objectKey = (namespace: string | undefined, name: string) => `${namespace ?? ''}/${name}`;

export class Store {
  #rv = 1;
  #buckets = new Map<string, Map<string, Entry>>();
  #byUid = new Map<string, Entry>();
  #dependents = new Map<string, Set<string>>();
  #history: StoreEvent[] = [];
  #listeners = new Set<(event: StoreEvent) => void>();
  readonly #historyLimit: number;

  constructor(historyLimit = 20_000) {
    this.#historyLimit = historyLimit;
  }

  /** The resourceVersion of the latest write, as lists report it. */
  get resourceVersion(): number {
    return this.#rv;
  }

  #bucket(rt: ResourceType): Map<string, Entry> {
    const key = storageKey(rt);
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      bucket = new Map();
      this.#buckets.set(key, bucket);
    }
    return bucket;
  }

  get(rt: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    const entry = this.#bucket(rt).get(objectKey(rt.namespaced ? namespace : undefined, name));
    return entry ? clone(entry.object) : undefined;
  }

  /** Objects of one resource, in one namespace or all, sorted by namespace and name. */
  list(rt: ResourceType, namespace?: string): KubeObject[] {
    const out: KubeObject[] = [];
    for (const entry of this.#bucket(rt).values()) {
      if (namespace === undefined || entry.object.metadata.namespace === namespace)
        out.push(clone(entry.object));
    }
    return out.sort((a, b) =>
      objectKey(a.metadata.namespace, a.metadata.name ?? '').localeCompare(
        objectKey(b.metadata.namespace, b.metadata.name ?? ''),
      ),
    );
  }

  byUid(uid: string): { rt: ResourceType; object: KubeObject } | undefined {
    const entry = this.#byUid.get(uid);
    return entry ? { rt: entry.rt, object: clone(entry.object) } : undefined;
  }

  /** Objects whose ownerReferences name `uid`. */
  dependentsOf(uid: string): { rt: ResourceType; object: KubeObject }[] {
    const out: { rt: ResourceType; object: KubeObject }[] = [];
    for (const dependent of this.#dependents.get(uid) ?? []) {
      const entry = this.#byUid.get(dependent);
      if (entry) out.push({ rt: entry.rt, object: clone(entry.object) });
    }
    return out;
  }

  /** Every namespaced object in `namespace`, of every resource. */
  namespaceContents(namespace: string): { rt: ResourceType; object: KubeObject }[] {
    const out: { rt: ResourceType; object: KubeObject }[] = [];
    for (const bucket of this.#buckets.values()) {
      for (const entry of bucket.values()) {
        if (entry.rt.namespaced && entry.object.metadata.namespace === namespace) {
          out.push({ rt: entry.rt, object: clone(entry.object) });
        }
      }
    }
    return out;
  }

  /** Stores `object` (created or replaced) under a new resourceVersion and tells the listeners. */
  write(rt: ResourceType, object: KubeObject): KubeObject {
    const bucket = this.#bucket(rt);
    const key = objectKey(
      rt.namespaced ? object.metadata.namespace : undefined,
      object.metadata.name ?? '',
    );
    const previous = bucket.get(key);
    const rv = ++this.#rv;
    const stored = deepFreeze(
      clone({ ...object, metadata: { ...object.metadata, resourceVersion: String(rv) } }),
    );
    const entry = { rt, object: stored };
    bucket.set(key, entry);
    this.#index(previous?.object, entry);
    this.#emit({
      type: previous ? 'MODIFIED' : 'ADDED',
      rt,
      object: stored,
      previous: previous?.object,
      rv,
    });
    return clone(stored);
  }

  remove(rt: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    const bucket = this.#bucket(rt);
    const key = objectKey(rt.namespaced ? namespace : undefined, name);
    const previous = bucket.get(key);
    if (!previous) return undefined;
    bucket.delete(key);
    this.#index(previous.object, undefined);
    const rv = ++this.#rv;
    const last = deepFreeze(
      clone({
        ...previous.object,
        metadata: { ...previous.object.metadata, resourceVersion: String(rv) },
      }),
    );
    this.#emit({ type: 'DELETED', rt, object: last, previous: previous.object, rv });
    return clone(last);
  }

  #index(before: KubeObject | undefined, after: Entry | undefined): void {
    for (const ref of before?.metadata.ownerReferences ?? []) {
      this.#dependents.get(ref.uid)?.delete(before?.metadata.uid ?? '');
    }
    if (before?.metadata.uid) this.#byUid.delete(before.metadata.uid);
    if (!after) return;
    const uid = after.object.metadata.uid ?? '';
    this.#byUid.set(uid, after);
    for (const ref of after.object.metadata.ownerReferences ?? []) {
      let set = this.#dependents.get(ref.uid);
      if (!set) {
        set = new Set();
        this.#dependents.set(ref.uid, set);
      }
      set.add(uid);
    }
  }

  #emit(event: StoreEvent): void {
    this.#history.push(event);
    if (this.#history.length > this.#historyLimit)
      this.#history.splice(0, this.#history.length - this.#historyLimit);
    for (const listener of this.#listeners) listener(event);
  }

  /** Events after `rv`, or undefined when the history no longer reaches back that far. */
  eventsSince(rv: number): StoreEvent[] | undefined {
    if (rv >= this.#rv) return [];
    // Every write bumps the counter by one, so the history's versions are consecutive.
    const first = this.#history[0];
    if (!first || first.rv > rv + 1) return undefined;
    return this.#history.slice(rv + 1 - first.rv);
  }

  subscribe(listener: (event: StoreEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
