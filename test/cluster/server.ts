// The HTTPS front of the test cluster: authentication, fault injection, request accounting and
// the routes of the Kubernetes API (resources, discovery, OpenAPI, version, health).
import {
  createServer as createHttpServer,
  type Server as HttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import {
  type AddressInfo,
  createServer as createNetServer,
  type Server as NetServer,
  type Socket,
} from 'node:net';
import { createSecureContext, TLSSocket } from 'node:tls';
import { parse as parseYaml } from 'yaml';
import { isPodReady } from './controllers/kubelet.ts';
import { apiGroup, coreVersions, groupList, resourceList } from './discovery.ts';
import {
  ApiError,
  badRequest,
  methodNotAllowed,
  statusObject,
  unsupportedMediaType,
} from './errors.ts';
import type { Faults } from './faults.ts';
import type { DeleteOptions, Objects, PatchType } from './objects.ts';
import { groupVersionDocument, openapiRoot } from './openapi.ts';
import { decodeProtobuf } from './protobuf.ts';
import type { RequestLog, RequestRecord } from './requests.ts';
import { apiVersionOf, type ResourceType } from './resources.ts';
import { formatLabelSelector, parseFieldSelector, parseLabelSelector } from './selectors.ts';
import type { ServerCertificates } from './tls.ts';
import type { KubeObject, LabelSelector, Pod } from './types.ts';
import { isObject, type JsonObject, sleep } from './util.ts';
import { serveWatch } from './watch.ts';

export interface ServerOptions {
  objects: Objects;
  faults: Faults;
  requests: RequestLog;
  certificates: ServerCertificates;
  token: string;
  gitVersion: string;
  bookmarkMs: number;
}

interface Route {
  group: string;
  version: string;
  namespace: string | undefined;
  plural: string;
  name: string | undefined;
  subresource: string | undefined;
  legacyWatch: boolean;
}

const PATCH_TYPES: Record<string, PatchType> = {
  'application/json-patch+json': 'json',
  'application/merge-patch+json': 'merge',
  'application/strategic-merge-patch+json': 'strategic',
  'application/apply-patch+yaml': 'apply',
};

const REASONS: Record<number, string> = {
  429: 'TooManyRequests',
  500: 'InternalError',
  502: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/** Splits `/api/v1/namespaces/ns/pods/name/status` and `/apis/g/v/...` into their parts. */
function parseRoute(pathname: string): Route | undefined {
  const segments = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  let group: string;
  let version: string | undefined;
  let rest: string[];
  if (segments[0] === 'api') {
    group = '';
    version = segments[1];
    rest = segments.slice(2);
  } else if (segments[0] === 'apis') {
    group = segments[1] ?? '';
    version = segments[2];
    rest = segments.slice(3);
  } else {
    return undefined;
  }
  if (!version || rest.length === 0) return undefined;
  const legacyWatch = rest[0] === 'watch';
  if (legacyWatch) rest = rest.slice(1);
  let namespace: string | undefined;
  const namespaceSubresource =
    rest.length === 3 && (rest[2] === 'status' || rest[2] === 'finalize');
  if (rest[0] === 'namespaces' && rest.length >= 3 && !namespaceSubresource) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural = '', name, subresource] = rest;
  return { group, version, namespace, plural, name, subresource, legacyWatch };
}

/** `name`, `name:port` or `scheme:name:port`, as the proxy subresource addresses a target. */
function proxyTarget(target: string): { name: string; port: string | undefined } {
  const parts = target.split(':');
  return parts.length === 3
    ? { name: parts[1] ?? '', port: parts[2] }
    : { name: parts[0] ?? '', port: parts[1] };
}

function verbOf(method: string, route: Route | undefined, watch: boolean): string {
  if (!route) return 'other';
  if (watch) return 'watch';
  switch (method) {
    case 'GET':
      return route.name ? 'get' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return route.name ? 'delete' : 'deletecollection';
    default:
      return 'other';
  }
}

function sendJson(
  res: ServerResponse,
  code: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(code, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function sendError(
  res: ServerResponse,
  error: ApiError,
  headers: Record<string, string> = {},
): void {
  sendJson(res, error.code, error.toStatus(), headers);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function decodeBody(body: Buffer, contentType: string): unknown {
  if (body.length === 0) return undefined;
  try {
    if (contentType === 'application/vnd.kubernetes.protobuf') return decodeProtobuf(body);
    if (contentType === 'application/yaml' || contentType === 'application/apply-patch+yaml') {
      return parseYaml(body.toString('utf8'));
    }
    if (contentType === '' || contentType.endsWith('json'))
      return JSON.parse(body.toString('utf8'));
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw badRequest(`error decoding request body: ${(error as Error).message}`);
  }
  throw unsupportedMediaType(contentType);
}

function flag(value: string | null): boolean {
  return value === 'true' || value === '1';
}

export class ApiServer {
  readonly #options: ServerOptions;
  readonly #listener: NetServer;
  readonly #http: HttpServer;
  readonly #sockets = new Set<Socket>();
  /** The TCP socket under each TLS connection, to reset it on request. */
  readonly #raw = new WeakMap<Socket, Socket>();
  #port = 0;
  #listening = false;

  constructor(options: ServerOptions) {
    this.#options = options;
    this.#http = createHttpServer(
      {
        // Go clients keep idle connections for 90 s; closing them earlier races with new requests.
        keepAliveTimeout: 120_000,
        requestTimeout: 0,
        headersTimeout: 60_000,
      },
      (req, res) => {
        this.#handle(req, res).catch((error: unknown) => {
          if (!res.headersSent)
            sendJson(res, 500, statusObject('Failure', 500, 'InternalError', String(error)));
          else res.destroy();
        });
      },
    );
    // TLS is terminated here rather than by node:https so the raw TCP socket stays reachable.
    const secureContext = createSecureContext({
      key: options.certificates.keyPem,
      cert: options.certificates.certPem,
    });
    // TCP_NODELAY, as a real API server sets it: without it a response written in two segments
    // can wait ~40 ms for the client's delayed ACK.
    this.#listener = createNetServer({ noDelay: true }, (raw) => {
      this.#sockets.add(raw);
      raw.on('close', () => this.#sockets.delete(raw));
      const secure = new TLSSocket(raw, {
        isServer: true,
        secureContext,
        ALPNProtocols: ['http/1.1'],
      });
      secure.on('error', () => raw.destroy());
      this.#raw.set(secure, raw);
      this.#http.emit('connection', secure);
    });
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `https://127.0.0.1:${this.#port}`;
  }

  async listen(port = this.#port): Promise<void> {
    if (this.#listening) return;
    await new Promise<void>((resolve, reject) => {
      this.#listener.once('error', reject);
      this.#listener.listen(port, '127.0.0.1', () => {
        this.#listener.off('error', reject);
        resolve();
      });
    });
    this.#port = (this.#listener.address() as AddressInfo).port;
    this.#listening = true;
  }

  /** Stops listening and destroys every open connection, watches included. */
  async close(): Promise<void> {
    if (!this.#listening) return;
    this.#listening = false;
    const closed = new Promise<void>((resolve) => this.#listener.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { requests, faults } = this.#options;
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    const method = req.method ?? 'GET';
    const route = parseRoute(url.pathname);
    const watch = flag(url.searchParams.get('watch')) || route?.legacyWatch === true;
    const userAgent = req.headers['user-agent'] ?? '';
    const record: RequestRecord = requests.add({
      time: Date.now(),
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      userAgent,
      contentType: (req.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '',
      verb: verbOf(method, route, watch),
      resource: route ? (route.group ? `${route.plural}.${route.group}` : route.plural) : '',
      watch,
      status: 0,
      durationMs: undefined,
      fault: undefined,
    });
    const done = () => {
      record.durationMs ??= Date.now() - record.time;
      if (res.headersSent) record.status = res.statusCode;
    };
    res.on('finish', done);
    res.on('close', done);

    const info = { method, path: url.pathname, userAgent, watch };
    const delay = faults.delayFor(info);
    if (delay > 0) await sleep(delay);
    const rule = faults.errorFor(info);
    if (rule) {
      if (rule.status === 'reset') {
        record.fault = 'reset';
        (this.#raw.get(req.socket) ?? req.socket).resetAndDestroy();
        return;
      }
      record.fault = 'error';
      const status = rule.status ?? 503;
      const headers: Record<string, string> = rule.retryAfterSeconds
        ? { 'Retry-After': String(rule.retryAfterSeconds) }
        : {};
      sendError(
        res,
        new ApiError(status, REASONS[status] ?? 'InternalError', `injected fault: ${status}`),
        headers,
      );
      return;
    }
    if (req.headers.authorization !== `Bearer ${this.#options.token}`) {
      sendError(res, new ApiError(401, 'Unauthorized', 'Unauthorized'));
      return;
    }
    try {
      const body = ['POST', 'PUT', 'PATCH', 'DELETE'].includes(method)
        ? await readBody(req)
        : Buffer.alloc(0);
      if (route) await this.#resource(req, res, route, url.searchParams, body, watch);
      else this.#nonResource(res, url.pathname, method);
    } catch (error) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof ApiError) sendError(res, error);
      else
        sendJson(
          res,
          500,
          statusObject('Failure', 500, 'InternalError', String((error as Error).stack ?? error)),
        );
    }
  }

  #nonResource(res: ServerResponse, path: string, method: string): void {
    const { objects, gitVersion } = this.#options;
    const registry = objects.registry;
    const notFound = () =>
      new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    if (method !== 'GET') throw methodNotAllowed();
    if (path === '/healthz' || path === '/livez' || path === '/readyz') {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('ok');
      return;
    }
    if (path === '/version') {
      const [major = '1', minor = '0'] = gitVersion.replace(/^v/, '').split('.');
      sendJson(res, 200, {
        major,
        minor,
        gitVersion,
        gitCommit: '0000000000000000000000000000000000000000',
        gitTreeState: 'clean',
        buildDate: '2024-01-01T00:00:00Z',
        goVersion: 'go1.22.8',
        compiler: 'gc',
        platform: 'linux/amd64',
      });
      return;
    }
    if (path === '/api' || path === '/api/') {
      sendJson(res, 200, coreVersions(`127.0.0.1:${this.#port}`));
      return;
    }
    if (path === '/apis' || path === '/apis/') {
      sendJson(res, 200, groupList(registry));
      return;
    }
    const segments = path.split('/').filter(Boolean);
    if (segments[0] === 'api' && segments.length === 2) {
      const list = resourceList(registry, '', segments[1] ?? '');
      if (!list) throw notFound();
      sendJson(res, 200, list);
      return;
    }
    if (segments[0] === 'apis' && segments.length === 2) {
      const group = apiGroup(registry, segments[1] ?? '');
      if (!group) throw notFound();
      sendJson(res, 200, group);
      return;
    }
    if (segments[0] === 'apis' && segments.length === 3) {
      const list = resourceList(registry, segments[1] ?? '', segments[2] ?? '');
      if (!list) throw notFound();
      sendJson(res, 200, list);
      return;
    }
    if (path === '/openapi/v3' || path === '/openapi/v3/') {
      sendJson(res, 200, openapiRoot(registry, gitVersion));
      return;
    }
    if (path.startsWith('/openapi/v3/')) {
      const doc = groupVersionDocument(registry, path.slice('/openapi/v3/'.length), gitVersion);
      if (!doc) throw notFound();
      sendJson(res, 200, doc);
      return;
    }
    throw notFound();
  }

  async #resource(
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    query: URLSearchParams,
    body: Buffer,
    watch: boolean,
  ): Promise<void> {
    const { objects } = this.#options;
    const rt = objects.registry.get(route.group, route.version, route.plural);
    const notFound = () =>
      new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    if (!rt) throw notFound();
    if (!rt.namespaced && route.namespace !== undefined) throw notFound();
    const namespace = rt.namespaced ? route.namespace : undefined;
    const { name, subresource } = route;
    const method = req.method ?? 'GET';
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
    const dryRun = query.getAll('dryRun').includes('All');
    const fieldManager =
      query.get('fieldManager') ?? (req.headers['user-agent'] ?? '').split('/')[0]?.toLowerCase();
    const writeOptions = {
      dryRun,
      fieldManager,
      fieldValidation: query.get('fieldValidation') ?? undefined,
      subresource,
    };
    if (subresource !== undefined && !['status', 'scale', 'log', 'proxy'].includes(subresource))
      throw notFound();
    if (subresource === 'proxy' && rt.kind !== 'Pod' && rt.kind !== 'Service') throw notFound();
    if (
      (subresource === 'status' && !rt.statusSubresource) ||
      (subresource === 'scale' && !rt.scaleSubresource)
    ) {
      throw notFound();
    }
    if (subresource === 'log' && rt.kind !== 'Pod') throw notFound();

    if (!name) {
      if (subresource) throw notFound();
      if (method === 'GET') {
        this.#list(res, rt, namespace, query, watch);
        return;
      }
      if (method === 'POST') {
        sendJson(
          res,
          201,
          objects.create(rt, namespace, decodeBody(body, contentType), writeOptions),
        );
        return;
      }
      if (method === 'DELETE') {
        const options = this.#deleteOptions(body, contentType, query);
        const items = objects.list(rt, {
          namespace,
          labelSelector: parseLabelSelector(query.get('labelSelector')),
          fieldSelector: parseFieldSelector(rt, query.get('fieldSelector')),
        });
        const deleted = items.map(
          (o) => objects.delete(rt, o.metadata.namespace, o.metadata.name ?? '', options).object,
        );
        sendJson(res, 200, listBody(rt, deleted, String(objects.store.resourceVersion)));
        return;
      }
      throw methodNotAllowed();
    }
    if (rt.namespaced && namespace === undefined) throw notFound();

    if (subresource === 'proxy') {
      this.#proxy(res, rt, namespace, name);
      return;
    }
    if (subresource === 'scale') {
      this.#scale(res, rt, namespace, name, method, body, contentType, writeOptions);
      return;
    }
    if (subresource === 'log') {
      if (method !== 'GET') throw methodNotAllowed();
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end(podLog(objects.get(rt, namespace, name) as Pod, query.get('container')));
      return;
    }
    switch (method) {
      case 'GET':
        sendJson(res, 200, objects.get(rt, namespace, name));
        return;
      case 'PUT':
        sendJson(
          res,
          200,
          objects.update(rt, namespace, name, decodeBody(body, contentType), writeOptions),
        );
        return;
      case 'PATCH': {
        const type = PATCH_TYPES[contentType];
        if (!type) throw unsupportedMediaType(contentType);
        const result = objects.patch(rt, namespace, name, type, decodeBody(body, contentType), {
          ...writeOptions,
          fieldManager: query.get('fieldManager') ?? (type === 'apply' ? undefined : fieldManager),
          force: flag(query.get('force')),
        });
        sendJson(res, result.created ? 201 : 200, result.object);
        return;
      }
      case 'DELETE': {
        const { object, pending } = objects.delete(
          rt,
          namespace,
          name,
          this.#deleteOptions(body, contentType, query),
        );
        if (pending || rt.kind === 'Pod') sendJson(res, 200, object);
        else {
          sendJson(
            res,
            200,
            statusObject('Success', 200, '', '', {
              name,
              group: rt.group,
              kind: rt.plural,
              uid: object.metadata.uid ?? '',
            }),
          );
        }
        return;
      }
      default:
        throw methodNotAllowed();
    }
  }

  /**
   * The API server's proxy to a Service or Pod. There is no workload behind the simulated pods,
   * so a target with a ready endpoint answers `200 OK` to any path; otherwise the answer is the
   * 503 a real API server gives.
   */
  #proxy(
    res: ServerResponse,
    rt: ResourceType,
    namespace: string | undefined,
    target: string,
  ): void {
    const { objects } = this.#options;
    const { name, port } = proxyTarget(target);
    const object = objects.get(rt, namespace, name);
    if (rt.kind === 'Service') {
      const ports = (((object.spec ?? {}) as JsonObject).ports as JsonObject[] | undefined) ?? [];
      const portKnown =
        port === undefined || ports.some((p) => p.name === port || String(p.port) === port);
      const endpointsType = objects.registry.find('endpoints') as ResourceType;
      const subsets = (objects.store.get(endpointsType, namespace, name)?.subsets ?? []) as {
        addresses?: unknown[];
      }[];
      if (!portKnown || !subsets.some((s) => (s.addresses?.length ?? 0) > 0)) {
        throw new ApiError(
          503,
          'ServiceUnavailable',
          `no endpoints available for service "${name}"`,
        );
      }
    } else if (!isPodReady(object as Pod)) {
      throw new ApiError(
        503,
        'ServiceUnavailable',
        'error trying to reach service: dial tcp: connect: connection refused',
      );
    }
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('OK');
  }

  #list(
    res: ServerResponse,
    rt: ResourceType,
    namespace: string | undefined,
    query: URLSearchParams,
    watch: boolean,
  ): void {
    const { objects } = this.#options;
    const labelSelector = parseLabelSelector(query.get('labelSelector'));
    const fieldSelector = parseFieldSelector(rt, query.get('fieldSelector'));
    const resourceVersion = query.get('resourceVersion') ?? undefined;
    if (resourceVersion && !/^\d+$/.test(resourceVersion)) {
      throw badRequest(`invalid resource version: ${resourceVersion}`);
    }
    if (watch) {
      const sendInitialEvents = flag(query.get('sendInitialEvents'));
      const allowBookmarks = flag(query.get('allowWatchBookmarks'));
      if (
        sendInitialEvents &&
        (query.get('resourceVersionMatch') !== 'NotOlderThan' || !allowBookmarks)
      ) {
        throw new ApiError(
          422,
          'Invalid',
          'ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan and allowWatchBookmarks',
        );
      }
      const timeout = query.get('timeoutSeconds');
      serveWatch(
        objects,
        res,
        {
          rt,
          namespace,
          labelSelector,
          fieldSelector,
          resourceVersion,
          sendInitialEvents,
          allowBookmarks,
          timeoutSeconds: timeout ? Number(timeout) : undefined,
        },
        this.#options.bookmarkMs,
      );
      return;
    }
    const rv = String(objects.store.resourceVersion);
    let items = objects.list(rt, { namespace, labelSelector, fieldSelector });
    // Pages continue after the last key returned; the listing is live, not a snapshot.
    const token = query.get('continue');
    if (token) {
      const last = Buffer.from(token, 'base64url').toString('utf8');
      items = items.filter((o) => itemKey(o).localeCompare(last) > 0);
    }
    const limit = Number(query.get('limit') ?? 0);
    const metadata: JsonObject = { resourceVersion: rv };
    if (limit > 0 && items.length > limit) {
      const page = items.slice(0, limit);
      metadata.continue = Buffer.from(itemKey(page.at(-1) as KubeObject)).toString('base64url');
      metadata.remainingItemCount = items.length - limit;
      items = page;
    }
    sendJson(res, 200, listBody(rt, items, metadata));
  }

  #deleteOptions(body: Buffer, contentType: string, query: URLSearchParams): DeleteOptions {
    const decoded = decodeBody(body, contentType);
    const options: JsonObject = isObject(decoded) ? decoded : {};
    const grace = query.get('gracePeriodSeconds') ?? options.gracePeriodSeconds;
    const dryRun = [...query.getAll('dryRun'), ...((options.dryRun as string[] | undefined) ?? [])];
    return {
      dryRun: dryRun.includes('All'),
      propagationPolicy: (query.get('propagationPolicy') ?? options.propagationPolicy) as
        | string
        | undefined,
      gracePeriodSeconds: grace === undefined || grace === null ? undefined : Number(grace),
      orphanDependents:
        query.get('orphanDependents') !== null
          ? flag(query.get('orphanDependents'))
          : (options.orphanDependents as boolean | undefined),
      preconditions: options.preconditions as DeleteOptions['preconditions'],
    };
  }

  #scale(
    res: ServerResponse,
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    method: string,
    body: Buffer,
    contentType: string,
    options: { dryRun: boolean; fieldManager: string | undefined },
  ): void {
    const { objects } = this.#options;
    const object = objects.get(rt, namespace, name);
    const spec = (object.spec ?? {}) as JsonObject;
    const scale = {
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: {
        name,
        namespace,
        uid: object.metadata.uid,
        resourceVersion: object.metadata.resourceVersion,
        creationTimestamp: object.metadata.creationTimestamp,
      },
      spec: { replicas: spec.replicas ?? 0 },
      status: {
        replicas: ((object.status ?? {}) as JsonObject).replicas ?? 0,
        selector: formatLabelSelector(spec.selector as LabelSelector | undefined),
      },
    };
    if (method === 'GET') {
      sendJson(res, 200, scale);
      return;
    }
    let wanted: unknown;
    if (method === 'PUT') wanted = decodeBody(body, contentType);
    else if (method === 'PATCH') {
      const type = PATCH_TYPES[contentType];
      if (!type || type === 'apply') throw unsupportedMediaType(contentType);
      wanted = objects.patchValue(scale, type, decodeBody(body, contentType));
    } else throw methodNotAllowed();
    const replicas = isObject(wanted) && isObject(wanted.spec) ? wanted.spec.replicas : undefined;
    if (typeof replicas !== 'number' || replicas < 0)
      throw badRequest('spec.replicas must be a non-negative number');
    const updated = objects.update(
      rt,
      namespace,
      name,
      { ...object, spec: { ...spec, replicas } },
      { dryRun: options.dryRun, fieldManager: options.fieldManager },
    );
    sendJson(res, 200, {
      ...scale,
      metadata: { ...scale.metadata, resourceVersion: updated.metadata.resourceVersion },
      spec: { replicas },
    });
  }
}

function itemKey(o: KubeObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`;
}

/** A `<Kind>List`. Built-in lists leave kind and apiVersion out of items, as a real server does. */
function listBody(
  rt: ResourceType,
  items: KubeObject[],
  metadata: JsonObject | string,
): JsonObject {
  return {
    kind: `${rt.kind}List`,
    apiVersion: apiVersionOf(rt),
    metadata: typeof metadata === 'string' ? { resourceVersion: metadata } : metadata,
    items: rt.custom
      ? items
      : items.map(({ kind: _kind, apiVersion: _apiVersion, ...rest }) => rest),
  };
}

/** What the simulated containers "logged": when each started and with which image. */
function podLog(pod: Pod, container: string | null): string {
  const statuses = pod.status?.containerStatuses ?? [];
  return statuses
    .filter((s) => !container || s.name === container)
    .map((s) => {
      const state = s.state as { running?: { startedAt?: string }; waiting?: { reason?: string } };
      return state.running
        ? `${state.running.startedAt ?? ''} container ${s.name} running ${s.image}\n`
        : `container ${s.name} (${s.image}) is ${state.waiting?.reason ?? 'not running'}\n`;
    })
    .join('');
}
