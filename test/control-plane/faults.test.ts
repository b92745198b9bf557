// The test interface of the real control plane, proved with real clients (kubectl, client-node,
// plain HTTPS): pods that never become ready, the API server's audit log as the request record,
// connection faults through Toxiproxy, a claimed Kubernetes release, and a ServiceAccount's
// kubeconfig under RBAC.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import {
  type ApiException,
  CoreV1Api,
  KubeConfig,
  type V1Pod,
  Watch,
} from '@kubernetes/client-node';
import { pinnedVersion } from './build.ts';
import { type ControlPlane, type KubeObject, startControlPlane } from './cluster.ts';
import { kubectlBinary } from './kubectl.ts';

const execFileAsync = promisify(execFile);
const NS = 'faults';

function deployment(name: string, replicas: number, labels: Record<string, string>): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NS, labels },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name, ...labels } },
        spec: { containers: [{ name: 'main', image: `example/${name}:1` }] },
      },
    },
  };
}

type Status = NonNullable<V1Pod['status']>;
const status = (pod: KubeObject) => (pod.status ?? {}) as Status;
const ready = (pod: KubeObject) =>
  status(pod).conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

describe('a real control plane with faults', () => {
  let cluster: ControlPlane;
  const pods = (labelSelector: string) =>
    cluster.store.list('pods', { namespace: NS, labelSelector });
  const kubectl = async (args: string[], kubeconfig = cluster.kubeconfigPath) =>
    (
      await execFileAsync(kubectlBinary(), ['--kubeconfig', kubeconfig, ...args], {
        env: { ...process.env, ...cluster.env('kubectl'), KUBECONFIG: kubeconfig },
      })
    ).stdout;

  before(async () => {
    const started = Date.now();
    cluster = await startControlPlane({ namespaces: [NS], rolloutMs: 100, crashLoopMs: 500 });
    console.error(`started in ${Date.now() - started} ms`);
  });
  after(() => cluster?.stop());

  test('unready NotReady: running pods fail at once, new ones never get ready, then recover', async () => {
    await cluster.store.create(deployment('query', 2, { component: 'querynode' }));
    await cluster.store.create(deployment('data', 1, { component: 'datanode' }));
    await cluster.waitFor(
      async () => (await pods('app in (query,data)')).filter(ready).length === 3,
    );

    let started = Date.now();
    await cluster.faults.unready('component=querynode', 'NotReady');
    console.error(`NotReady in force after ${Date.now() - started} ms`);
    for (const pod of await pods('app=query')) {
      assert.equal(status(pod).phase, 'Running');
      assert.equal(ready(pod), false, pod.metadata.name);
      assert.equal(status(pod).containerStatuses?.[0]?.state?.running !== undefined, true);
    }
    assert.ok((await pods('app=data')).every(ready), 'other pods stay ready');

    // A pod created while the fault holds never becomes ready either.
    await kubectl(['scale', '-n', NS, 'deployment/query', '--replicas=3']);
    await cluster.waitFor(async () => (await pods('app=query')).length === 3);
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal((await pods('app=query')).filter(ready).length, 0);

    started = Date.now();
    await cluster.faults.clearUnready();
    console.error(`recovered (rolloutMs 100) after ${Date.now() - started} ms`);
    assert.equal((await pods('app=query')).filter(ready).length, 3);
  });

  test('unready CrashLoopBackOff: restarts keep growing; a pod that never restarts fails', async () => {
    await cluster.faults.unready('component=querynode');
    const [pod] = await pods('app=query');
    assert.ok(pod);
    const waiting = () => status(pod).containerStatuses?.[0]?.state?.waiting?.reason;
    assert.equal(waiting(), 'CrashLoopBackOff');
    const restarts = async () =>
      status((await cluster.store.get('pods', NS, pod.metadata.name ?? '')) as KubeObject)
        .containerStatuses?.[0]?.restartCount ?? 0;
    const first = await restarts();
    await new Promise((resolve) => setTimeout(resolve, 1200)); // crashLoopMs 500
    assert.ok((await restarts()) >= first + 2, `restartCount ${first} → ${await restarts()}`);

    await cluster.store.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'once', namespace: NS, labels: { component: 'querynode' } },
      spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'example/once:1' }] },
    });
    await cluster.waitFor(
      async () =>
        status((await cluster.store.get('pods', NS, 'once')) ?? ({} as KubeObject)).phase ===
        'Failed',
    );
    await cluster.faults.clearUnready();
    assert.equal((await pods('app=query')).filter(ready).length, 3);
  });

  test('unready ImagePullBackOff: pods wait in Pending', async () => {
    await cluster.faults.unready('app=data', 'ImagePullBackOff');
    const [pod] = await pods('app=data');
    assert.equal(status(pod as KubeObject).phase, 'Pending');
    assert.equal(
      status(pod as KubeObject).containerStatuses?.[0]?.state?.waiting?.reason,
      'ImagePullBackOff',
    );
    await cluster.faults.clearUnready();
    assert.ok((await pods('app=data')).every(ready));
  });

  test('setRolloutMs changes how long a new pod takes to become ready', async () => {
    await cluster.setRolloutMs(1500);
    try {
      await kubectl(['scale', '-n', NS, 'deployment/data', '--replicas=2']);
      await cluster.waitFor(async () => (await pods('app=data')).length === 2);
      const started = Date.now();
      await cluster.waitFor(async () => (await pods('app=data')).every(ready), 10_000);
      assert.ok(Date.now() - started >= 1000, `ready after ${Date.now() - started} ms`);
    } finally {
      await cluster.setRolloutMs(100);
    }
  });

  test("requests: the API server's audit log, without the control plane's own requests", async () => {
    const since = Date.now();
    await kubectl(['get', 'pods', '-n', NS]);
    await kubectl([
      'create',
      'configmap',
      'planned',
      '-n',
      NS,
      '--from-literal=a=b',
      '--dry-run=server',
    ]);
    await kubectl(['create', 'configmap', 'made', '-n', NS, '--from-literal=a=b']);
    const mine = cluster.requests.filter({ since, userAgent: /^kubectl\// });
    const list = mine.find((r) => r.verb === 'list' && r.resource === 'pods');
    assert.deepEqual(
      list && { method: list.method, path: list.path, status: list.status, user: list.user },
      { method: 'GET', path: `/api/v1/namespaces/${NS}/pods`, status: 200, user: 'admin' },
    );
    const creates = mine.filter((r) => r.verb === 'create' && r.resource === 'configmaps');
    assert.deepEqual(
      creates.map((r) => [r.method, r.path, r.status, r.query.dryRun]),
      [
        ['POST', `/api/v1/namespaces/${NS}/configmaps`, 201, 'All'],
        ['POST', `/api/v1/namespaces/${NS}/configmaps`, 201, undefined],
      ],
    );
    assert.ok(
      mine.some((r) => r.verb === 'other' && r.path.startsWith('/api')),
      'discovery',
    );
    // Nothing from the harness, KWOK, the scheduler or the controllers, which were busy meanwhile.
    const users = new Set(cluster.requests.filter({ since }).map((r) => r.user));
    assert.deepEqual([...users], ['admin']);
    // Requests the API server refuses are there too.
    const refused = Date.now();
    const bad = cluster.kubeconfigPath.replace(/kubeconfig$/, 'bad.kubeconfig');
    writeFileSync(bad, cluster.kubeconfigYaml.replace(cluster.token, 'not-the-token'));
    await assert.rejects(kubectl(['get', 'pods', '-n', NS], bad), /Unauthorized|credentials/);
    assert.ok(
      cluster.requests
        .filter({ since: refused, userAgent: /^kubectl\// })
        .every((r) => r.status === 401 && r.user === ''),
    );
    assert.ok(cluster.requests.count({ since: refused, status: 401 }) > 0);
    assert.equal(cluster.requests.count({ since, resource: 'deployments.apps' }), 0);
  });

  test('connection resets: the next N connections are reset, then the API answers', async () => {
    const outcomes: string[] = [];
    await cluster.faults.resets({ connections: 2 });
    for (let i = 0; i < 4; i++) {
      outcomes.push(
        await get(cluster, '/version').then(
          (answer) => String(answer.status),
          (error: NodeJS.ErrnoException) => error.code ?? String(error),
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.deepEqual(outcomes, ['ECONNRESET', 'ECONNRESET', '200', '200']);
    // client-node sees the same.
    await cluster.faults.resets({ connections: 1 });
    const config = new KubeConfig();
    config.loadFromString(cluster.kubeconfigYaml);
    const core = config.makeApiClient(CoreV1Api);
    await assert.rejects(core.listNamespacedPod({ namespace: NS }), (error: Error) => {
      assert.equal((error.cause as NodeJS.ErrnoException | undefined)?.code, 'ECONNRESET');
      return true;
    });
    await new Promise((resolve) => setTimeout(resolve, 50)); // See ConnectionFaults.resets.
    assert.equal((await core.listNamespacedPod({ namespace: NS })).kind, 'PodList');
  });

  test('latency delays every answer', async () => {
    await cluster.faults.latency(400);
    try {
      const started = Date.now();
      assert.equal((await get(cluster, '/version')).status, 200);
      assert.ok(Date.now() - started >= 400, `${Date.now() - started} ms`);
    } finally {
      await cluster.faults.latency(0);
    }
    const started = Date.now();
    await get(cluster, '/version');
    assert.ok(Date.now() - started < 300, `${Date.now() - started} ms after the latency is off`);
  });

  test('down ends open watches and refuses connections; up serves again on the same URL', async () => {
    const config = new KubeConfig();
    config.loadFromString(cluster.kubeconfigYaml);
    const ended = new Promise<unknown>((resolve) => {
      void new Watch(config).watch(`/api/v1/namespaces/${NS}/pods`, {}, () => {}, resolve);
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await cluster.faults.down();
    try {
      await ended;
      await assert.rejects(get(cluster, '/version'), { code: 'ECONNREFUSED' });
      // The control plane keeps running behind it: the Deployment controller still scales.
      await cluster.store.apply(deployment('data', 1, { component: 'datanode' }));
      await cluster.waitFor(
        async () =>
          (await pods('app=data')).filter((p) => !p.metadata.deletionTimestamp).length === 1,
      );
    } finally {
      await cluster.faults.up();
    }
    assert.equal((await get(cluster, '/version')).status, 200);
  });

  test('a ServiceAccount kubeconfig can do what its Role allows, and no more', async () => {
    const kubeconfig = await cluster.serviceAccountKubeconfig(
      'rbac',
      'reader',
      `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: pod-reader
rules:
  - apiGroups: [""]
    resources: [pods]
    verbs: [get, list, watch]
`,
    );
    const path = join(cluster.dir, 'reader.kubeconfig');
    writeFileSync(path, kubeconfig);
    const since = Date.now();
    assert.equal(
      (await kubectl(['auth', 'can-i', 'list', 'pods', '-n', 'rbac'], path)).trim(),
      'yes',
    );
    await kubectl(['get', 'pods', '-n', 'rbac'], path);
    await assert.rejects(kubectl(['get', 'secrets', '-n', 'rbac'], path), /forbidden/);
    await assert.rejects(kubectl(['get', 'pods', '-n', NS], path), /forbidden/);
    const user = 'system:serviceaccount:rbac:reader';
    const seen = cluster.requests
      .filter({ since, user, userAgent: /^kubectl\// })
      .filter((r) => r.resource)
      .map((r) => `${r.verb} ${r.resource} ${r.namespace} ${r.status}`);
    assert.deepEqual(seen, [
      'create selfsubjectaccessreviews.authorization.k8s.io  201', // kubectl auth can-i
      'list pods rbac 200',
      'list secrets rbac 403',
      `list pods ${NS} 403`,
    ]);
  });

  test("reject: a user's matching requests are answered 429 by flow control until lifted", async () => {
    const kubeconfig = await cluster.serviceAccountKubeconfig(
      NS,
      'busy',
      `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: reader
rules:
  - apiGroups: [""]
    resources: [pods, configmaps]
    verbs: [get, list, watch]
`,
    );
    const token = /token: (\S+)/.exec(kubeconfig)?.[1] ?? '';
    const user = `system:serviceaccount:${NS}:busy`;
    const pods = `/api/v1/namespaces/${NS}/pods`;
    const statuses = async (path: string, as = token, times = 4) =>
      (await Promise.all(Array.from({ length: times }, () => get(cluster, path, as)))).map(
        (answer) => answer.status,
      );
    const since = Date.now();
    const lists = await cluster.faults.reject({
      user,
      verbs: ['list'],
      resources: ['pods'],
      namespaces: [NS],
    });
    const version = await cluster.faults.reject({
      user,
      verbs: ['get'],
      nonResourceURLs: ['/version'],
    });
    try {
      // Every time, however many at once, and nothing else of that user's.
      assert.deepEqual(await statuses(pods), [429, 429, 429, 429]);
      assert.deepEqual(await statuses('/version'), [429, 429, 429, 429]);
      const refused = await get(cluster, pods, token);
      assert.equal(refused.body, 'Too many requests, please try again later.\n');
      const configMaps = `/api/v1/namespaces/${NS}/configmaps`;
      assert.deepEqual(await statuses(configMaps), [200, 200, 200, 200]);
      assert.deepEqual(await statuses(`${pods}/nosuch`), [404, 404, 404, 404], 'get, not list');
      assert.deepEqual(await statuses(pods, cluster.token), [200, 200, 200, 200], 'other users');
      // client-node gets the API server's answer.
      const config = new KubeConfig();
      config.loadFromString(kubeconfig);
      await assert.rejects(
        config.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: NS }),
        (error: ApiException<string>) => error.code === 429,
      );
      await version.lift();
      assert.deepEqual(await statuses('/version'), [200, 200, 200, 200]);
      assert.deepEqual(await statuses(pods), [429, 429, 429, 429], 'the other rule holds');
    } finally {
      await lists.lift();
    }
    assert.deepEqual(await statuses(pods, token, 8), [200, 200, 200, 200, 200, 200, 200, 200]);
    // The refusals are in the request record, as the API server's own answers.
    const refusals = cluster.requests.filter({ since, user, status: 429 });
    assert.ok(refusals.some((r) => r.verb === 'list' && r.resource === 'pods'));
    assert.ok(refusals.some((r) => r.path === '/version'));
  });

  test('registerCrd serves a custom kind', async () => {
    await cluster.registerCrd({ group: 'milvus.io', kind: 'Milvus', versions: ['v1beta1'] });
    const made = await cluster.store.create({
      apiVersion: 'milvus.io/v1beta1',
      kind: 'Milvus',
      metadata: { name: 'operator', namespace: NS },
      spec: { mode: 'cluster' },
    });
    assert.ok(made.metadata.uid);
    assert.deepEqual(
      (await cluster.store.list('milvus', { namespace: NS })).map((m) => m.metadata.name),
      ['operator'],
    );
  });
});

describe('a control plane claiming Kubernetes 1.19.16', () => {
  let cluster: ControlPlane;
  before(async () => {
    cluster = await startControlPlane({ kubernetesVersion: '1.19.16' });
  });
  after(async () => {
    const t = Date.now();
    await cluster?.stop();
    console.error('stop took', Date.now() - t);
  });

  test('clients are told 1.19.16; the API server is the real one behind', async () => {
    assert.equal(cluster.kubernetesVersion, '1.19.16');
    const version = JSON.parse((await get(cluster, '/version')).body) as Record<string, string>;
    assert.deepEqual([version.gitVersion, version.major, version.minor], ['v1.19.16', '1', '19']);
    const real = await cluster.api<{ gitVersion: string }>('GET', '/version');
    assert.equal(real.gitVersion, pinnedVersion('kubernetes'));
    const config = new KubeConfig();
    config.loadFromString(cluster.kubeconfigYaml);
    const nodes = await config.makeApiClient(CoreV1Api).listNode();
    assert.equal(nodes.items[0]?.status?.nodeInfo?.kubeletVersion, 'v1.19.16');
    // Everything else passes through, watches included.
    const events: string[] = [];
    const watch = await new Watch(config).watch(
      '/api/v1/namespaces/default/configmaps',
      {},
      (type) => events.push(type),
      () => {},
    );
    await cluster.store.create({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'x', namespace: 'default' },
    });
    await cluster.waitFor(() => events.includes('ADDED'));
    watch.abort();
  });
});

/** One GET on a new connection through the cluster's front door, as the kubeconfig's user. */
function get(
  cluster: ControlPlane,
  path: string,
  token = cluster.token,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, cluster.url),
      { ca: cluster.caPem, agent: false, headers: { authorization: `Bearer ${token}` } },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}
