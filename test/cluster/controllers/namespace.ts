// The namespace controller: gives new namespaces their `default` ServiceAccount and
// `kube-root-ca.crt` ConfigMap, and empties terminating namespaces before removing them.
import { ApiError } from '../errors.ts';
import type { StoreEvent } from '../store.ts';
import type { Context, Controller } from './manager.ts';

export class NamespaceController implements Controller {
  readonly name = 'namespace';
  readonly #ctx: Context;
  readonly #caPem: string;

  constructor(ctx: Context, caPem: string) {
    this.#ctx = ctx;
    this.#caPem = caPem;
  }

  onEvent(event: StoreEvent, enqueue: (key: string) => void): void {
    if (event.rt.kind === 'Namespace' && event.type !== 'DELETED')
      enqueue(event.object.metadata.name ?? '');
    if (event.rt.namespaced && event.type === 'DELETED' && event.object.metadata.namespace) {
      enqueue(event.object.metadata.namespace);
    }
  }

  reconcile(name: string): void {
    const rt = this.#ctx.rt('namespaces');
    const ns = this.#ctx.objects.store.get(rt, undefined, name);
    if (!ns) return;
    if (!ns.metadata.deletionTimestamp) {
      this.#ensure('serviceaccounts', name, { metadata: { name: 'default' } });
      this.#ensure('configmaps', name, {
        metadata: {
          name: 'kube-root-ca.crt',
          annotations: {
            'kubernetes.io/description':
              'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.',
          },
        },
        data: { 'ca.crt': this.#caPem },
      });
      return;
    }
    const contents = this.#ctx.objects.store.namespaceContents(name);
    for (const { rt: itemType, object } of contents) {
      if (object.metadata.deletionTimestamp) continue;
      try {
        this.#ctx.objects.delete(itemType, name, object.metadata.name ?? '', {
          propagationPolicy: 'Background',
        });
      } catch (error) {
        if (!(error instanceof ApiError && error.code === 404)) throw error;
      }
    }
    // Like the real finalizer, which walks every resource type, this takes a moment.
    if (contents.length === 0) {
      this.#ctx.after(this.#ctx.settings.terminationMs, () => {
        const current = this.#ctx.objects.store.get(rt, undefined, name);
        if (current?.metadata.uid !== ns.metadata.uid) return;
        if (this.#ctx.objects.store.namespaceContents(name).length > 0)
          this.#ctx.enqueue(this.name, name);
        else this.#ctx.objects.store.remove(rt, undefined, name);
      });
    }
  }

  #ensure(plural: string, namespace: string, object: Record<string, unknown>): void {
    const rt = this.#ctx.rt(plural);
    const name = (object.metadata as { name: string }).name;
    if (this.#ctx.objects.store.get(rt, namespace, name)) return;
    this.#ctx.objects.create(rt, namespace, object);
  }
}
