// The four patch types an API server accepts, applied with the semantics Kubernetes gives them.
import { ApiError } from './errors.ts';
import { clone, deepEqual, isObject, type JsonObject } from './util.ts';

/** How a list field merges in a strategic merge patch; undefined means the list is atomic. */
export interface ListStrategy {
  /** Merge key for lists of objects; absent for merged lists of primitives (a set). */
  key?: string;
}

/** Returns the strategy of the list at `path` (field names only, list indices left out). */
export type StrategyLookup = (path: string[]) => ListStrategy | undefined;

const POD_CONTAINER_LISTS = new Set(['containers', 'initContainers', 'ephemeralContainers']);

/**
 * The `patchStrategy`/`patchMergeKey` tags of the built-in Kubernetes types that charts use,
 * looked up by field name and context.
 */
export function builtInStrategy(kind: string): StrategyLookup {
  return (path) => {
    const field = path.at(-1);
    const parent = path.at(-2);
    switch (field) {
      case 'containers':
      case 'initContainers':
      case 'ephemeralContainers':
      case 'env':
      case 'volumes':
      case 'schedulingGates':
        return { key: 'name' };
      case 'imagePullSecrets':
      case 'resourceClaims':
        return path.length > 1 ? { key: 'name' } : undefined;
      case 'volumeMounts':
        return { key: 'mountPath' };
      case 'volumeDevices':
        return { key: 'devicePath' };
      case 'hostAliases':
        return { key: 'ip' };
      case 'topologySpreadConstraints':
        return { key: 'topologyKey' };
      case 'ports':
        if (parent && POD_CONTAINER_LISTS.has(parent)) return { key: 'containerPort' };
        if (kind === 'Service' && path.length === 2 && parent === 'spec') return { key: 'port' };
        return undefined;
      case 'finalizers':
        return parent === 'metadata' ? {} : undefined;
      case 'ownerReferences':
        return parent === 'metadata' ? { key: 'uid' } : undefined;
      case 'conditions':
        return path[0] === 'status' ? { key: 'type' } : undefined;
      case 'secrets':
        return kind === 'ServiceAccount' && path.length === 1 ? { key: 'name' } : undefined;
      default:
        return undefined;
    }
  };
}

/** Custom resources have no patch strategy: every list is atomic. */
export const atomicLists: StrategyLookup = () => undefined;

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  const result: JsonObject = isObject(target) ? clone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

/** Strategic merge patch, including the `$patch`, `$retainKeys`, `$setElementOrder` and `$deleteFromPrimitiveList` directives. */
export function strategicMergePatch(
  original: JsonObject,
  patch: JsonObject,
  strategy: StrategyLookup,
): JsonObject {
  return mergeMap(original, patch, [], strategy) ?? {};
}

function mergeMap(
  original: JsonObject,
  patch: JsonObject,
  path: string[],
  strategy: StrategyLookup,
): JsonObject | undefined {
  const directive = patch.$patch;
  if (directive === 'delete') return undefined;
  if (directive === 'replace') return mergeMap({}, { ...patch, $patch: undefined }, path, strategy);
  const result = clone(original);
  const orders: [string, unknown[]][] = [];
  const removals: [string, unknown[]][] = [];
  for (const [key, value] of Object.entries(patch)) {
    if (key === '$patch' || key === '$retainKeys' || value === undefined) continue;
    if (key.startsWith('$setElementOrder/')) {
      orders.push([key.slice('$setElementOrder/'.length), value as unknown[]]);
      continue;
    }
    if (key.startsWith('$deleteFromPrimitiveList/')) {
      removals.push([key.slice('$deleteFromPrimitiveList/'.length), value as unknown[]]);
      continue;
    }
    if (value === null) {
      delete result[key];
      continue;
    }
    const childPath = [...path, key];
    if (isObject(value)) {
      const merged = mergeMap(isObject(result[key]) ? result[key] : {}, value, childPath, strategy);
      if (merged === undefined) delete result[key];
      else result[key] = merged;
    } else if (Array.isArray(value)) {
      const current = Array.isArray(result[key]) ? (result[key] as unknown[]) : [];
      result[key] = mergeList(current, value, childPath, strategy);
    } else {
      result[key] = value;
    }
  }
  for (const [key, values] of removals) {
    const list = result[key];
    if (Array.isArray(list)) result[key] = list.filter((v) => !values.some((d) => deepEqual(d, v)));
  }
  for (const [key, order] of orders) {
    const list = result[key];
    if (Array.isArray(list)) result[key] = reorder(list, order, strategy([...path, key])?.key);
  }
  const retain = patch.$retainKeys;
  if (Array.isArray(retain)) {
    for (const key of Object.keys(result)) if (!retain.includes(key)) delete result[key];
  }
  return result;
}

