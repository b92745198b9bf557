// The endpoints controller: an Endpoints object per Service with a selector, listing the IPs of
// its ready pods (and the unready ones under notReadyAddresses).
import { matchesLabels, type Requirement } from '../selectors.ts';
import type { StoreEvent } from '../store.ts';
import type { KubeObject, Pod } from '../types.ts';
import { deepEqual, type JsonObject } from '../util.ts';
import { type Context, type Controller, keyOf, splitKey } from './manager.ts';
import { isPodReady } from './pods.ts';

function selectorOf(service: KubeObject): Requirement[] | undefined {
  const selector = (service.spec as { selector?: Record<string, string> } | undefined)?.selector;
  if (!selector || Object.keys(selector).length === 0) return undefined;
  return Object.entries(selector).map(([key, value]) => ({
    key,
    operator: 'In' as const,
    values: [value],
  }));
}

export class EndpointsController implements Controller {
  readonly name = 'endpoints';
  readonly #ctx: Context;

  constructor(ctx: Context) {
    this.#ctx = ctx;
  }

  onEvent(event: StoreEvent, enqueue: (key: string) => void): void {
    if (event.rt.kind === 'Service') enqueue(keyOf(event.object));
    if (event.rt.kind === 'Pod') {
      const pods = [event.object, event.previous].filter((p): p is KubeObject => p !== undefined);
      for (const service of this.#ctx.list('services', event.object.metadata.namespace)) {
        const selector = selectorOf(service);
        if (selector && pods.some((p) => matchesLabels(p.metadata.labels, selector)))
          enqueue(keyOf(service));
      }
    }
  }

  reconcile(key: string): void {
    const [namespace, name] = splitKey(key);
    const rt = this.#ctx.rt('endpoints');
    const service = this.#ctx.get('services', namespace, name);
    const existing = this.#ctx.objects.store.get(rt, namespace, name);
    const selector = service && selectorOf(service);
    if (!service || !selector) {
      if (existing && !service) this.#ctx.objects.store.remove(rt, namespace, name);
      return;
    }
    const pods = (this.#ctx.list('pods', namespace) as Pod[]).filter(
      (p) =>
        matchesLabels(p.metadata.labels, selector) &&
        p.status?.podIP &&
        !p.metadata.deletionTimestamp,
    );
    const address = (p: Pod) => ({
      ip: p.status?.podIP,
      nodeName: p.spec.nodeName,
      targetRef: { kind: 'Pod', namespace, name: p.metadata.name, uid: p.metadata.uid },
    });
    const servicePorts = ((service.spec as JsonObject).ports as JsonObject[] | undefined) ?? [];
    const ports = servicePorts.map((port) => {
      let target = port.targetPort ?? port.port;
      if (typeof target === 'string') {
        const named = pods
          .flatMap((p) => p.spec.containers.flatMap((c) => c.ports ?? []))
          .find((p) => p.name === target);
        target = named?.containerPort ?? port.port;
      }
      return {
        ...(port.name ? { name: port.name } : {}),
        port: target,
        protocol: port.protocol ?? 'TCP',
      };
    });
    const ready = pods.filter(isPodReady).map(address);
    const notReady = pods.filter((p) => !isPodReady(p)).map(address);
    const subsets =
      ready.length || notReady.length
        ? [
            {
              ...(ready.length ? { addresses: ready } : {}),
              ...(notReady.length ? { notReadyAddresses: notReady } : {}),
              ports,
            },
          ]
        : [];
    const body = {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: {
        ...(existing?.metadata ?? { name, namespace }),
        labels: service.metadata.labels ?? {},
      },
      ...(subsets.length ? { subsets } : {}),
    };
    if (!existing) this.#ctx.objects.create(rt, namespace, body);
    else if (
      !deepEqual(existing.subsets, body.subsets) ||
      !deepEqual(existing.metadata.labels, body.metadata.labels)
    ) {
      const { subsets: _old, ...rest } = existing;
      this.#ctx.objects.writeInternal(rt, { ...rest, ...body });
    }
  }
}
