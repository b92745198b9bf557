// Starts a real Kubernetes control plane for tests: etcd, kube-apiserver (TLS, static tokens,
// RBAC, service-account keys, an audit log), kube-controller-manager, kube-scheduler, and KWOK
// playing the kubelet of fake Nodes through the Stages in ./stages.ts. Clients reach it through
// Toxiproxy (connection faults) and, when a test claims another release, a proxy that rewrites
// /version. The end-to-end tests, the sandbox, the demo and the benchmark run on it. Binaries
// come from ./build.ts.
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  appendFileSync,
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  type Api,
  apiClient,
  type ClusterObjects,
  clusterObjects,
  type KubeObject,
  Resources,
} from './api.ts';
import { AuditLog, auditFlags, auditPolicy } from './audit.ts';
import { controlPlaneBinaries } from './build.ts';
import { FlowControlFaults, type Rejection, type RejectRule } from './flow-control.ts';
import { PodFaults } from './pod-faults.ts';
import {
  type ConnectionFaults,
  startVersionProxy,
  toxiproxyConfig,
  toxiproxyFaults,
  type VersionProxy,
} from './proxies.ts';
import { kubeconfigYaml, serviceAccountKubeconfig } from './service-account.ts';
import { FAKE_NODE_ANNOTATION, PROVISIONER, STORAGE_CLASS, type UnreadyReason } from './stages.ts';
import { makeCertificates } from './tls.ts';

export type { ClusterObjects, KubeObject } from './api.ts';
export type { AuditFilter, AuditRecord } from './audit.ts';
export type { Rejection, RejectRule } from './flow-control.ts';
export type { UnreadyReason } from './stages.ts';

export interface ControlPlaneOptions {
  /** Fake Nodes to create (default 1). */
  nodes?: number;
  /** How long a scheduled pod takes to become Ready, and a Job's pod to complete (default 100 ms). */
  rolloutMs?: number;
  /** Interval between the restarts of a crash-looping pod (default 1000 ms). */
  crashLoopMs?: number;
  /**
   * Remove terminating pods only when their grace period ends (default false: at once, as a
   * Milvus process that exits on SIGTERM is gone in about a second; KWOK pods have no process).
   */
  honorGracePeriod?: boolean;
  /** Namespaces to create besides default, kube-system, kube-public, kube-node-lease. */
  namespaces?: string[];
  /**
   * The release to claim, e.g. `1.19.16`: clients then get this from /version (through a proxy)
   * and Nodes report it as their kubelet version. The API itself stays the real one's.
   */
  kubernetesVersion?: string;
  /** Give up starting after this long (default 120 s). */
  timeoutMs?: number;
}