function mergeList(
  original: unknown[],
  patch: unknown[],
  path: string[],
  strategy: StrategyLookup,
): unknown[] {
  const replace = patch.some((item) => isObject(item) && item.$patch === 'replace');
  const items = patch.filter((item) => !(isObject(item) && item.$patch === 'replace'));
  const listStrategy = strategy(path);
  if (!listStrategy || replace) {
    return items.map((item) =>
      isObject(item) ? (mergeMap({}, item, path, strategy) ?? {}) : clone(item),
    );
  }
  const key = listStrategy.key;
  if (key === undefined) {
    const result = clone(original);
    for (const item of items) if (!result.some((v) => deepEqual(v, item))) result.push(clone(item));
    return result;
  }
  let result = clone(original);
  for (const item of items) {
    if (!isObject(item))
      throw patchError(`${path.join('.')}: expected an object, got ${JSON.stringify(item)}`);
    if (!(key in item))
      throw patchError(`map: ${JSON.stringify(item)} does not contain declared merge key: ${key}`);
    const index = result.findIndex((v) => isObject(v) && deepEqual(v[key], item[key]));
    if (item.$patch === 'delete') {
      result = result.filter((v) => !(isObject(v) && deepEqual(v[key], item[key])));
      continue;
    }
    const existing = result[index];
    if (index >= 0 && isObject(existing)) {
      result[index] = mergeMap(existing, item, path, strategy) ?? {};
    } else {
      result.push(mergeMap({}, item, path, strategy) ?? {});
    }
  }
  return result;
}

/** Orders `list` as `order` says; items the order does not name keep their place after those it does. */
function reorder(list: unknown[], order: unknown[], key: string | undefined): unknown[] {
  const position = (item: unknown): number =>
    order.findIndex((o) =>
      key !== undefined && isObject(o) && isObject(item)
        ? deepEqual(o[key], item[key])
        : deepEqual(o, item),
    );
  const named = list
    .filter((item) => position(item) >= 0)
    .sort((a, b) => position(a) - position(b));
  return [...named, ...list.filter((item) => position(item) < 0)];
}

/**
 * The patch that turns what a field manager applied last time (`previous`) into what it applies
 * now (`next`): `next` plus deletions for the fields it no longer sets. Applied over the live
 * object, fields set by others and server defaults survive, as with server-side apply.
 */
export function applyPatchFrom(
  previous: JsonObject,
  next: JsonObject,
  strategy: StrategyLookup,
  path: string[] = [],
): JsonObject {
  const result = clone(next);
  for (const [key, before] of Object.entries(previous)) {
    const after = next[key];
    const childPath = [...path, key];
    if (!(key in next)) {
      result[key] = null;
    } else if (isObject(before) && isObject(after)) {
      result[key] = applyPatchFrom(before, after, strategy, childPath);
    } else if (Array.isArray(before) && Array.isArray(after)) {
      const listStrategy = strategy(childPath);
      if (!listStrategy) continue;
      const mergeKey = listStrategy.key;
      if (mergeKey === undefined) {
        const dropped = before.filter((v) => !after.some((a) => deepEqual(a, v)));
        if (dropped.length) result[`$deleteFromPrimitiveList/${key}`] = dropped;
        continue;
      }
      const sameKey = (a: unknown, b: unknown) =>
        isObject(a) && isObject(b) && deepEqual(a[mergeKey], b[mergeKey]);
      const merged: unknown[] = after.map((item) => {
        const old = before.find((b) => sameKey(b, item));
        return isObject(old) && isObject(item)
          ? applyPatchFrom(old, item, strategy, childPath)
          : clone(item);
      });
      for (const old of before) {
        if (isObject(old) && !after.some((a) => sameKey(a, old))) {
          merged.push({ [mergeKey]: old[mergeKey], $patch: 'delete' });
        }
      }
      result[key] = merged;
      result[`$setElementOrder/${key}`] = after.map((item) =>
        isObject(item) ? { [mergeKey]: item[mergeKey] } : item,
      );
    }
  }
  return result;
}

