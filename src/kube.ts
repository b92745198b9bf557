// The Kubernetes API as the action uses it: kubeconfig loading (secrets masked), reads that
// survive transient errors, and waiting on pods with a watch instead of polling.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import * as core from '@actions/core';
import {
  ApiException,
  AppsV1Api,
  AuthorizationV1Api,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  PortForward,
  setHeaderOptions,
  type V1Deployment,
  type V1Pod,
  VersionApi,
  Watch,
} from '@kubernetes/client-node';
import { HELD_ANNOTATION } from './milvus.ts';

export interface KubeTarget {
  /** Kubeconfig contents from the input; undefined: KUBECONFIG or ~/.kube/config. */
  kubeconfig: string | undefined;
  context: string | undefined;
  /** Where a private copy of an inline kubeconfig is written for Helm. */
  tempDir: string;
}

/** Enough to ride out a few seconds of a flapping API server. */
const RETRIES = 8;

/** Errors worth another try: the server or the network had a moment, not a refusal. */
function transient(error: unknown): boolean {
  if (error instanceof ApiException) return error.code === 429 || error.code >= 500;
  const text = `${(error as Error)?.message} ${String((error as { cause?: unknown })?.cause)}`;
  return /ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|socket|fetch failed|other side closed|terminated/i.test(
    text,
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Who asks, where, and with which kubeconfig: what an API error message names. */
interface Caller {
  server: string;
  /** The kubeconfig user entry (a name, never its credentials). */
  user: string;
  /** Where the kubeconfig came from. */
  source: string;
}

/** The API server's own `Status` message, when it sent one (it names verb, resource, user). */
function statusMessage(error: ApiException<unknown>): string | undefined {
  try {
    const body: unknown = typeof error.body === 'string' ? JSON.parse(error.body) : error.body;
    const message = (body as { message?: unknown } | undefined)?.message;
    return typeof message === 'string' ? message : undefined;
  } catch {
    return undefined;
  }
}

/** A failed API request in words; `code` is the HTTP status, undefined when none came back. */
export class KubeApiError extends Error {
  readonly code: number | undefined;
  /** The API server's own `Status` message, when it sent one. */
  readonly serverMessage: string | undefined;
  constructor(message: string, code: number | undefined, serverMessage?: string) {
    super(message);
    this.name = 'KubeApiError';
    this.code = code;
    this.serverMessage = serverMessage;
  }
}

/** A failed API request in words: what was asked, of which server, as whom, and what to do. */
export function describeApiError(
  error: unknown,
  what: string,
  caller: Caller,
  tries: number,
): KubeApiError {
  const where = `the Kubernetes API server ${caller.server}`;
  const config = `the kubeconfig (${caller.source}, user ${caller.user || 'unnamed'})`;
  if (error instanceof ApiException) {
    const said = statusMessage(error);
    if (error.code === 401) {
      return new KubeApiError(
        `${where} rejected the credentials of ${config} (401 Unauthorized) while ${what}: a token or certificate in it is invalid or has expired. Refresh the kubeconfig secret (or the step that writes it) and re-run.`,
        401,
        said,
      );
    }
    if (error.code === 403) {
      return new KubeApiError(
        `${where} denied ${what} to ${config} (403 Forbidden)${said ? `: ${said}` : ''}. Grant the missing permission (the README lists the Role the action needs) and re-run.`,
        403,
        said,
      );
    }
    return new KubeApiError(
      `${where} answered HTTP ${error.code} while ${what}${tries > 1 ? `, ${tries} times in a row` : ''}${said ? `: ${said}` : ''}. Check the health of the API server, then re-run.`,
      error.code,
      said,
    );
  }
  const cause = (error as { cause?: { code?: unknown; message?: unknown } })?.cause;
  const reason =
    typeof cause?.code === 'string'
      ? cause.code
      : typeof cause?.message === 'string'
        ? cause.message
        : (error as Error)?.message;
  return new KubeApiError(
    `Cannot reach ${where} (${reason}) while ${what}, after ${tries} ${tries > 1 ? 'tries' : 'try'}; it comes from ${config}. Check that the runner can reach that address (VPN, firewall, private endpoint) and that kube-context names the right cluster.`,
    undefined,
  );
}

/**
 * Runs a read, retrying transient failures with a short exponential backoff; the last failure
 * is described for the user.
 */
async function withRetry<T>(what: string, caller: Caller, read: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (error) {
      if (attempt >= RETRIES || !transient(error)) {
        if (error instanceof ApiException && error.code === 404) throw error;
        throw describeApiError(error, what, caller, attempt);
      }
      core.debug(`${what}: attempt ${attempt} failed (${(error as Error).message}); retrying`);
      await sleep(Math.min(200 * 2 ** attempt, 3000));
    }
  }
}

/** Every credential a kubeconfig user can carry, so the runner masks it in all later output. */
function maskSecrets(config: KubeConfig): void {
  for (const user of config.users) {
    const secrets: unknown[] = [user.token, user.password, user.keyData, user.certData];
    for (const value of Object.values(user.authProvider?.config ?? {})) secrets.push(value);
    for (const entry of user.exec?.env ?? []) secrets.push(entry?.value);
    for (const secret of secrets) {
      if (typeof secret === 'string' && secret.length >= 6) core.setSecret(secret);
    }
  }
}

export class Kube {
  readonly config: KubeConfig;
  /** Environment that points Helm at the same cluster and context. */
  readonly helmEnv: Record<string, string>;
  private readonly privateDir: string | undefined;
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;

  private readonly caller: Caller;

  private constructor(
    config: KubeConfig,
    helmEnv: Record<string, string>,
    source: string,
    privateDir?: string,
  ) {
    this.config = config;
    this.caller = {
      server: config.getCurrentCluster()?.server ?? '',
      user: config.getCurrentUser()?.name ?? '',
      source,
    };
    this.helmEnv = helmEnv;
    this.privateDir = privateDir;
    this.core = config.makeApiClient(CoreV1Api);
    this.apps = config.makeApiClient(AppsV1Api);
  }

  /** Loads the kubeconfig, masks its secrets and selects the context. */
  static load(target: KubeTarget): Kube {
    const config = new KubeConfig();
    const helmEnv: Record<string, string> = {};
    let privateDir: string | undefined;
    if (target.kubeconfig) {
      try {
        config.loadFromString(target.kubeconfig);
      } catch (error) {
        throw new Error(
          `The kubeconfig input is not a valid kubeconfig (${(error as Error).name}). Pass the whole kubeconfig file contents, for example from a secret.`,
        );
      }
      maskSecrets(config);
    } else {
      const files = (process.env.KUBECONFIG ?? '').split(':').filter(Boolean);
      const fallback = join(homedir(), '.kube', 'config');
      if (!files.some((file) => existsSync(file)) && !existsSync(fallback)) {
        throw new Error(
          'No kubeconfig found: the kubeconfig input is empty, KUBECONFIG names no existing file, and ~/.kube/config does not exist. Pass the kubeconfig input, or run a step such as azure/k8s-set-context, aws eks update-kubeconfig or google-github-actions/get-gke-credentials first.',
        );
      }
      config.loadFromDefault();
      maskSecrets(config);
      if (process.env.KUBECONFIG) helmEnv.KUBECONFIG = process.env.KUBECONFIG;
    }
    if (target.context) {
      const names = config.getContexts().map((context) => context.name);
      if (!names.includes(target.context)) {
        throw new Error(
          `The kubeconfig has no context '${target.context}'; it has: ${names.join(', ') || 'none'}. Set kube-context to one of them, or leave it empty for the current context.`,
        );
      }
      config.setCurrentContext(target.context);
      helmEnv.HELM_KUBECONTEXT = target.context;
    }
    if (!config.getCurrentCluster()) {
      throw new Error(
        'The kubeconfig has no current context with a cluster. Set kube-context, or fix the kubeconfig.',
      );
    }
    // Written only once the kubeconfig is known to be usable, so a refusal leaves no copy of
    // the credentials behind.
    if (target.kubeconfig) {
      privateDir = mkdtempSync(join(target.tempDir, 'milvus-upgrade-'));
      const path = join(privateDir, 'kubeconfig');
      writeFileSync(path, target.kubeconfig, { mode: 0o600 });
      helmEnv.KUBECONFIG = path;
    }
    const source = target.kubeconfig
      ? 'the kubeconfig input'
      : process.env.KUBECONFIG
        ? `KUBECONFIG=${process.env.KUBECONFIG}`
        : '~/.kube/config';
    return new Kube(config, helmEnv, source, privateDir);
  }

  get server(): string {
    return this.config.getCurrentCluster()?.server ?? '';
  }

  /** Removes the private kubeconfig copy, if one was written. */
  dispose(): void {
    if (this.privateDir) rmSync(this.privateDir, { recursive: true, force: true });
  }

  async serverVersion(): Promise<string> {
    const info = await withRetry('reading the server version', this.caller, () =>
      this.config.makeApiClient(VersionApi).getCode(),
    );
    return info.gitVersion;
  }

  /** True or false; undefined when the credentials may not read namespaces (RBAC). */
  async namespaceExists(namespace: string): Promise<boolean | undefined> {
    try {
      await withRetry(`reading the namespace ${namespace}`, this.caller, () =>
        this.core.readNamespace({ name: namespace }),
      );
      return true;
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return false;
      if (error instanceof KubeApiError && error.code === 403) return undefined;
      throw error;
    }
  }

  /**
   * Asks the API server whether a StatefulSet may take `spec` (a server-side dry run of a merge
   * patch, which changes nothing): the server's reason when it refuses, undefined when it takes
   * it or the StatefulSet does not exist yet.
   */
  async refusedStatefulSetUpdate(
    namespace: string,
    name: string,
    spec: Record<string, unknown>,
  ): Promise<string | undefined> {
    try {
      await withRetry(`checking an update of the StatefulSet ${name}`, this.caller, () =>
        this.apps.patchNamespacedStatefulSet(
          { namespace, name, body: { spec }, dryRun: 'All' },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        ),
      );
      return undefined;
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return undefined;
      if (error instanceof KubeApiError && error.code === 422) {
        return error.serverMessage ?? error.message;
      }
      throw error;
    }
  }

  /**
   * Asks the API server whether Helm's server-side apply of `object` (a Deployment or StatefulSet
   * as the chart renders it) would conflict with fields another manager owns: a dry run, which
   * changes nothing. The server's reason when it would, undefined when it would not.
   */
  async applyConflict(
    namespace: string,
    object: Record<string, unknown>,
  ): Promise<string | undefined> {
    const name = String((object.metadata as { name?: unknown } | undefined)?.name);
    const params = {
      namespace,
      name,
      body: object,
      dryRun: 'All',
      fieldManager: 'helm',
      force: false,
    };
    const header = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
    try {
      await withRetry(`checking Helm's apply of ${object.kind}/${name}`, this.caller, () =>
        object.kind === 'StatefulSet'
          ? this.apps.patchNamespacedStatefulSet(params, header)
          : this.apps.patchNamespacedDeployment(params, header),
      );
      return undefined;
    } catch (error) {
      if (error instanceof KubeApiError && error.code === 409) {
        return error.serverMessage ?? error.message;
      }
      throw error;
    }
  }

  async deployments(namespace: string, labelSelector: string): Promise<V1Deployment[]> {
    const list = await withRetry(`listing deployments in ${namespace}`, this.caller, () =>
      this.apps.listNamespacedDeployment({ namespace, labelSelector }),
    );
    return list.items;
  }

  async pods(namespace: string, labelSelector: string): Promise<V1Pod[]> {
    const list = await withRetry(`listing pods in ${namespace}`, this.caller, () =>
      this.core.listNamespacedPod({ namespace, labelSelector }),
    );
    return list.items;
  }

  /**
   * Resolves with the pods once `done(pods)` holds, following changes with a watch (re-listing
   * whenever the watch ends). Rejects with the last pods seen when `timeoutMs` passes.
   */
  waitForPods(
    namespace: string,
    labelSelector: string,
    done: (pods: V1Pod[]) => boolean,
    timeoutMs: number,
  ): Promise<V1Pod[]> {
    return this.waitFor(
      `/api/v1/namespaces/${namespace}/pods`,
      () => this.core.listNamespacedPod({ namespace, labelSelector }),
      `listing pods in ${namespace}`,
      labelSelector,
      done,
      timeoutMs,
    );
  }

  /** As `waitForPods`, for Deployments. */
  waitForDeployments(
    namespace: string,
    labelSelector: string,
    done: (deployments: V1Deployment[]) => boolean,
    timeoutMs: number,
  ): Promise<V1Deployment[]> {
    return this.waitFor(
      `/apis/apps/v1/namespaces/${namespace}/deployments`,
      () => this.apps.listNamespacedDeployment({ namespace, labelSelector }),
      `listing deployments in ${namespace}`,
      labelSelector,
      done,
      timeoutMs,
    );
  }

  /** Whether the kubeconfig's user may `verb` `resource` in `namespace` (the API server's answer). */
  async allowed(namespace: string, verb: string, resource: string): Promise<boolean> {
    const [name, subresource] = resource.split('/');
    const review = await withRetry(`asking whether it may ${verb} ${resource}`, this.caller, () =>
      this.config.makeApiClient(AuthorizationV1Api).createSelfSubjectAccessReview({
        body: {
          spec: { resourceAttributes: { namespace, verb, resource: name, subresource } },
        },
      }),
    );
    return review.status?.allowed === true;
  }

  /**
   * Listens on a free port of 127.0.0.1 and carries each connection to `port` of the pod through
   * the API server (one WebSocket per connection), as `kubectl port-forward` does.
   */
  async forwardPort(namespace: string, pod: string, port: number): Promise<Forward> {
    const forward = new PortForward(this.config);
    const sockets = new Set<Socket>();
    let errors = '';
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      const stderr = new Writable({
        write(chunk: Buffer, _encoding, done) {
          errors = `${errors}${chunk.toString('utf8')}`.slice(-1000);
          done();
        },
      });
      forward
        .portForward(namespace, pod, [port], socket, stderr, socket)
        .then((ws) => {
          const open = typeof ws === 'function' ? ws() : ws;
          open?.on('close', () => socket.destroy());
          socket.on('close', () => open?.close());
        })
        .catch((error: unknown) => {
          errors = `${errors}${error instanceof Error ? error.message : String(error)}`;
          socket.destroy();
        });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const { port: local } = server.address() as { port: number };
    return {
      address: `127.0.0.1:${local}`,
      errors: () => errors.trim(),
      close: () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          server.close(() => resolve());
        }),
    };
  }

  /**
   * Holds a Deployment (`spec.paused`, which Helm's merge leaves in place) with an annotation
   * that says why, or releases it again; a merge patch touches nothing else.
   */
  async setHeld(namespace: string, name: string, heldFor: string | undefined): Promise<void> {
    const body = {
      metadata: { annotations: { [HELD_ANNOTATION]: heldFor ?? null } },
      spec: { paused: heldFor === undefined ? null : true },
    };
    await withRetry(`${heldFor ? 'pausing' : 'resuming'} the Deployment ${name}`, this.caller, () =>
      this.apps.patchNamespacedDeployment(
        { namespace, name, body },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
    );
  }

  private async waitFor<T extends { metadata?: { name?: string } }>(
    path: string,
    list: () => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>,
    what: string,
    labelSelector: string,
    done: (items: T[]) => boolean,
    timeoutMs: number,
  ): Promise<T[]> {
    const deadline = Date.now() + timeoutMs;
    const watch = new Watch(this.config);
    let items = new Map<string, T>();
    for (;;) {
      const listed = await withRetry(what, this.caller, list);
      items = new Map(listed.items.map((item) => [item.metadata?.name ?? '', item]));
      if (done([...items.values()])) return [...items.values()];
      if (Date.now() >= deadline) throw new WaitTimeout([...items.values()]);
      const outcome = await new Promise<'done' | 'ended' | 'timeout'>((resolve) => {
        let controller: AbortController | undefined;
        let finished = false;
        const finish = (result: 'done' | 'ended' | 'timeout') => {
          if (finished) return;
          finished = true;
          clearTimeout(timer);
          controller?.abort();
          resolve(result);
        };
        const timer = setTimeout(() => finish('timeout'), deadline - Date.now());
        watch
          .watch(
            path,
            {
              labelSelector,
              resourceVersion: listed.metadata?.resourceVersion,
              allowWatchBookmarks: true,
            },
            (type, item: T) => {
              const name = item.metadata?.name ?? '';
              if (type === 'ADDED' || type === 'MODIFIED') items.set(name, item);
              else if (type === 'DELETED') items.delete(name);
              else return;
              if (done([...items.values()])) finish('done');
            },
            () => finish('ended'),
          )
          .then((c) => {
            controller = c;
            if (finished) c.abort();
          })
          .catch(() => finish('ended'));
      });
      if (outcome === 'done') return [...items.values()];
      if (outcome === 'timeout') throw new WaitTimeout([...items.values()]);
      // The watch ended (server timeout, expired resourceVersion, network): list again.
      await sleep(200);
    }
  }
}

/** A local end of a port-forward; `errors` is what the API server said on its error stream. */
export interface Forward {
  address: string;
  errors(): string;
  close(): Promise<void>;
}

/** The wait ran out; carries the objects as last seen so the error can name them. */
export class WaitTimeout<T> extends Error {
  readonly items: T[];
  constructor(items: T[]) {
    super('Timed out waiting');
    this.name = 'WaitTimeout';
    this.items = items;
  }
}
