// Helpers the workload controllers share: pods from templates, readiness, revision hashes.
import { ApiError } from '../errors.ts';
import type { KubeObject, Pod, PodTemplate } from '../types.ts';
import { clone, type JsonObject } from '../util.ts';
import { isPodReady } from './kubelet.ts';
import { type Context, ownerReference } from './manager.ts';

export { isPodReady };

/** Pods still counted by their controller: not terminating and not finished. */
export function isActive(pod: Pod): boolean {
  return (
    !pod.metadata.deletionTimestamp && !['Succeeded', 'Failed'].includes(pod.status?.phase ?? '')
  );
}

/** Creates a pod from `template` owned by `owner`; a rejected pod becomes a FailedCreate event. */
export function createPod(
  ctx: Context,
  owner: KubeObject,
  template: PodTemplate,
  naming: { name?: string; generateName?: string },
  labels: Record<string, string> = {},
  component = 'controller-manager',
): Pod | undefined {
  const metadata = template.metadata ?? {};
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      ...naming,
      namespace: owner.metadata.namespace,
      labels: { ...(metadata.labels ?? {}), ...labels },
      ...(metadata.annotations ? { annotations: clone(metadata.annotations) } : {}),
      ownerReferences: [ownerReference(owner)],
    },
    spec: clone(template.spec),
  };
  try {
    const created = ctx.objects.create(ctx.rt('pods'), owner.metadata.namespace, pod) as Pod;
    ctx.event(
      owner,
      'Normal',
      'SuccessfulCreate',
      `Created pod: ${created.metadata.name}`,
      component,
    );
    return created;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    ctx.event(owner, 'Warning', 'FailedCreate', `Error creating: ${error.message}`, component);
    return undefined;
  }
}

export function deletePod(ctx: Context, pod: Pod): void {
  try {
    ctx.objects.delete(ctx.rt('pods'), pod.metadata.namespace, pod.metadata.name ?? '', {});
  } catch (error) {
    if (!(error instanceof ApiError && error.code === 404)) throw error;
  }
}

/** Writes `status` through the status subresource (a no-op when nothing changed). */
export function writeStatus(
  ctx: Context,
  plural: string,
  object: KubeObject,
  status: JsonObject,
): void {
  const rt = ctx.rt(plural);
  const current = ctx.objects.store.get(rt, object.metadata.namespace, object.metadata.name ?? '');
  if (current?.metadata.uid !== object.metadata.uid) return;
  ctx.objects.update(
    rt,
    object.metadata.namespace,
    object.metadata.name ?? '',
    { ...current, status },
    {
      subresource: 'status',
    },
  );
}

/** Drops counters that are zero, as the `omitempty` fields of real status objects are. */
export function omitZero(status: JsonObject, keys: string[]): JsonObject {
  const out = { ...status };
  for (const key of keys) if (out[key] === 0) delete out[key];
  return out;
}

export function creationTime(object: KubeObject): number {
  return Date.parse(object.metadata.creationTimestamp ?? '') || 0;
}