function patchError(message: string): ApiError {
  return new ApiError(422, 'Invalid', message);
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw patchError(`invalid JSON pointer "${pointer}"`);
  return pointer
    .slice(1)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function locate(doc: unknown, tokens: string[], op: string): { parent: unknown; key: string } {
  let current = doc;
  for (const token of tokens.slice(0, -1)) {
    if (Array.isArray(current)) current = current[Number(token)];
    else if (isObject(current)) current = current[token];
    else current = undefined;
    if (current === undefined)
      throw patchError(
        `jsonpatch ${op} operation does not apply: doc is missing path: /${tokens.join('/')}`,
      );
  }
  return { parent: current, key: tokens.at(-1) ?? '' };
}

function getAt(doc: unknown, tokens: string[], op: string): unknown {
  if (tokens.length === 0) return doc;
  const { parent, key } = locate(doc, tokens, op);
  const value = Array.isArray(parent)
    ? parent[Number(key)]
    : isObject(parent)
      ? parent[key]
      : undefined;
  if (value === undefined)
    throw patchError(
      `jsonpatch ${op} operation does not apply: doc is missing path: /${tokens.join('/')}`,
    );
  return value;
}

function removeAt(doc: unknown, tokens: string[], op: string): unknown {
  const value = getAt(doc, tokens, op);
  const { parent, key } = locate(doc, tokens, op);
  if (Array.isArray(parent)) parent.splice(Number(key), 1);
  else if (isObject(parent)) delete parent[key];
  return value;
}

function addAt(doc: unknown, tokens: string[], value: unknown, op: string): unknown {
  if (tokens.length === 0) return clone(value);
  const { parent, key } = locate(doc, tokens, op);
  if (Array.isArray(parent)) {
    const index = key === '-' ? parent.length : Number(key);
    if (!Number.isInteger(index) || index < 0 || index > parent.length) {
      throw patchError(
        `jsonpatch ${op} operation does not apply: index out of bounds: /${tokens.join('/')}`,
      );
    }
    parent.splice(index, 0, clone(value));
  } else if (isObject(parent)) {
    parent[key] = clone(value);
  } else {
    throw patchError(
      `jsonpatch ${op} operation does not apply: doc is missing path: /${tokens.join('/')}`,
    );
  }
  return doc;
}

/** RFC 6902 JSON patch. */
export function jsonPatch(document: JsonObject, operations: unknown): JsonObject {
  if (!Array.isArray(operations))
    throw new ApiError(400, 'BadRequest', 'json patch must be an array of operations');
  let doc: unknown = clone(document);
  for (const operation of operations) {
    if (!isObject(operation)) throw patchError('json patch operation must be an object');
    const op = String(operation.op);
    const path = parsePointer(String(operation.path ?? ''));
    switch (op) {
      case 'add':
        doc = addAt(doc, path, operation.value, op);
        break;
      case 'remove':
        removeAt(doc, path, op);
        break;
      case 'replace':
        getAt(doc, path, op);
        if (path.length === 0) doc = clone(operation.value);
        else {
          removeAt(doc, path, op);
          doc = addAt(doc, path, operation.value, op);
        }
        break;
      case 'move': {
        const value = removeAt(doc, parsePointer(String(operation.from ?? '')), op);
        doc = addAt(doc, path, value, op);
        break;
      }
      case 'copy':
        doc = addAt(doc, path, getAt(doc, parsePointer(String(operation.from ?? '')), op), op);
        break;
      case 'test':
        if (!deepEqual(getAt(doc, path, op), operation.value)) {
          throw patchError(`testing value /${path.join('/')} failed: test failed`);
        }
        break;
      default:
        throw patchError(`Unexpected kind: ${op}`);
    }
  }
  if (!isObject(doc)) throw patchError('json patch result is not an object');
  return doc;
}
