// Helm values as plain data: reading dotted paths and merging layers the way Helm coalesces them.
import type { Values } from './observed.ts';

function isMap(value: unknown): value is Values {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The value at a dotted path such as `pulsar.enabled`, or undefined. */
export function valueAt(values: Values, path: string): unknown {
  let node: unknown = values;
  for (const key of path.split('.')) {
    if (!isMap(node)) return undefined;
    node = node[key];
  }
  return node;
}

/** Whether the dotted path exists (the chart defines the key, even if its value is false). */
export function hasPath(values: Values, path: string): boolean {
  const dot = path.lastIndexOf('.');
  const parent = dot < 0 ? values : valueAt(values, path.slice(0, dot));
  return isMap(parent) && Object.hasOwn(parent, path.slice(dot + 1));
}

/** Helm's `--set` typing for the scalars the action sets: booleans and integers, else strings. */
export function setValue(raw: string): unknown {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  if (/^-?\d+$/.test(raw)) return Number(raw);
  return raw;
}

/** `--set` pairs as a values tree, so they can be merged like any other layer. */
export function valuesFromSets(sets: readonly (readonly [string, string])[]): Values {
  const root: Values = {};
  for (const [path, raw] of sets) {
    const keys = path.split('.');
    let node = root;
    for (const key of keys.slice(0, -1)) {
      if (!isMap(node[key])) node[key] = {};
      node = node[key] as Values;
    }
    node[keys[keys.length - 1] as string] = setValue(raw);
  }
  return root;
}

/**
 * Later layers win; maps merge key by key; a `null` in a later layer deletes the key, as in Helm.
 * Inputs are not modified.
 */
export function mergeValues(...layers: Values[]): Values {
  const out: Values = {};
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer)) {
      if (value === null) delete out[key];
      else if (isMap(value) && isMap(out[key])) out[key] = mergeValues(out[key], value);
      else out[key] = isMap(value) ? mergeValues(value) : value;
    }
  }
  return out;
}
