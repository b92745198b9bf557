// The write path of the API server, shared by HTTP handlers and the simulated controllers:
// create, update, patch and delete with the checks, defaults and bookkeeping of a real server.
import { randomUUID } from 'node:crypto';
import { Admission } from './admission.ts';
import { applyDefaults } from './defaults.ts';
import {
  ApiError,
  alreadyExists,
  badRequest,
  conflict,
  forbidden,
  invalid,
  notFound,
} from './errors.ts';
import {
  applyPatchFrom,
  atomicLists,
  builtInStrategy,
  jsonPatch,
  mergePatch,
  type StrategyLookup,
  strategicMergePatch,
} from './patch.ts';
import { apiVersionOf, type ResourceRegistry, type ResourceType } from './resources.ts';
import { type FieldRequirement, matchesFields, matchesLabels, type Selector } from './selectors.ts';
import type { Store } from './store.ts';
import type { KubeObject, Pod } from './types.ts';
import { clone, deepEqual, isObject, type JsonObject, randomSuffix, timestamp } from './util.ts';
import { unknownFields, validate } from './validation.ts';

export interface WriteOptions {
  dryRun?: boolean;
  fieldManager?: string;
  fieldValidation?: string;
  /** `status` writes change only the status; anything else writes the main resource. */
  subresource?: string;
}

export interface DeleteOptions {
  dryRun?: boolean;
  propagationPolicy?: string;
  gracePeriodSeconds?: number;
  orphanDependents?: boolean;
  preconditions?: { uid?: string; resourceVersion?: string };
}

export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

export interface ListOptions {
  namespace?: string;
  labelSelector?: Selector;
  fieldSelector?: FieldRequirement[];
}

const NAMESPACES = { group: '', plural: 'namespaces' };

export class Objects {
  readonly store: Store;
  readonly registry: ResourceRegistry;
  readonly admission: Admission;
  /** What each field manager last sent per object (by uid), standing in for managedFields. */
  readonly #managed = new Map<string, Map<string, JsonObject>>();

  constructor(store: Store, registry: ResourceRegistry) {
    this.store = store;
    this.registry = registry;
    this.admission = new Admission(store, registry);
    store.subscribe((event) => {
      if (event.type === 'DELETED') this.#managed.delete(event.object.metadata.uid ?? '');
    });
  }