export interface ControlPlaneFaults extends ConnectionFaults {
  /**
   * Pods matching `labelSelector` never become ready: `CrashLoopBackOff` (default: container
   * waiting, restartCount growing every crashLoopMs; a `restartPolicy: Never` pod fails),
   * `ImagePullBackOff` (pending) or `NotReady` (running, Ready=False). Resolves once the pods it
   * selects show it; later pods show it as they start.
   */
  unready(labelSelector: string, reason?: UnreadyReason): Promise<void>;
  /** Lifts every unready fault; resolves once the pods they held are Ready again. */
  clearUnready(): Promise<void>;
  /**
   * The API server answers the requests `rule` matches with 429 Too Many Requests (its API
   * Priority and Fairness refuses them) until `lift()`. Resolves once in force.
   */
  reject(rule: RejectRule): Promise<Rejection>;
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

/**
 * A port-forward rule: a client's `kubectl port-forward` (or pods/portforward request) to `port`
 * of a selected pod reaches `target`, through the API server and KWOK's kubelet server. KWOK 0.8
 * selects pods by namespace and name only, not by label.
 */
export interface PortForwardOptions {
  /** Namespace of the pods (default: every namespace). */
  namespace?: string;
  /** Names of the pods (default: every pod in the namespace). */
  pods?: string[];
  /** The pod's port a client forwards, e.g. 19530. */
  port: number;
  /** Where KWOK connects for it: a TCP server on this machine. */
  target: { address: string; port: number };
}

export interface PortForwardRule {
  /** Name of its ClusterPortForward object. */
  name: string;
  remove(): Promise<void>;
}

export interface ControlPlane {
  /** `https://127.0.0.1:<port>`: where clients connect (Toxiproxy in front of the API server). */
  url: string;
  port: number;
  /** Bearer token of the kubeconfig's user `test` (group system:masters). */
  token: string;
  caPem: string;
  kubeconfigPath: string;
  kubeconfigYaml: string;
  /** The release clients are told, without `v`: the option, or the real one. */
  kubernetesVersion: string;
  /** Scratch directory (logs, kubeconfigs, tool homes); removed by stop(). */
  dir: string;
  /** Process ids by component, e.g. to read their memory use. */
  pids: Record<string, number>;
  faults: ControlPlaneFaults;
  /** Requests by clients (not the control plane's components), from the API server's audit log. */
  requests: AuditLog;
  /** Reads and writes through the API, as the harness (not recorded in `requests`). */
  store: ClusterObjects;
  /** Changes how long new pods take to become ready; resolves once KWOK's Stages say so. */
  setRolloutMs(ms: number): Promise<void>;
  /** Registers a kind through a CustomResourceDefinition and resolves once it is served. */
  registerCrd(kind: CustomKind): Promise<KubeObject>;
  /** Resolves when `predicate` holds, checking every 100 ms. */
  waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs?: number): Promise<void>;
  /** KUBECONFIG and fresh Kubernetes and Helm cache and config directories for one client. */
  env(label?: string): Record<string, string>;
  /** One request as the harness, straight to the API server: parsed JSON, or an ApiError. */
  api: Api;
  /** A kubeconfig for a ServiceAccount bound to the Roles in `roleYaml` (see service-account.ts). */
  serviceAccountKubeconfig(namespace: string, name: string, roleYaml: string): Promise<string>;
  /**
   * Creates a ClusterPortForward; KWOK reads it over a watch, within milliseconds. Rules should not
   * overlap: for a pod and port that two match, KWOK uses either.
   */
  forwardPort(options: PortForwardOptions): Promise<PortForwardRule>;
  stop(): Promise<void>;
}

const SERVICE_CIDR = '10.96.0.0/16';
const POD_CIDR = '10.244.0.0/16';
const HARNESS_USER = 'control-plane-harness';

/** A port nothing listens on at `address` now (another process may take it before it is used). */
export function freePort(address = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, address, () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * Kills every listed process group and removes `dir` once `parent` is gone: covers a test run that
 * is killed, where no 'exit' handler runs. Plain JavaScript, run with `node -e`.
 */
const WATCHDOG = `
const [parent, dir] = process.argv.slice(1);
const fs = require('node:fs');
setInterval(() => {
  try { process.kill(Number(parent), 0); return; } catch {}
  let pids = [];
  try { pids = fs.readFileSync(dir + '/pids', 'utf8').split('\\n').filter(Boolean); } catch {}
  for (const pid of pids) try { process.kill(-Number(pid), 'SIGKILL'); } catch {}
  fs.rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}, 1000);
`;

export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  try {
    return await startOnce(options);
  } catch (error) {
    // A free port picked here can be taken by another process before a component binds it; and
    // once in a long while a start stalls (a Node never Ready). A second start is a fresh one.
    if (!/address already in use|timed out waiting/.test(String(error))) throw error;
    console.error(`control plane: starting again after: ${String(error)}`);
    return startOnce(options);
  }
}

