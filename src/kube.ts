// The Kubernetes API as the action uses it: kubeconfig loading (secrets masked), reads that
// survive transient errors, and waiting on pods with a watch instead of polling.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as core from '@actions/core';
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  type V1Deployment,
  type V1Pod,
  VersionApi,
  Watch,
} from '@kubernetes/client-node';

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

/** Runs a read, retrying transient failures with a short exponential backoff. */
export async function withRetry<T>(what: string, read: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (error) {
      if (attempt >= RETRIES || !transient(error)) throw error;
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

  private constructor(config: KubeConfig, helmEnv: Record<string, string>, privateDir?: string) {
    this.config = config;
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
    return new Kube(config, helmEnv, privateDir);
  }

  get server(): string {
    return this.config.getCurrentCluster()?.server ?? '';
  }

  /** Removes the private kubeconfig copy, if one was written. */
  dispose(): void {
    if (this.privateDir) rmSync(this.privateDir, { recursive: true, force: true });
  }

  async serverVersion(): Promise<string> {
    const info = await withRetry('server version', () =>
      this.config.makeApiClient(VersionApi).getCode(),
    );
    return info.gitVersion;
  }

  /** True or false; undefined when the credentials may not read namespaces (RBAC). */
  async namespaceExists(namespace: string): Promise<boolean | undefined> {
    try {
      await withRetry('namespace', () => this.core.readNamespace({ name: namespace }));
      return true;
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return false;
      if (error instanceof ApiException && error.code === 403) return undefined;
      throw error;
    }
  }

  async deployments(namespace: string, labelSelector: string): Promise<V1Deployment[]> {
    const list = await withRetry('list deployments', () =>
      this.apps.listNamespacedDeployment({ namespace, labelSelector }),
    );
    return list.items;
  }

  async pods(namespace: string, labelSelector: string): Promise<V1Pod[]> {
    const list = await withRetry('list pods', () =>
      this.core.listNamespacedPod({ namespace, labelSelector }),
    );
    return list.items;
  }

  /**
   * Resolves with the pods once `done(pods)` holds, following changes with a watch (re-listing
   * whenever the watch ends). Rejects with the last pods seen when `timeoutMs` passes.
   */
  async waitForPods(
    namespace: string,
    labelSelector: string,
    done: (pods: V1Pod[]) => boolean,
    timeoutMs: number,
  ): Promise<V1Pod[]> {
    const deadline = Date.now() + timeoutMs;
    const watch = new Watch(this.config);
    let pods = new Map<string, V1Pod>();
    for (;;) {
      const list = await withRetry('list pods', () =>
        this.core.listNamespacedPod({ namespace, labelSelector }),
      );
      pods = new Map(list.items.map((pod) => [pod.metadata?.name ?? '', pod]));
      if (done([...pods.values()])) return [...pods.values()];
      if (Date.now() >= deadline) throw new PodWaitTimeout([...pods.values()]);
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
            `/api/v1/namespaces/${namespace}/pods`,
            {
              labelSelector,
              resourceVersion: list.metadata?.resourceVersion,
              allowWatchBookmarks: true,
            },
            (type, pod: V1Pod) => {
              const name = pod.metadata?.name ?? '';
              if (type === 'ADDED' || type === 'MODIFIED') pods.set(name, pod);
              else if (type === 'DELETED') pods.delete(name);
              else return;
              if (done([...pods.values()])) finish('done');
            },
            () => finish('ended'),
          )
          .then((c) => {
            controller = c;
            if (finished) c.abort();
          })
          .catch(() => finish('ended'));
      });
      if (outcome === 'done') return [...pods.values()];
      if (outcome === 'timeout') throw new PodWaitTimeout([...pods.values()]);
      // The watch ended (server timeout, expired resourceVersion, network): list again.
      await sleep(200);
    }
  }
}

/** The wait ran out; carries the pods as last seen so the error can name them. */
export class PodWaitTimeout extends Error {
  readonly pods: V1Pod[];
  constructor(pods: V1Pod[]) {
    super('Timed out waiting for pods');
    this.name = 'PodWaitTimeout';
    this.pods = pods;
  }
}
