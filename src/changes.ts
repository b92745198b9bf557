// What a hop changes, workload by workload, from two renderings of the release (what it runs now
// and what Helm's dry run of the hop would apply), and the `--set`s that keep a dependency on the
// image it runs now.

import type { Rendered, Workload } from './manifest.ts';
import { ALL_COMPONENTS, type Component, DEPENDENCY_IMAGES } from './milvus.ts';

export interface FieldChange {
  /** `image etcd`, `resources etcd`, `replicas`, `volumeClaimTemplates`. */
  field: string;
  before: string | undefined;
  after: string | undefined;
}

export interface WorkloadChange {
  /** `StatefulSet/my-milvus-etcd`. */
  workload: string;
  milvus: boolean;
  change: 'added' | 'removed' | 'changed';
  fields: FieldChange[];
}

/** A Deployment of the Milvus chart itself (by its name label and component), not a dependency. */
export function isMilvusWorkload(workload: Workload, milvusName: string): boolean {
  return (
    workload.labels['app.kubernetes.io/name'] === milvusName &&
    ALL_COMPONENTS.includes(workload.labels.component as Component)
  );
}

const key = (w: Workload) => `${w.kind}/${w.name}`;

/** Every workload that a hop adds, removes or changes, with the fields that change. */
export function workloadChanges(
  before: Rendered,
  after: Rendered,
  milvusName: string,
): WorkloadChange[] {
  const was = new Map(before.workloads.map((w) => [key(w), w]));
  const will = new Map(after.workloads.map((w) => [key(w), w]));
  const changes: WorkloadChange[] = [];
  for (const [name, w] of was) {
    if (!will.has(name)) {
      changes.push({
        workload: name,
        milvus: isMilvusWorkload(w, milvusName),
        change: 'removed',
        fields: [],
      });
    }
  }
  for (const [name, w] of will) {
    const old = was.get(name);
    const fields = [...new Set([...Object.keys(old?.fields ?? {}), ...Object.keys(w.fields)])]
      .filter((field) => old?.fields[field] !== w.fields[field])
      .map((field) => ({ field, before: old?.fields[field], after: w.fields[field] }));
    if (old && fields.length === 0) continue;
    changes.push({
      workload: name,
      milvus: isMilvusWorkload(w, milvusName),
      change: old ? 'changed' : 'added',
      fields: old ? fields : [],
    });
  }
  return changes;
}

/** The image changes of dependencies: what only the user may ask for (`upgrade-dependencies`). */
export function dependencyImageChanges(
  changes: readonly WorkloadChange[],
): { workload: string; container: string; before: string; after: string }[] {
  return changes
    .filter((c) => !c.milvus && c.change === 'changed')
    .flatMap((c) =>
      c.fields
        .filter((f) => f.field.startsWith('image ') && f.before && f.after)
        .map((f) => ({
          workload: c.workload,
          container: f.field.slice('image '.length),
          before: f.before as string,
          after: f.after as string,
        })),
    );
}

/** `docker.io/milvusdb/etcd:3.5.18-r1` → registry, repository and tag; undefined for a digest. */
export function splitImage(
  image: string,
): { registry: string | undefined; repository: string; tag: string } | undefined {
  if (image.includes('@')) return undefined;
  const slash = image.indexOf('/');
  const first = slash > 0 ? image.slice(0, slash) : '';
  const hasRegistry = /[.:]/.test(first) || first === 'localhost';
  const rest = hasRegistry ? image.slice(slash + 1) : image;
  const colon = rest.lastIndexOf(':');
  if (colon <= 0) return undefined;
  return {
    registry: hasRegistry ? first : undefined,
    repository: rest.slice(0, colon),
    tag: rest.slice(colon + 1),
  };
}

/**
 * The `--set`s that put each changed dependency image back to what runs now, from the release
 * table's value keys; the changes no key covers are returned apart.
 */
export function imagePins(changes: ReturnType<typeof dependencyImageChanges>): {
  pins: [string, string][];
  unpinned: typeof changes;
} {
  const pins: [string, string][] = [];
  const unpinned: typeof changes = [];
  for (const change of changes) {
    const entry = DEPENDENCY_IMAGES.find(
      (d) =>
        d.workload.test(change.workload.slice(change.workload.indexOf('/') + 1)) &&
        (d.container === undefined || d.container === change.container),
    );
    const image = splitImage(change.before);
    if (!entry || !image || (image.registry && !entry.keys.registry)) {
      unpinned.push(change);
      continue;
    }
    const { registry, repository, tag } = entry.keys;
    if (registry) pins.push([registry, image.registry ?? 'docker.io']);
    pins.push([repository, image.repository], [tag, image.tag]);
  }
  // One dependency may run several workloads from the same keys: keep each pin once.
  const unique = new Map(pins.map(([k, v]) => [k, v]));
  return { pins: [...unique], unpinned };
}

/** One line per workload: `Deployment/x-proxy: image proxy a → b`, `… added`, `… removed`. */
export function describeChanges(changes: readonly WorkloadChange[]): string[] {
  return changes.map((c) => {
    if (c.change !== 'changed') return `${c.workload} ${c.change}`;
    const fields = c.fields.map((f) => `${f.field} ${f.before ?? '–'} → ${f.after ?? '–'}`);
    return `${c.workload}: ${fields.join('; ')}`;
  });
}
