// CustomResourceDefinitions: an established CRD serves its kinds (discovery, OpenAPI, CRUD);
// deleting it removes its custom resources first, then the kinds.
import { ApiError } from '../errors.ts';
import type { ResourceType } from '../resources.ts';
import type { StoreEvent } from '../store.ts';
import type { KubeObject } from '../types.ts';
import { timestamp } from '../util.ts';
import type { Context, Controller } from './manager.ts';

const CLEANUP = 'customresourcecleanup.apiextensions.k8s.io';

interface CrdSpec {
  group: string;
  scope: string;
  names: {
    plural: string;
    singular?: string;
    kind: string;
    listKind?: string;
    shortNames?: string[];
    categories?: string[];
  };
  versions: {
    name: string;
    served: boolean;
    storage: boolean;
    subresources?: { status?: unknown; scale?: unknown };
  }[];
}

/** The resource types a CRD serves. */
export function crdTypes(crd: KubeObject): ResourceType[] {
  const spec = crd.spec as CrdSpec;
  return spec.versions
    .filter((v) => v.served)
    .map((v) => ({
      group: spec.group,
      version: v.name,
      kind: spec.names.kind,
      plural: spec.names.plural,
      singular: spec.names.singular ?? spec.names.kind.toLowerCase(),
      namespaced: spec.scope !== 'Cluster',
      shortNames: spec.names.shortNames ?? [],
      categories: spec.names.categories ?? [],
      statusSubresource: v.subresources?.status !== undefined,
      scaleSubresource: false,
      generation: true,
      fields: undefined,
      custom: true,
    }));
}

export class CrdController implements Controller {
  readonly name = 'crd';
  readonly #ctx: Context;

  constructor(ctx: Context) {
    this.#ctx = ctx;
  }

  onEvent(event: StoreEvent, enqueue: (key: string) => void): void {
    // A CRD being deleted waits for its custom resources: CRDs are named `<plural>.<group>`.
    if (event.rt.custom && event.type === 'DELETED')
      enqueue(`${event.rt.plural}.${event.rt.group}`);
    if (event.rt.kind !== 'CustomResourceDefinition') return;
    if (event.type === 'DELETED') {
      const spec = event.object.spec as CrdSpec;
      this.#ctx.objects.registry.unregister(spec.group, spec.names.plural);
    } else {
      enqueue(event.object.metadata.name ?? '');
    }
  }

  reconcile(name: string): void {
    const rt = this.#ctx.rt('customresourcedefinitions');
    const crd = this.#ctx.objects.store.get(rt, undefined, name);
    if (!crd) return;
    const types = crdTypes(crd);
    if (crd.metadata.deletionTimestamp) {
      const first = types[0];
      const remaining = first ? this.#ctx.objects.store.list(first) : [];
      for (const item of remaining) {
        if (item.metadata.deletionTimestamp || !first) continue;
        try {
          this.#ctx.objects.delete(first, item.metadata.namespace, item.metadata.name ?? '', {
            propagationPolicy: 'Background',
          });
        } catch (error) {
          if (!(error instanceof ApiError && error.code === 404)) throw error;
        }
      }
      if (remaining.length === 0) this.#ctx.objects.removeFinalizer(rt, crd, CLEANUP);
      return;
    }
    this.#ctx.objects.registry.register(types);
    const spec = crd.spec as CrdSpec;
    if (!crd.metadata.finalizers?.includes(CLEANUP)) {
      crd.metadata.finalizers = [...(crd.metadata.finalizers ?? []), CLEANUP];
      this.#ctx.objects.writeInternal(rt, crd);
    }
    const now = timestamp();
    const status = {
      conditions: [
        {
          type: 'NamesAccepted',
          status: 'True',
          lastTransitionTime: now,
          reason: 'NoConflicts',
          message: 'no conflicts found',
        },
        {
          type: 'Established',
          status: 'True',
          lastTransitionTime: now,
          reason: 'InitialNamesAccepted',
          message: 'the initial names have been accepted',
        },
      ],
      acceptedNames: { ...spec.names, listKind: spec.names.listKind ?? `${spec.names.kind}List` },
      storedVersions: spec.versions.filter((v) => v.storage).map((v) => v.name),
    };
    const current = this.#ctx.objects.store.get(rt, undefined, name);
    const existing = (current?.status ?? {}) as {
      conditions?: { type: string; lastTransitionTime?: string }[];
    };
    // Keep transition times once established, so the status settles.
    for (const condition of status.conditions) {
      const before = existing.conditions?.find((c) => c.type === condition.type);
      if (before?.lastTransitionTime) condition.lastTransitionTime = before.lastTransitionTime;
    }
    if (current)
      this.#ctx.objects.update(
        rt,
        undefined,
        name,
        { ...current, status },
        { subresource: 'status' },
      );
  }
}