  #namespaces(): ResourceType {
    const rt = this.registry.get(NAMESPACES.group, 'v1', NAMESPACES.plural);
    if (!rt) throw new Error('namespaces are not registered');
    return rt;
  }

  get(rt: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const object = this.store.get(rt, namespace, name);
    if (!object) throw notFound(rt, name);
    return served(rt, object);
  }

  list(rt: ResourceType, options: ListOptions = {}): KubeObject[] {
    return this.store
      .list(rt, rt.namespaced ? options.namespace : undefined)
      .filter((o) => matchesLabels(o.metadata.labels, options.labelSelector ?? []))
      .filter((o) => matchesFields(o, options.fieldSelector ?? []))
      .map((o) => served(rt, o));
  }

  create(
    rt: ResourceType,
    namespace: string | undefined,
    body: unknown,
    options: WriteOptions = {},
  ): KubeObject {
    const object = this.#checkBody(rt, body);
    const meta = object.metadata;
    if (rt.namespaced) {
      if (meta.namespace && namespace && meta.namespace !== namespace) {
        throw badRequest(
          'the namespace of the provided object does not match the namespace sent on the request',
        );
      }
      meta.namespace = namespace || meta.namespace;
      if (!meta.namespace) throw badRequest('the namespace of the object is required');
      const ns = this.store.get(this.#namespaces(), undefined, meta.namespace);
      if (!ns) throw notFound(this.#namespaces(), meta.namespace);
      if (ns.metadata.deletionTimestamp) {
        throw forbidden(
          `${rt.plural} "${meta.name ?? meta.generateName ?? ''}" is forbidden: unable to create new content in namespace ${meta.namespace} because it is being terminated`,
        );
      }
    } else {
      delete meta.namespace;
    }
    if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${randomSuffix()}`;
    if (meta.name && this.store.get(rt, meta.namespace, meta.name))
      throw alreadyExists(rt, meta.name);
    meta.uid = randomUUID();
    meta.creationTimestamp = timestamp();
    delete meta.resourceVersion;
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    delete meta.managedFields;
    delete meta.selfLink;
    if (rt.generation) meta.generation = 1;
    else delete meta.generation;
    if (rt.statusSubresource) delete object.status;
    applyDefaults(rt, object);
    this.admission.onCreate(rt, object);
    this.#validate(rt, object, undefined, options);
    if (options.dryRun) return served(rt, object);
    const stored = this.store.write(rt, object);
    this.#remember(stored, options.fieldManager, body);
    return served(rt, stored);
  }

  update(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    body: unknown,
    options: WriteOptions = {},
  ): KubeObject {
    const incoming = this.#checkBody(rt, body);
    const old = this.store.get(rt, namespace, name);
    if (!old) throw notFound(rt, name);
    this.#checkIdentity(rt, incoming, namespace, name);
    const result = this.#commit(rt, old, incoming, options);
    if (options.subresource !== 'status' && !options.dryRun) {
      this.#remember(result, options.fieldManager, body);
    }
    return result;
  }

  patch(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    type: PatchType,
    body: unknown,
    options: WriteOptions & { force?: boolean } = {},
  ): { object: KubeObject; created: boolean } {
    const old = this.store.get(rt, namespace, name);
    let applied: KubeObject | undefined;
    if (type === 'apply') {
      if (!options.fieldManager) {
        throw invalid(rt, name, [
          {
            reason: 'FieldValueRequired',
            field: 'fieldManager',
            message: 'Required value: is required for apply patch',
          },
        ]);
      }
      applied = this.#checkBody(rt, body);
      this.#checkIdentity(rt, applied, namespace, name);
      if (!old) return { object: this.create(rt, namespace, applied, options), created: true };
    }
    if (!old) throw notFound(rt, name);
    if (type === 'strategic' && rt.custom) {
      throw new ApiError(
        415,
        'UnsupportedMediaType',
        'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml',
      );
    }
    const strategy = this.#strategy(rt);
    const current = served(rt, old);
    const uid = old.metadata.uid ?? '';
    const manager = options.fieldManager ?? '';
    const previous = this.#managed.get(uid)?.get(manager);
    const next = applied
      ? strategicMergePatch(current, applyPatchFrom(previous ?? {}, applied, strategy), strategy)
      : this.patchValue(current, type as Exclude<PatchType, 'apply'>, body, strategy);
    if (!isObject(next.metadata)) throw badRequest('the patch removed metadata');
    const result = this.#commit(rt, old, next as KubeObject, options);
    if (options.subresource !== 'status' && isObject(body) && !options.dryRun) {
      if (applied) this.#remember(result, manager, applied);
      if (type === 'strategic')
        this.#remember(result, manager, strategicMergePatch(previous ?? {}, body, strategy));
      if (type === 'merge') this.#remember(result, manager, mergePatch(previous ?? {}, body));
    }
    return { object: result, created: false };
  }

  /** Applies a JSON, merge or strategic merge patch to `value` without storing anything. */
  patchValue(
    value: JsonObject,
    type: Exclude<PatchType, 'apply'>,
    body: unknown,
    strategy: StrategyLookup = atomicLists,
  ): JsonObject {
    if (type === 'json') return jsonPatch(value, body);
    if (!isObject(body)) throw badRequest(`${type} merge patch must be a JSON object`);
    return type === 'merge'
      ? (mergePatch(value, body) as JsonObject)
      : strategicMergePatch(value, body, strategy);
  }

  /**
   * Deletes an object the way the real server does: pods terminate gracefully, Foreground and
   * Orphan propagation park the object behind a finalizer the garbage collector removes.
   */
  delete(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    options: DeleteOptions = {},
  ): { object: KubeObject; pending: boolean } {
    const object = this.store.get(rt, namespace, name);
    if (!object) throw notFound(rt, name);
    const meta = object.metadata;
    const pre = options.preconditions;
    if (pre?.uid && pre.uid !== meta.uid) {
      throw conflict(
        rt,
        name,
        `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${meta.uid}`,
      );
    }
    if (pre?.resourceVersion && pre.resourceVersion !== meta.resourceVersion) {
      throw conflict(
        rt,
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${meta.resourceVersion}`,
      );
    }
    const pod = rt.kind === 'Pod' ? (object as Pod) : undefined;
    const grace = pod
      ? (options.gracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30)
      : 0;
    if (meta.deletionTimestamp) {
      // Already terminating; a zero grace period forces the removal.
      if (pod && options.gracePeriodSeconds === 0 && !meta.finalizers?.length && !options.dryRun) {
        return {
          object: served(rt, this.store.remove(rt, namespace, name) ?? object),
          pending: false,
        };
      }
      return { object: served(rt, object), pending: true };
    }
    const policy =
      options.propagationPolicy ??
      (options.orphanDependents === true
        ? 'Orphan'
        : options.orphanDependents === false
          ? 'Background'
          : undefined) ??
      // batch/v1 Jobs still default to orphaning their pods.
      (rt.kind === 'Job' ? 'Orphan' : 'Background');
    if (!['Orphan', 'Background', 'Foreground'].includes(policy)) {
      throw badRequest(`propagationPolicy: Unsupported value: "${policy}"`);
    }
    const hasDependents = this.store.dependentsOf(meta.uid ?? '').length > 0;
    const finalizers = [...(meta.finalizers ?? [])];
    if (policy === 'Foreground' && hasDependents && !finalizers.includes('foregroundDeletion'))
      finalizers.push('foregroundDeletion');
    if (policy === 'Orphan' && hasDependents && !finalizers.includes('orphan'))
      finalizers.push('orphan');
    const graceful =
      (pod !== undefined &&
        grace > 0 &&
        !!pod.spec.nodeName &&
        !['Succeeded', 'Failed'].includes(pod.status?.phase ?? '')) ||
      rt.kind === 'Namespace';
    if (finalizers.length === 0 && !graceful) {
      if (options.dryRun) return { object: served(rt, object), pending: false };
      return {
        object: served(rt, this.store.remove(rt, namespace, name) ?? object),
        pending: false,
      };
    }
    meta.deletionTimestamp = timestamp(new Date(Date.now() + grace * 1000));
    meta.deletionGracePeriodSeconds = grace;
    if (finalizers.length) meta.finalizers = finalizers;
    if (rt.kind === 'Namespace')
      object.status = { ...(object.status as JsonObject), phase: 'Terminating' };
    if (options.dryRun) return { object: served(rt, object), pending: true };
    return { object: served(rt, this.store.write(rt, object)), pending: true };
  }

  /** Removes `finalizer`; an object being deleted goes away with its last finalizer. */
  removeFinalizer(rt: ResourceType, object: KubeObject, finalizer: string): void {
    const current = this.store.get(rt, object.metadata.namespace, object.metadata.name ?? '');
    if (!current?.metadata.finalizers?.includes(finalizer)) return;
    current.metadata.finalizers = current.metadata.finalizers.filter((f) => f !== finalizer);
    this.#store(rt, current);
  }

  /** Writes an object a controller changed (spec, metadata or status), bypassing the API checks. */
  writeInternal(rt: ResourceType, object: KubeObject): KubeObject | undefined {
    const old = this.store.get(rt, object.metadata.namespace, object.metadata.name ?? '');
    if (!old) return undefined;
    const next = clone(object);
    next.metadata.resourceVersion = old.metadata.resourceVersion;
    if (rt.generation && !deepEqual(specOf(next), specOf(old))) {
      next.metadata.generation = (old.metadata.generation ?? 1) + 1;
    }
    if (deepEqual(next, old)) return old;
    return this.#store(rt, next);
  }

  /** Stores an update, or removes the object if it was being deleted and has no finalizers left. */
  #store(rt: ResourceType, object: KubeObject): KubeObject {
    const meta = object.metadata;
    // Pods go when the kubelet is done with them, namespaces when their contents are gone.
    const waitsForController =
      rt.kind === 'Pod' ||
      (rt.kind === 'Namespace' &&
        ((object.spec as { finalizers?: string[] })?.finalizers?.length ?? 0) > 0);
    if (meta.deletionTimestamp && !meta.finalizers?.length && !waitsForController) {
      return this.store.remove(rt, meta.namespace, meta.name ?? '') ?? object;
    }
    if (meta.finalizers?.length === 0) delete meta.finalizers;
    return this.store.write(rt, object);
  }

  #commit(
    rt: ResourceType,
    old: KubeObject,
    incoming: KubeObject,
    options: WriteOptions,
  ): KubeObject {
    const name = old.metadata.name ?? '';
    const sentVersion = incoming.metadata.resourceVersion;
    if (sentVersion && sentVersion !== old.metadata.resourceVersion) throw conflict(rt, name);
    let next: KubeObject;
    if (options.subresource === 'status') {
      next = { ...clone(old), status: clone(incoming.status) };
    } else {
      next = clone(incoming);
      // Fields only the server sets survive whatever the client sent.
      const { uid, creationTimestamp, deletionTimestamp, deletionGracePeriodSeconds, generation } =
        old.metadata;
      next.metadata = {
        ...next.metadata,
        uid,
        creationTimestamp,
        deletionTimestamp,
        deletionGracePeriodSeconds,
        generation,
      };
      for (const [key, value] of Object.entries(next.metadata))
        if (value === undefined) delete next.metadata[key];
      next.metadata.namespace = old.metadata.namespace;
      delete next.metadata.managedFields;
      if (rt.statusSubresource) {
        if (old.status === undefined) delete next.status;
        else next.status = clone(old.status);
      }
      applyDefaults(rt, next);
      this.admission.onUpdate(rt, next, old);
      this.#validate(rt, next, old, options);
    }
    next.apiVersion = old.apiVersion;
    next.metadata.resourceVersion = old.metadata.resourceVersion;
    if (rt.generation && !deepEqual(specOf(next), specOf(old))) {
      next.metadata.generation = (old.metadata.generation ?? 1) + 1;
    }
    if (deepEqual(next, old)) return served(rt, old);
    if (options.dryRun) return served(rt, next);
    return served(rt, this.#store(rt, next));
  }

  #validate(
    rt: ResourceType,
    object: KubeObject,
    old: KubeObject | undefined,
    options: WriteOptions,
  ): void {
    if (options.fieldValidation === 'Strict') {
      const unknown = unknownFields(rt, object);
      if (unknown.length) {
        throw badRequest(
          `strict decoding error: ${unknown.map((f) => `unknown field "${f}"`).join(', ')}`,
        );
      }
    }
    const causes = validate(rt, object, old);
    if (causes.length) throw invalid(rt, object.metadata.name ?? '', causes);
  }

  #checkBody(rt: ResourceType, body: unknown): KubeObject {
    if (!isObject(body)) throw badRequest('the request body must be a JSON object');
    const object = clone(body) as KubeObject;
    if (object.kind !== undefined && object.kind !== rt.kind) {
      throw badRequest(
        `the kind in the data (${String(object.kind)}) does not match the expected kind (${rt.kind})`,
      );
    }
    const expected = apiVersionOf(rt);
    if (object.apiVersion !== undefined && object.apiVersion !== expected) {
      throw badRequest(
        `the API version in the data (${String(object.apiVersion)}) does not match the expected API version (${expected})`,
      );
    }
    object.kind = rt.kind;
    object.apiVersion = expected;
    if (!isObject(object.metadata)) object.metadata = {};
    return object;
  }

  #checkIdentity(
    rt: ResourceType,
    object: KubeObject,
    namespace: string | undefined,
    name: string,
  ): void {
    if (object.metadata.name !== undefined && object.metadata.name !== name) {
      throw badRequest(
        `the name of the object (${object.metadata.name}) does not match the name on the URL (${name})`,
      );
    }
    if (rt.namespaced && object.metadata.namespace && object.metadata.namespace !== namespace) {
      throw badRequest(
        'the namespace of the provided object does not match the namespace sent on the request',
      );
    }
    object.metadata.name = name;
  }

  #strategy(rt: ResourceType): StrategyLookup {
    return rt.custom ? atomicLists : builtInStrategy(rt.kind);
  }

  #remember(object: KubeObject, manager: string | undefined, config: unknown): void {
    if (!manager || !isObject(config)) return;
    const uid = object.metadata.uid ?? '';
    const managers = this.#managed.get(uid) ?? new Map<string, JsonObject>();
    managers.set(manager, clone(config));
    this.#managed.set(uid, managers);
  }
}

/** Everything but metadata and status: what `generation` tracks. */
function specOf(object: KubeObject): JsonObject {
  const { metadata: _metadata, status: _status, ...rest } = object;
  return rest;
}

/** The stored object as served in `rt`'s version (custom resources may be served in several). */
function served(rt: ResourceType, object: KubeObject): KubeObject {
  return { ...object, apiVersion: apiVersionOf(rt) };
}
