// A Kubernetes API server for tests: HTTPS with a bearer token, discovery and OpenAPI, CRUD with
// real patch semantics, watches, and simulated controllers (Deployments, StatefulSets, Jobs, ...).
// Real Helm 3/4 binaries and @kubernetes/client-node drive it like a small real cluster.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CrdController } from './controllers/crd.ts';
import { DaemonSetController } from './controllers/daemonset.ts';
import { DeploymentController } from './controllers/deployment.ts';
import { DisruptionController } from './controllers/disruption.ts';
import { EndpointsController } from './controllers/endpoints.ts';
import { GarbageCollector } from './controllers/gc.ts';
import { JobController } from './controllers/job.ts';
import { Kubelet, NODE_IP, NODE_NAME } from './controllers/kubelet.ts';
import { Context, ControllerManager, type Settings } from './controllers/manager.ts';
import { NamespaceController } from './controllers/namespace.ts';
import { ReplicaSetController } from './controllers/replicaset.ts';
import { StatefulSetController } from './controllers/statefulset.ts';
import { VolumeController } from './controllers/volumes.ts';
import { Faults } from './faults.ts';
import { renderKubeconfig } from './kubeconfig.ts';
import { type DeleteOptions, Objects } from './objects.ts';
import { RequestLog } from './requests.ts';
import { ResourceRegistry, type ResourceType } from './resources.ts';
import { parseFieldSelector, parseLabelSelector } from './selectors.ts';
import { ApiServer } from './server.ts';
import { Store } from './store.ts';
import { makeCertificates } from './tls.ts';
import type { KubeObject } from './types.ts';

export type { ErrorRule, Faults, LatencyRule, UnreadyReason } from './faults.ts';
export type { RequestFilter, RequestLog, RequestRecord } from './requests.ts';
export type { KubeObject } from './types.ts';

export interface TestClusterOptions {
  /** Reported by /version; e.g. `1.19.16` to test refusal of old clusters. Default `1.31.2`. */
  kubernetesVersion?: string;
  /** Delay before a new pod is ready (and before a Job pod completes). Default 100 ms. */
  rolloutMs?: number;
  /** How long a deleted pod stays Terminating. Default 50 ms. */
  terminationMs?: number;
  /** Interval between restarts of a crash-looping (unready) pod. Default 1000 ms. */
  crashLoopMs?: number;
  /** Namespaces to create besides the system ones; `default` always exists. */
  namespaces?: string[];
  /** kubeconfig names. The cluster and user names default to the context name, `test`. */
  contextName?: string;
  clusterName?: string;
  userName?: string;
  /** Namespace of the kubeconfig context. Default `default`. */
  namespace?: string;
  /** Interval of watch bookmarks when clients allow them. Default 5000 ms. */
  bookmarkMs?: number;
}

/** Quick reads and writes for tests, with the server's semantics but without HTTP. */
export interface ClusterObjects {
  /** `resource` is a kind, plural, short name or `plural.group`: `Deployment`, `pods`, `sts`. */
  get(resource: string, namespace: string | undefined, name: string): KubeObject | undefined;
  list(
    resource: string,
    options?: { namespace?: string; labelSelector?: string; fieldSelector?: string },
  ): KubeObject[];
  /** Creates an object; its type comes from `apiVersion` and `kind`. */
  create(object: KubeObject): KubeObject;
  /** Replaces an object (optimistic concurrency applies when it carries a resourceVersion). */
  update(object: KubeObject, options?: { subresource?: 'status' }): KubeObject;
  delete(
    resource: string,
    namespace: string | undefined,
    name: string,
    options?: DeleteOptions,
  ): void;
}

export interface CustomKind {
  group: string;
  kind: string;
  /** Served versions; the first is the storage version. */
  versions: string[];
  plural?: string;
  namespaced?: boolean;
  /** Serve a `/status` subresource. Default true. */
  statusSubresource?: boolean;
  shortNames?: string[];
}