async function startOnce(options: ControlPlaneOptions): Promise<ControlPlane> {
  const bin = await controlPlaneBinaries();
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'control-plane-'));
  mkdirSync(join(dir, 'logs'));
  const file = (name: string, content: string) => {
    writeFileSync(join(dir, name), content, { mode: 0o600 });
    return join(dir, name);
  };
  const children = new Map<string, ChildProcess>();
  let stopping = false;
  const failures: string[] = [];
  let versionProxy: VersionProxy | undefined;

  const killAll = (signal: NodeJS.Signals) => {
    for (const child of children.values()) {
      try {
        const running = child.exitCode === null && child.signalCode === null;
        if (running && child.pid) process.kill(-child.pid, signal);
      } catch {
        // Already gone.
      }
    }
  };
  const onExit = () => {
    killAll('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', onExit);

  // Each component leads its own process group so that stop() also ends anything it spawned.
  // HOME is the scratch directory: KWOK would read ~/.kwok/kwok.yaml otherwise.
  const launch = (name: string, path: string, args: string[]) => {
    const log = openSync(join(dir, 'logs', `${name}.log`), 'a');
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir };
    const child = spawn(path, args, { detached: true, stdio: ['ignore', log, log], env });
    closeSync(log);
    child.unref();
    children.set(name, child);
    appendFileSync(join(dir, 'pids'), `${child.pid}\n`);
    child.on('exit', (code, signal) => {
      if (!stopping) failures.push(`${name} exited (${code ?? signal}):\n${logTail(name)}`);
    });
  };
  const logTail = (name: string) =>
    readFileSync(join(dir, 'logs', `${name}.log`), 'utf8')
      .split('\n')
      .slice(-15)
      .join('\n');

  const watchdog = spawn(process.execPath, ['-e', WATCHDOG, String(process.pid), dir], {
    detached: true,
    stdio: 'ignore',
  });
  watchdog.unref();

  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await versionProxy?.close();
    // A moment to exit cleanly; the API server and etcd can take many seconds to drain each
    // other's connections, and nothing of their state is kept.
    killAll('SIGTERM');
    const exited = [...children.values()].map(
      (child) =>
        new Promise((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) resolve(undefined);
          else child.once('exit', resolve);
        }),
    );
    await Promise.race([Promise.all(exited), new Promise((r) => setTimeout(r, 1000))]);
    killAll('SIGKILL');
    watchdog.kill('SIGKILL');
    process.off('exit', onExit);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const ports = {
      etcdClient: await freePort(),
      etcdPeer: await freePort(),
      apiserver: await freePort(),
      front: await freePort(),
      toxiproxyApi: await freePort(),
      kwokServer: await freePort(),
    };
    const certificates = await makeCertificates();
    const serviceAccount = generateKeyPairSync('ec', {
      namedCurve: 'prime256v1',
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const direct = `https://127.0.0.1:${ports.apiserver}`;
    const url = `https://127.0.0.1:${ports.front}`;
    const tokens = {
      admin: randomBytes(24).toString('hex'),
      harness: randomBytes(24).toString('hex'),
      controllerManager: randomBytes(24).toString('hex'),
      scheduler: randomBytes(24).toString('hex'),
      kwok: randomBytes(24).toString('hex'),
    };
    const caFile = file('ca.pem', certificates.caPem);
    // For 127.0.0.1, from the cluster CA: the API server's, and KWOK's as the Nodes' kubelet.
    const servingCert = file('apiserver.pem', certificates.certPem);
    const servingKey = file('apiserver.key', certificates.keyPem);
    const saKey = file('sa.key', serviceAccount.privateKey);
    const saPub = file('sa.pub', serviceAccount.publicKey);
    // token,user,uid,"groups": the components get the identities their bootstrap RBAC roles name.
    file(
      'tokens.csv',
      [
        `${tokens.admin},admin,admin,"system:masters"`,
        `${tokens.harness},${HARNESS_USER},${HARNESS_USER},"system:masters"`,
        `${tokens.controllerManager},system:kube-controller-manager,kube-controller-manager`,
        `${tokens.scheduler},system:kube-scheduler,kube-scheduler`,
        `${tokens.kwok},kwok-controller,kwok-controller,"system:masters"`,
      ].join('\n'),
    );
    // The components talk to the API server directly: client faults do not reach them.
    const componentKubeconfig = (user: keyof typeof tokens) =>
      file(`${user}.kubeconfig`, kubeconfigYaml(direct, certificates.caPem, tokens[user]));

    const etcdUrl = `http://127.0.0.1:${ports.etcdClient}`;
    const peerUrl = `http://127.0.0.1:${ports.etcdPeer}`;
    launch('etcd', bin.etcd, [
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=default=${peerUrl}`,
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    const auditLog = join(dir, 'logs', 'audit.jsonl');
    launch('kube-apiserver', bin.apiserver, [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${ports.apiserver}`,
      `--cert-dir=${join(dir, 'certs')}`,
      `--tls-cert-file=${servingCert}`,
      `--tls-private-key-file=${servingKey}`,
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      `--service-account-key-file=${saPub}`,
      `--service-account-signing-key-file=${saKey}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      // The "kubernetes" Endpoints may not hold a loopback address; nothing in-cluster needs it.
      '--endpoint-reconciler-type=none',
      // Kubelet requests (port-forward, exec, logs) go to KWOK's server at the Nodes' InternalIP
      // and kubelet port; the default order tries the Hostname first, which does not resolve.
      '--kubelet-preferred-address-types=InternalIP',
      // Without a CA the API server would not verify the kubelet's certificate at all.
      `--kubelet-certificate-authority=${caFile}`,
      '--profiling=false',
      ...auditFlags(file('audit-policy.yaml', auditPolicy(HARNESS_USER)), auditLog),
    ]);

    const api = apiClient(direct, certificates.caPem, tokens.harness);
    const resources = new Resources(api);
    const store = clusterObjects(api, resources);
    const deadline = Date.now() + (options.timeoutMs ?? 120_000);
    const waitFor = async (what: string, check: () => Promise<boolean>) => {
      for (;;) {
        if (failures.length > 0) throw new Error(failures.join('\n'));
        if (await check().catch(() => false)) return;
        if (Date.now() > deadline) {
          // The directory goes with the failed start: keep what says why in the error.
          const logs = [...children.keys()].map((name) => `--- ${name}:\n${logTail(name)}`);
          throw new Error(`control plane: timed out waiting for ${what}\n${logs.join('\n')}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    // The other components start once the API server is alive; their start overlaps its own.
    await waitFor('/healthz', async () => (await api<string>('GET', '/healthz')) === 'ok');
    const realVersion = (await api<{ gitVersion: string }>('GET', '/version')).gitVersion;
    const gitVersion = options.kubernetesVersion
      ? `v${options.kubernetesVersion.replace(/^v/, '')}`
      : realVersion;

    launch('kube-controller-manager', bin.controllerManager, [
      `--kubeconfig=${componentKubeconfig('controllerManager')}`,
      '--use-service-account-credentials',
      `--service-account-private-key-file=${saKey}`,
      `--root-ca-file=${caFile}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--leader-elect=false',
      '--secure-port=0',
      '--profiling=false',
    ]);
    launch('kube-scheduler', bin.scheduler, [
      `--kubeconfig=${componentKubeconfig('scheduler')}`,
      '--leader-elect=false',
      '--secure-port=0',
      '--profiling=false',
    ]);
    // Clients: Toxiproxy, then the /version proxy when a release is claimed, then the API server.
    if (options.kubernetesVersion) {
      versionProxy = await startVersionProxy({
        upstreamPort: ports.apiserver,
        ...certificates,
        gitVersion,
      });
    }
    launch('toxiproxy', bin.toxiproxy, [
      '-host=127.0.0.1',
      `-port=${ports.toxiproxyApi}`,
      `-config=${toxiproxyConfig(join(dir, 'toxiproxy.json'), ports.front, versionProxy?.port ?? ports.apiserver)}`,
    ]);

    await waitFor('/readyz', async () => (await api<string>('GET', '/readyz')) === 'ok');
    // KWOK reads its Stages and port-forward rules from objects, so tests change them while it
    // runs. Its watches start with it: the kinds must be served first.
    const kwokCrds = bin.kwokCrds.map((path) => parse(readFileSync(path, 'utf8')) as KubeObject);
    for (const crd of kwokCrds) await store.apply(crd);
    await waitFor('the KWOK CRDs', async () => {
      for (const crd of kwokCrds) await resources.find(`${crd.metadata.name}`);
      return true;
    });
    const podFaults = new PodFaults(api, store, {
      kubeVersion: gitVersion,
      rolloutMs: options.rolloutMs ?? 100,
      crashLoopMs: options.crashLoopMs ?? 1000,
      honorGracePeriod: options.honorGracePeriod ?? false,
      faults: [],
    });
    await podFaults.sync();
    launch('kwok', bin.kwok, [
      `--kubeconfig=${componentKubeconfig('kwok')}`,
      '--enable-crds=Stage,ClusterPortForward',
      // Its kubelet server (port-forward, exec, logs), with a certificate the API server checks.
      `--server-address=127.0.0.1:${ports.kwokServer}`,
      `--tls-cert-file=${servingCert}`,
      `--tls-private-key-file=${servingKey}`,
      '--manage-all-nodes=false',
      `--manage-nodes-with-annotation-selector=${FAKE_NODE_ANNOTATION}=fake`,
      `--cidr=${POD_CIDR}`,
      '--node-lease-duration-seconds=40',
    ]);

    await store.apply({
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: {
        name: STORAGE_CLASS,
        annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' },
      },
      provisioner: PROVISIONER,
      reclaimPolicy: 'Delete',
      volumeBindingMode: 'Immediate',
    });
    for (const name of new Set(options.namespaces ?? [])) {
      await store.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    }
    const nodeNames = Array.from({ length: options.nodes ?? 1 }, (_, i) => `kwok-node-${i}`);
    for (const name of nodeNames) {
      // Registered with addresses and the kubelet port, as a kubelet does; the Stages keep them.
      // Every Node's kubelet is KWOK's server, so they share an address.
      await api('POST', '/api/v1/nodes', {
        metadata: {
          name,
          annotations: { [FAKE_NODE_ANNOTATION]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
          labels: {
            'kubernetes.io/hostname': name,
            'kubernetes.io/os': 'linux',
            'kubernetes.io/arch': 'amd64',
            type: 'kwok',
          },
        },
        status: {
          addresses: [
            { type: 'InternalIP', address: '127.0.0.1' },
            { type: 'Hostname', address: name },
          ],
          daemonEndpoints: { kubeletEndpoint: { Port: ports.kwokServer } },
        },
      });
    }
    // Ready, and the node lifecycle controller has lifted its not-ready taint.
    await waitFor('Nodes to become Ready', async () => {
      const nodes = await api<{ items: NodeLike[] }>('GET', '/api/v1/nodes');
      return nodeNames.every((name) => {
        const node = nodes.items.find((item) => item.metadata.name === name);
        const ready = node?.status?.conditions?.some(
          (c) => c.type === 'Ready' && c.status === 'True',
        );
        return ready && !node?.spec?.taints?.length;
      });
    });
    const namespaces = ['default', ...(options.namespaces ?? [])];
    await waitFor('default ServiceAccounts', async () => {
      for (const ns of namespaces)
        await api('GET', `/api/v1/namespaces/${ns}/serviceaccounts/default`);
      return true;
    });
    // KWOK starts its server after its controllers; its plain-HTTP side answers the same paths.
    await waitFor("KWOK's server", async () => {
      const response = await fetch(`http://127.0.0.1:${ports.kwokServer}/healthz`);
      return response.ok;
    });
    const front = apiClient(url, certificates.caPem, tokens.harness);
    await waitFor('the proxies', async () => (await front<string>('GET', '/healthz')) === 'ok');
    console.error(
      `control plane: ${realVersion}${gitVersion === realVersion ? '' : ` (claiming ${gitVersion})`} up at ${url} in ${Math.round(performance.now() - started)} ms`,
    );

    const clientKubeconfig = kubeconfigYaml(url, certificates.caPem, tokens.admin);
    const kubeconfigPath = file('kubeconfig', clientKubeconfig);
    const flowControl = new FlowControlFaults(api, store, {
      url: direct,
      caPem: certificates.caPem,
      token: tokens.harness,
    });
    const connectionFaults = toxiproxyFaults(
      ports.toxiproxyApi,
      join(dir, 'logs', 'toxiproxy.log'),
    );
    const poll = async (predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000) => {
      const end = Date.now() + timeoutMs;
      while (!(await predicate())) {
        if (Date.now() > end)
          throw new Error(`control plane: condition not met within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    let envCount = 0;
    let forwardCount = 0;
    return {
      url,
      port: ports.front,
      token: tokens.admin,
      caPem: certificates.caPem,
      kubeconfigPath,
      kubeconfigYaml: clientKubeconfig,
      kubernetesVersion: gitVersion.replace(/^v/, ''),
      dir,
      pids: Object.fromEntries([...children].map(([name, child]) => [name, child.pid ?? 0])),
      faults: {
        ...connectionFaults,
        unready: (selector, reason) => podFaults.unready(selector, reason),
        clearUnready: () => podFaults.clearUnready(),
        reject: (rule) => flowControl.reject(rule),
        async clear() {
          await connectionFaults.clear();
          await podFaults.clearUnready();
          await flowControl.clear();
        },
      },
      requests: new AuditLog(auditLog),
      store,
      setRolloutMs: (ms) => podFaults.setRolloutMs(ms),
      async registerCrd(kind) {
        const plural = kind.plural ?? `${kind.kind.toLowerCase()}s`;
        const name = `${plural}.${kind.group}`;
        await store.apply({
          apiVersion: 'apiextensions.k8s.io/v1',
          kind: 'CustomResourceDefinition',
          metadata: { name },
          spec: {
            group: kind.group,
            scope: kind.namespaced === false ? 'Cluster' : 'Namespaced',
            names: {
              plural,
              singular: kind.kind.toLowerCase(),
              kind: kind.kind,
              listKind: `${kind.kind}List`,
              ...(kind.shortNames && { shortNames: kind.shortNames }),
            },
            versions: kind.versions.map((version, i) => ({
              name: version,
              served: true,
              storage: i === 0,
              schema: {
                openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
              },
              ...(kind.statusSubresource !== false && { subresources: { status: {} } }),
            })),
          },
        });
        let crd: KubeObject | undefined;
        await poll(async () => {
          crd = await store.get('customresourcedefinitions', undefined, name);
          const conditions = (crd?.status as { conditions?: { type: string; status: string }[] })
            ?.conditions;
          if (!conditions?.some((c) => c.type === 'Established' && c.status === 'True'))
            return false;
          await resources.refresh();
          return resources.find(name).then(
            () => true,
            () => false,
          );
        });
        return crd as KubeObject;
      },
      waitFor: poll,
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
      api,
      serviceAccountKubeconfig: (namespace, name, roleYaml) =>
        serviceAccountKubeconfig(
          api,
          store,
          { url, caPem: certificates.caPem },
          namespace,
          name,
          roleYaml,
        ),
      async forwardPort(forward) {
        const name = `port-forward-${++forwardCount}`;
        const selector = {
          ...(forward.namespace && { matchNamespaces: [forward.namespace] }),
          ...(forward.pods && { matchNames: forward.pods }),
        };
        await store.create({
          apiVersion: 'kwok.x-k8s.io/v1alpha1',
          kind: 'ClusterPortForward',
          metadata: { name },
          spec: {
            selector,
            forwards: [{ ports: [forward.port], target: forward.target }],
          },
        });
        return {
          name,
          remove: () => store.delete('clusterportforwards.kwok.x-k8s.io', undefined, name),
        };
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

interface NodeLike {
  metadata: { name: string };
  spec?: { taints?: unknown[] };
  status?: { conditions?: { type: string; status: string }[] };
}
