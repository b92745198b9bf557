// The test harness's own client of the real API server: plain HTTPS requests, resource names
// resolved through discovery, and the quick reads and writes tests make (`store`).
import { request } from 'node:https';

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  [key: string]: unknown;
}

/** A Kubernetes object, loosely: unknown fields pass through untouched. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

/** An API error answer: the HTTP status and the server's `Status` object. */
export class ApiError extends Error {
  readonly code: number;
  readonly status: { reason?: string; message?: string };

  constructor(code: number, status: { reason?: string; message?: string }, what: string) {
    super(`${what}: ${code} ${status.reason ?? ''} ${status.message ?? ''}`.trim());
    this.code = code;
    this.status = status;
  }
}

export type Api = <T = unknown>(
  method: string,
  path: string,
  body?: unknown,
  contentType?: string,
) => Promise<T>;

/** Requests to `url` with a bearer token; answers are parsed JSON (text when not JSON). */
export function apiClient(url: string, caPem: string, token: string): Api {
  return (method, path, body, contentType = 'application/json') => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        new URL(path, url),
        {
          method,
          ca: caPem,
          agent: false,
          headers: {
            authorization: `Bearer ${token}`,
            accept: 'application/json',
            'user-agent': 'control-plane-harness',
            // Explicit length: Node sends a DELETE body unframed otherwise, and it is lost.
            ...(payload !== undefined && {
              'content-type': contentType,
              'content-length': Buffer.byteLength(payload),
            }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = JSON.parse(text);
            } catch {
              // Plain text, such as /healthz.
            }
            const code = res.statusCode ?? 0;
            if (code >= 300) reject(new ApiError(code, parsed as object, `${method} ${path}`));
            else resolve(parsed as never);
          });
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  };
}

export interface ResourceInfo {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  /** Collection path in `namespace` (ignored for cluster-scoped resources). */
  path(namespace?: string, name?: string): string;
}

interface ApiResourceList {
  groupVersion: string;
  resources: {
    name: string;
    singularName?: string;
    namespaced: boolean;
    kind: string;
    shortNames?: string[];
  }[];
}

/** Resource types by kind, plural, singular, short name or `plural.group`, from discovery. */
export class Resources {
  #all: ResourceInfo[] = [];
  #names = new Map<string, ResourceInfo>();
  readonly #api: Api;

  constructor(api: Api) {
    this.#api = api;
  }

  async find(resource: string): Promise<ResourceInfo> {
    const key = resource.toLowerCase();
    if (!this.#names.has(key)) await this.refresh();
    const found = this.#names.get(key);
    if (!found) throw new Error(`unknown resource ${resource}`);
    return found;
  }

  async byKind(apiVersion: string, kind: string): Promise<ResourceInfo> {
    const match = () =>
      this.#all.find(
        (r) => (r.group ? `${r.group}/${r.version}` : r.version) === apiVersion && r.kind === kind,
      );
    if (!match()) await this.refresh();
    const found = match();
    if (!found) throw new Error(`unknown kind ${apiVersion} ${kind}`);
    return found;
  }