export interface TestCluster {
  /** `https://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  readonly token: string;
  readonly caPem: string;
  readonly kubeconfigPath: string;
  readonly kubeconfigYaml: string;
  readonly kubernetesVersion: string;
  /** Scratch directory of this cluster (kubeconfig, tool homes); removed by stop(). */
  readonly dir: string;
  readonly faults: Faults;
  readonly requests: RequestLog;
  readonly store: ClusterObjects;
  setRolloutMs(ms: number): void;
  setTerminationMs(ms: number): void;
  /** Registers a kind through a CustomResourceDefinition and resolves once it is served. */
  registerCrd(kind: CustomKind): Promise<KubeObject>;
  /**
   * Environment for a tool run against this cluster: KUBECONFIG, and a fresh KUBECACHEDIR and
   * HELM_CACHE_HOME/HELM_CONFIG_HOME/HELM_DATA_HOME under this cluster's directory.
   */
  env(label?: string): Record<string, string>;
  /** Resolves when `predicate` holds, checking after every store change and every 25 ms. */
  waitFor(predicate: () => boolean, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

export async function startTestCluster(options: TestClusterOptions = {}): Promise<TestCluster> {
  const kubernetesVersion = (options.kubernetesVersion ?? '1.31.2').replace(/^v/, '');
  const gitVersion = `v${kubernetesVersion}`;
  const settings: Settings = {
    rolloutMs: options.rolloutMs ?? 100,
    terminationMs: options.terminationMs ?? 50,
    crashLoopMs: options.crashLoopMs ?? 1000,
  };
  const registry = new ResourceRegistry();
  const store = new Store();
  const objects = new Objects(store, registry);
  const certificates = await makeCertificates();
  const token = randomBytes(24).toString('hex');
  const requests = new RequestLog();
  let server: ApiServer | undefined;
  const faults = new Faults({
    down: async () => server?.close(),
    up: async () => server?.listen(),
  });
  server = new ApiServer({
    objects,
    faults,
    requests,
    certificates,
    token,
    gitVersion,
    bookmarkMs: options.bookmarkMs ?? 5000,
  });
  const context = new Context(objects, faults, settings);
  const manager = new ControllerManager(context, [
    new Kubelet(context),
    new ReplicaSetController(context),
    new DeploymentController(context),
    new StatefulSetController(context),
    new DaemonSetController(context),
    new JobController(context),
    new GarbageCollector(context),
    new NamespaceController(context, certificates.caPem),
    new VolumeController(context),
    new EndpointsController(context),
    new CrdController(context),
    new DisruptionController(context),
  ]);
  seed(objects, [...SYSTEM_NAMESPACES, ...(options.namespaces ?? [])], kubernetesVersion);
  await server.listen(0);

  const dir = mkdtempSync(join(tmpdir(), 'test-cluster-'));
  const contextName = options.contextName ?? 'test';
  const kubeconfigYaml = renderKubeconfig(server.url, certificates.caPem, token, {
    context: contextName,
    cluster: options.clusterName ?? contextName,
    user: options.userName ?? contextName,
    namespace: options.namespace ?? 'default',
  });
  const kubeconfigPath = join(dir, 'kubeconfig');
  writeFileSync(kubeconfigPath, kubeconfigYaml, { mode: 0o600 });

  const resolve = (resource: string): ResourceType => {
    const rt = registry.find(resource);
    if (!rt) throw new Error(`unknown resource ${resource}`);
    return rt;
  };
  const byObject = (object: KubeObject): ResourceType => {
    const rt = registry.byKind(object.apiVersion, object.kind);
    if (!rt) throw new Error(`unknown kind ${object.apiVersion} ${object.kind}`);
    return rt;
  };
  let envCount = 0;

  const cluster: TestCluster = {
    url: server.url,
    port: server.port,
    token,
    caPem: certificates.caPem,
    kubeconfigPath,
    kubeconfigYaml,
    kubernetesVersion,
    dir,
    faults,
    requests,
    store: {
      get: (resource, namespace, name) => store.get(resolve(resource), namespace, name),
      list: (resource, listOptions = {}) => {
        const rt = resolve(resource);
        return objects.list(rt, {
          namespace: listOptions.namespace,
          labelSelector: parseLabelSelector(listOptions.labelSelector),
          fieldSelector: parseFieldSelector(rt, listOptions.fieldSelector),
        });
      },
      create: (object) => objects.create(byObject(object), object.metadata.namespace, object),
      update: (object, updateOptions = {}) =>
        objects.update(
          byObject(object),
          object.metadata.namespace,
          object.metadata.name ?? '',
          object,
          updateOptions,
        ),
      delete: (resource, namespace, name, deleteOptions = {}) => {
        objects.delete(resolve(resource), namespace, name, deleteOptions);
      },
    },
    setRolloutMs: (ms) => {
      settings.rolloutMs = ms;
    },
    setTerminationMs: (ms) => {
      settings.terminationMs = ms;
    },
    async registerCrd(kind) {
      const plural = kind.plural ?? `${kind.kind.toLowerCase()}s`;
      const crdType = resolve('customresourcedefinitions');
      const crd = objects.create(crdType, undefined, {
        metadata: { name: `${plural}.${kind.group}` },
        spec: {
          group: kind.group,
          scope: kind.namespaced === false ? 'Cluster' : 'Namespaced',
          names: {
            plural,
            singular: kind.kind.toLowerCase(),
            kind: kind.kind,
            listKind: `${kind.kind}List`,
            ...(kind.shortNames ? { shortNames: kind.shortNames } : {}),
          },
          versions: kind.versions.map((name, i) => ({
            name,
            served: true,
            storage: i === 0,
            schema: {
              openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
            },
            ...(kind.statusSubresource === false ? {} : { subresources: { status: {} } }),
          })),
        },
      });
      await cluster.waitFor(() => registry.find(`${plural}.${kind.group}`) !== undefined);
      return store.get(crdType, undefined, crd.metadata.name ?? '') ?? crd;
    },
    env(label) {
      const home = join(
        dir,
        `env-${++envCount}${label ? `-${label.replace(/[^\w.-]/g, '_')}` : ''}`,
      );
      const paths = {
        KUBECACHEDIR: join(home, 'kube-cache'),
        HELM_CACHE_HOME: join(home, 'helm-cache'),
        HELM_CONFIG_HOME: join(home, 'helm-config'),
        HELM_DATA_HOME: join(home, 'helm-data'),
      };
      for (const path of Object.values(paths)) mkdirSync(path, { recursive: true });
      return { KUBECONFIG: kubeconfigPath, ...paths };
    },
    waitFor(predicate, timeoutMs = 10_000) {
      if (predicate()) return Promise.resolve();
      return new Promise((resolvePromise, reject) => {
        const finish = (error?: Error) => {
          clearTimeout(timer);
          clearInterval(interval);
          unsubscribe();
          if (error) reject(error);
          else resolvePromise();
        };
        const timer = setTimeout(
          () => finish(new Error(`test cluster: condition not met within ${timeoutMs} ms`)),
          timeoutMs,
        );
        // Store changes trigger a check at once (after the write completes); the interval catches
        // conditions on client-side state, such as what a watch or informer has received.
        const check = () => {
          if (predicate()) finish();
        };
        const interval = setInterval(check, 25);
        const unsubscribe = store.subscribe(() => setImmediate(check));
      });
    },
    async stop() {
      manager.stop();
      context.stop();
      // Forget the server first, so a later faults.up() cannot bring it back.
      const stopping = server;
      server = undefined;
      await stopping?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return cluster;
}

/** What a fresh cluster holds: namespaces, its node, a default StorageClass, the kubernetes Service. */
function seed(objects: Objects, namespaces: string[], kubernetesVersion: string): void {
  const type = (name: string) => {
    const rt = objects.registry.find(name);
    if (!rt) throw new Error(`unknown resource ${name}`);
    return rt;
  };
  for (const name of new Set(namespaces))
    objects.create(type('namespaces'), undefined, { metadata: { name } });
  const node = objects.create(type('nodes'), undefined, {
    metadata: {
      name: NODE_NAME,
      labels: {
        'kubernetes.io/hostname': NODE_NAME,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'node-role.kubernetes.io/control-plane': '',
      },
    },
    spec: { podCIDR: '10.244.0.0/24', podCIDRs: ['10.244.0.0/24'] },
  });
  objects.update(
    type('nodes'),
    undefined,
    NODE_NAME,
    {
      ...node,
      status: {
        capacity: { cpu: '8', memory: '32Gi', pods: '250', 'ephemeral-storage': '100Gi' },
        allocatable: { cpu: '8', memory: '32Gi', pods: '250', 'ephemeral-storage': '100Gi' },
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'KubeletReady',
            message: 'kubelet is posting ready status',
          },
        ],
        addresses: [
          { type: 'InternalIP', address: NODE_IP },
          { type: 'Hostname', address: NODE_NAME },
        ],
        nodeInfo: {
          kubeletVersion: `v${kubernetesVersion}`,
          kubeProxyVersion: `v${kubernetesVersion}`,
          containerRuntimeVersion: 'containerd://1.7.18',
          operatingSystem: 'linux',
          architecture: 'amd64',
          osImage: 'Debian GNU/Linux 12 (bookworm)',
          kernelVersion: '6.1.0',
        },
      },
    },
    { subresource: 'status' },
  );
  objects.create(type('storageclasses'), undefined, {
    metadata: {
      name: 'standard',
      annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' },
    },
    provisioner: 'test.local/hostpath',
    reclaimPolicy: 'Delete',
    volumeBindingMode: 'Immediate',
  });
  objects.create(type('services'), 'default', {
    metadata: { name: 'kubernetes', labels: { component: 'apiserver', provider: 'kubernetes' } },
    spec: { clusterIP: '10.96.0.1', ports: [{ name: 'https', port: 443, targetPort: 6443 }] },
  });
}
