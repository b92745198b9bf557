// Watches: newline-delimited JSON events, resumed from a resourceVersion or started with the
// current state (synthetic ADDED events, then a bookmark when sendInitialEvents asks for one).
import type { ServerResponse } from 'node:http';
import { statusObject } from './errors.ts';
import type { Objects } from './objects.ts';
import { apiVersionOf, type ResourceType, storageKey } from './resources.ts';
import { type FieldRequirement, matchesFields, matchesLabels, type Selector } from './selectors.ts';
import type { StoreEvent } from './store.ts';
import type { KubeObject } from './types.ts';

export interface WatchParams {
  rt: ResourceType;
  namespace: string | undefined;
  labelSelector: Selector;
  fieldSelector: FieldRequirement[];
  resourceVersion: string | undefined;
  sendInitialEvents: boolean;
  allowBookmarks: boolean;
  timeoutSeconds: number | undefined;
}

export function serveWatch(
  objects: Objects,
  res: ServerResponse,
  params: WatchParams,
  bookmarkMs: number,
): void {
  const { rt } = params;
  const key = storageKey(rt);
  const apiVersion = apiVersionOf(rt);
  const matches = (o: KubeObject) =>
    (params.namespace === undefined || o.metadata.namespace === params.namespace) &&
    matchesLabels(o.metadata.labels, params.labelSelector) &&
    matchesFields(o, params.fieldSelector);
  const send = (type: string, object: unknown) => {
    if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify({ type, object })}\n`);
  };
  const served = (o: KubeObject): KubeObject => ({ ...o, apiVersion });
  const bookmark = (annotations?: Record<string, string>) =>
    send('BOOKMARK', {
      kind: rt.kind,
      apiVersion,
      metadata: {
        resourceVersion: String(objects.store.resourceVersion),
        ...(annotations ? { annotations } : {}),
      },
    });
  // A selector change turns MODIFIED into ADDED or DELETED for this watcher, as on a real server.
  const forward = (event: StoreEvent) => {
    if (storageKey(event.rt) !== key) return;
    const now = matches(event.object);
    const before =
      event.type === 'MODIFIED' && event.previous !== undefined && matches(event.previous);
    if (event.type === 'ADDED' && now) send('ADDED', served(event.object));
    else if (event.type === 'DELETED' && now) send('DELETED', served(event.object));
    else if (event.type === 'MODIFIED') {
      if (now && before) send('MODIFIED', served(event.object));
      else if (now) send('ADDED', served(event.object));
      else if (before) send('DELETED', served(event.object));
    }
  };

  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
  res.flushHeaders();

  const rv = params.resourceVersion;
  if (params.sendInitialEvents || !rv || rv === '0') {
    for (const object of objects.list(rt, { namespace: params.namespace }))
      if (matches(object)) send('ADDED', object);
    if (params.sendInitialEvents) bookmark({ 'k8s.io/initial-events-end': 'true' });
  } else {
    const history = objects.store.eventsSince(Number(rv));
    if (!history) {
      send(
        'ERROR',
        statusObject(
          'Failure',
          410,
          'Expired',
          `too old resource version: ${rv} (${objects.store.resourceVersion})`,
        ),
      );
      res.end();
      return;
    }
    for (const event of history) forward(event);
  }

  const unsubscribe = objects.store.subscribe(forward);
  const timers: NodeJS.Timeout[] = [];
  if (params.allowBookmarks) timers.push(setInterval(() => bookmark(), bookmarkMs));
  if (params.timeoutSeconds !== undefined)
    timers.push(setTimeout(() => res.end(), params.timeoutSeconds * 1000));
  const stop = () => {
    unsubscribe();
    for (const timer of timers) clearTimeout(timer);
  };
  res.on('close', stop);
  res.on('finish', stop);
}
