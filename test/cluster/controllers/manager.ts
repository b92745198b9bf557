// Runs the simulated controllers: store events enqueue keys, a deduplicating work queue reconciles
// them on the next turn of the event loop, and timers (never polling) drive time-based steps.
import { ApiError } from '../errors.ts';
import type { Faults } from '../faults.ts';
import type { Objects } from '../objects.ts';
import type { ResourceType } from '../resources.ts';
import type { StoreEvent } from '../store.ts';
import type { KubeObject, OwnerReference } from '../types.ts';
import { timestamp } from '../util.ts';

export interface Settings {
  /** How long a new pod takes to become ready (and a Job's pod to complete). */
  rolloutMs: number;
  /** How long a deleted pod stays Terminating. */
  terminationMs: number;
  /** How often a crash-looping pod's restartCount grows. */
  crashLoopMs: number;
}

export interface Controller {
  readonly name: string;
  /** Reacts to a store event by enqueueing keys (usually `namespace/name`) to reconcile. */
  onEvent(event: StoreEvent, enqueue: (key: string) => void): void;
  reconcile(key: string): void;
}

export class Context {
  readonly objects: Objects;
  readonly faults: Faults;
  readonly settings: Settings;
  readonly #timers = new Set<NodeJS.Timeout>();
  #enqueue: (controller: string, key: string) => void = () => {};

  constructor(objects: Objects, faults: Faults, settings: Settings) {
    this.objects = objects;
    this.faults = faults;
    this.settings = settings;
  }

  /** The resource type of a built-in or registered kind, by plural (`deployments`). */
  rt(plural: string): ResourceType {
    const rt = this.objects.registry.find(plural);
    if (!rt) throw new Error(`unknown resource ${plural}`);
    return rt;
  }

  list(plural: string, namespace?: string): KubeObject[] {
    const rt = this.rt(plural);
    return this.objects.store.list(rt, rt.namespaced ? namespace : undefined);
  }

  get(plural: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.objects.store.get(this.rt(plural), namespace, name);
  }

  /** Objects of `plural` in `namespace` whose controller is `owner`. */
  owned(plural: string, owner: KubeObject): KubeObject[] {
    return this.list(plural, owner.metadata.namespace).filter(
      (o) => controllerOf(o)?.uid === owner.metadata.uid,
    );
  }

  /** Runs `fn` after `ms`; every pending timer is cancelled when the cluster stops. */
  after(ms: number, fn: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
    return timer;
  }

  cancel(timer: NodeJS.Timeout | undefined): void {
    if (!timer) return;
    clearTimeout(timer);
    this.#timers.delete(timer);
  }

  enqueue(controller: string, key: string): void {
    this.#enqueue(controller, key);
  }

  bindQueue(enqueue: (controller: string, key: string) => void): void {
    this.#enqueue = enqueue;
  }

  stop(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  /** Records a core/v1 Event about `object`, folding repeats into `count`. */
  event(
    object: KubeObject,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    component: string,
  ): void {
    const namespace = object.metadata.namespace ?? 'default';
    const rt = this.rt('events');
    const name = `${object.metadata.name}.${reason.toLowerCase()}`;
    const now = timestamp();
    const existing = this.objects.store.get(rt, namespace, name);
    if (
      existing &&
      existing.message === message &&
      (existing.involvedObject as { uid?: string }).uid === object.metadata.uid
    ) {
      this.objects.writeInternal(rt, {
        ...existing,
        count: Number(existing.count ?? 1) + 1,
        lastTimestamp: now,
      });
      return;
    }
    if (existing) this.objects.store.remove(rt, namespace, name);
    // Best effort, as event recording is on a real cluster (the namespace may be terminating).
    if (
      this.objects.store.get(this.rt('namespaces'), undefined, namespace)?.metadata
        .deletionTimestamp
    )
      return;
    this.objects.create(rt, namespace, {
      metadata: { name, namespace },
      involvedObject: {
        kind: object.kind,
        namespace: object.metadata.namespace,
        name: object.metadata.name,
        uid: object.metadata.uid,
        apiVersion: object.apiVersion,
        resourceVersion: object.metadata.resourceVersion,
      },
      reason,
      message,
      source: { component },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
      type,
      reportingComponent: component,
      reportingInstance: '',
    });
  }
}

export function controllerOf(object: KubeObject): OwnerReference | undefined {
  return object.metadata.ownerReferences?.find((r) => r.controller);
}

export function ownerReference(owner: KubeObject): OwnerReference {
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.metadata.name ?? '',
    uid: owner.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

export const keyOf = (object: KubeObject) =>
  `${object.metadata.namespace ?? ''}/${object.metadata.name ?? ''}`;

export function splitKey(key: string): [string | undefined, string] {
  const slash = key.indexOf('/');
  const namespace = key.slice(0, slash);
  return [namespace === '' ? undefined : namespace, key.slice(slash + 1)];
}

export class ControllerManager {
  readonly #controllers: Controller[];
  readonly #queue = new Map<string, [Controller, string]>();
  #scheduled = false;
  #stopped = false;
  readonly #unsubscribe: () => void;

  constructor(context: Context, controllers: Controller[]) {
    this.#controllers = controllers;
    context.bindQueue((name, key) => {
      const controller = this.#controllers.find((c) => c.name === name);
      if (controller) this.#add(controller, key);
    });
    this.#unsubscribe = context.objects.store.subscribe((event) => {
      for (const controller of this.#controllers)
        controller.onEvent(event, (key) => this.#add(controller, key));
    });
  }

  #add(controller: Controller, key: string): void {
    if (this.#stopped) return;
    this.#queue.set(`${controller.name}|${key}`, [controller, key]);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#drain());
    }
  }

  #drain(): void {
    this.#scheduled = false;
    // Bounded so a controller that keeps re-enqueueing itself cannot starve the event loop.
    for (let i = 0; i < 5000 && this.#queue.size > 0 && !this.#stopped; i++) {
      const [id, [controller, key]] = this.#queue.entries().next().value as [
        string,
        [Controller, string],
      ];
      this.#queue.delete(id);
      try {
        controller.reconcile(key);
      } catch (error) {
        // Races a real controller shrugs off: the object went away, or its namespace is going.
        if (error instanceof ApiError && (error.code === 403 || error.code === 404)) continue;
        console.error(`test cluster: ${controller.name} controller failed on ${key}:`, error);
      }
    }
    if (this.#queue.size > 0 && !this.#stopped) {
      this.#scheduled = true;
      setImmediate(() => this.#drain());
    }
  }

  stop(): void {
    this.#stopped = true;
    this.#unsubscribe();
    this.#queue.clear();
  }
}