  /** Reads discovery again (after a CustomResourceDefinition was added). */
  async refresh(): Promise<void> {
    const groups = await this.#api<{
      groups: {
        preferredVersion: { groupVersion: string };
        versions: { groupVersion: string }[];
      }[];
    }>('GET', '/apis');
    // Every version, the preferred one first: names resolve to it, as for kubectl.
    const groupVersions = groups.groups.flatMap((g) => [
      g.preferredVersion.groupVersion,
      ...g.versions.map((v) => v.groupVersion).filter((v) => v !== g.preferredVersion.groupVersion),
    ]);
    const lists = await Promise.all([
      this.#api<ApiResourceList>('GET', '/api/v1'),
      ...groupVersions.map((gv) => this.#api<ApiResourceList>('GET', `/apis/${gv}`)),
    ]);
    this.#all = [];
    this.#names = new Map();
    // Core first, so that `events` means v1 Events as for kubectl.
    for (const list of lists) {
      const [group, version] = list.groupVersion.includes('/')
        ? (list.groupVersion.split('/') as [string, string])
        : ['', list.groupVersion];
      for (const r of list.resources) {
        if (r.name.includes('/')) continue; // Subresources.
        const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
        const info: ResourceInfo = {
          group,
          version,
          kind: r.kind,
          plural: r.name,
          namespaced: r.namespaced,
          path: (namespace, name) =>
            `${base}${r.namespaced && namespace ? `/namespaces/${namespace}` : ''}/${r.name}${name ? `/${name}` : ''}`,
        };
        this.#all.push(info);
        const names = [r.kind, r.name, r.singularName, ...(r.shortNames ?? [])];
        if (group) names.push(`${r.name}.${group}`);
        for (const name of names) {
          if (name && !this.#names.has(name.toLowerCase()))
            this.#names.set(name.toLowerCase(), info);
        }
      }
    }
  }
}

export interface DeleteOptions {
  dryRun?: boolean;
  propagationPolicy?: string;
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
}

/** Quick reads and writes through the API, by kind, plural, short name or `plural.group`. */
export interface ClusterObjects {
  get(
    resource: string,
    namespace: string | undefined,
    name: string,
  ): Promise<KubeObject | undefined>;
  list(
    resource: string,
    options?: { namespace?: string; labelSelector?: string; fieldSelector?: string },
  ): Promise<KubeObject[]>;
  create(object: KubeObject): Promise<KubeObject>;
  update(object: KubeObject, options?: { subresource?: 'status' }): Promise<KubeObject>;
  delete(
    resource: string,
    namespace: string | undefined,
    name: string,
    options?: DeleteOptions,
  ): Promise<void>;
  /** Server-side apply (forced), as `kubectl apply --server-side --force-conflicts`. */
  apply(object: KubeObject): Promise<KubeObject>;
}

export function clusterObjects(api: Api, resources: Resources): ClusterObjects {
  const of = (object: KubeObject) => resources.byKind(object.apiVersion, object.kind);
  return {
    async get(resource, namespace, name) {
      const type = await resources.find(resource);
      try {
        return await api<KubeObject>('GET', type.path(namespace, name));
      } catch (error) {
        if (error instanceof ApiError && error.code === 404) return undefined;
        throw error;
      }
    },
    async list(resource, options = {}) {
      const type = await resources.find(resource);
      const query = new URLSearchParams();
      if (options.labelSelector) query.set('labelSelector', options.labelSelector);
      if (options.fieldSelector) query.set('fieldSelector', options.fieldSelector);
      const path = `${type.path(options.namespace)}${query.size ? `?${query}` : ''}`;
      return (await api<{ items: KubeObject[] }>('GET', path)).items;
    },
    async create(object) {
      return api<KubeObject>('POST', (await of(object)).path(object.metadata.namespace), object);
    },
    async update(object, options = {}) {
      const type = await of(object);
      const path = type.path(object.metadata.namespace, object.metadata.name);
      return api<KubeObject>(
        'PUT',
        options.subresource ? `${path}/${options.subresource}` : path,
        object,
      );
    },
    async delete(resource, namespace, name, options = {}) {
      const type = await resources.find(resource);
      const { dryRun, ...rest } = options;
      const body = {
        kind: 'DeleteOptions',
        apiVersion: 'v1',
        ...rest,
        ...(dryRun && { dryRun: ['All'] }),
      };
      await api('DELETE', type.path(namespace, name), body);
    },
    async apply(object) {
      const type = await of(object);
      const path = type.path(object.metadata.namespace, object.metadata.name);
      const query = 'fieldManager=control-plane-harness&force=true&fieldValidation=Strict';
      return api<KubeObject>('PATCH', `${path}?${query}`, object, 'application/apply-patch+yaml');
    },
  };
}
