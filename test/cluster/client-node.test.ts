// The test cluster through @kubernetes/client-node: reads, watches, informers and faults.
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { after, before, describe, test } from 'node:test';
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  makeInformer,
  type V1Deployment,
  type V1Pod,
  VersionApi,
  Watch,
} from '@kubernetes/client-node';
import { startTestCluster, type TestCluster } from './index.ts';

const CLIENT = /kubernetes-client-javascript/;

function deployment(
  name: string,
  replicas: number,
  image = 'registry.example/web:1.0',
): V1Deployment {
  const labels = { app: name, tier: 'front' };
  return {
    metadata: { name, labels },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { containers: [{ name: 'web', image }] } },
    },
  };
}

const isReady = (pod: V1Pod) =>
  pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

describe('client-node against the test cluster', { concurrency: 1 }, () => {
  let cluster: TestCluster;
  let kc: KubeConfig;
  let core: CoreV1Api;
  let apps: AppsV1Api;

  before(async () => {
    cluster = await startTestCluster({ rolloutMs: 80, terminationMs: 40, namespaces: ['team'] });
    kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    core = kc.makeApiClient(CoreV1Api);
    apps = kc.makeApiClient(AppsV1Api);
  });
  after(() => cluster?.stop());

  test('the kubeconfig verifies the server with its CA and authenticates with a token', async () => {
    assert.match(cluster.kubeconfigYaml, /certificate-authority-data: /);
    assert.doesNotMatch(cluster.kubeconfigYaml, /insecure-skip-tls-verify/);
    assert.equal(kc.getCurrentUser()?.token, cluster.token);
    const version = await kc.makeApiClient(VersionApi).getCode();
    assert.equal(version.gitVersion, 'v1.31.2');
    assert.equal(version.minor, '31');
    const namespace = await core.readNamespace({ name: 'team' });
    assert.equal(namespace.status?.phase, 'Active');
  });

  test('requests without the token get a 401 Status', async () => {
    const { status, body } = await new Promise<{ status: number; body: string }>(
      (resolve, reject) => {
        const req = request(`${cluster.url}/api/v1/namespaces`, { ca: cluster.caPem }, (res) => {
          let body = '';
          res.on('data', (chunk) => {
            body += chunk;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      },
    );
    assert.equal(status, 401);
    assert.equal(JSON.parse(body).kind, 'Status');
    assert.equal(JSON.parse(body).reason, 'Unauthorized');
  });

  test('an old cluster version is reported as configured', async () => {
    const old = await startTestCluster({ kubernetesVersion: '1.19.16', contextName: 'legacy' });
    try {
      const config = new KubeConfig();
      config.loadFromFile(old.kubeconfigPath);
      assert.equal(config.getCurrentContext(), 'legacy');
      const version = await config.makeApiClient(VersionApi).getCode();
      assert.equal(version.gitVersion, 'v1.19.16');
      assert.equal(version.minor, '19');
    } finally {
      await old.stop();
    }
  });

  test('a watch sees pods of a new Deployment become ready', async () => {
    const seen: string[] = [];
    let resolveReady: () => void = () => {};
    const allReady = new Promise<void>((resolve) => {
      resolveReady = resolve;
    });
    const readyPods = new Set<string>();
    const controller = await new Watch(kc).watch(
      '/api/v1/namespaces/team/pods',
      { labelSelector: 'app=web' },
      (type, pod: V1Pod) => {
        seen.push(type);
        if (isReady(pod)) readyPods.add(pod.metadata?.name ?? '');
        if (readyPods.size === 2) resolveReady();
      },
      () => {},
    );
    try {
      await apps.createNamespacedDeployment({ namespace: 'team', body: deployment('web', 2) });
      await allReady;
      assert.equal(seen.filter((t) => t === 'ADDED').length, 2);
      assert.ok(seen.includes('MODIFIED'));
    } finally {
      controller.abort();
    }
    const pods = await core.listNamespacedPod({
      namespace: 'team',
      labelSelector: 'app=web,tier in (front,back),!legacy',
    });
    assert.equal(pods.items.length, 2);
    assert.ok(pods.items.every((p) => p.spec?.containers[0]?.image === 'registry.example/web:1.0'));
    const none = await core.listNamespacedPod({ namespace: 'team', labelSelector: 'app!=web' });
    assert.equal(none.items.length, 0);
    const running = await core.listNamespacedPod({
      namespace: 'team',
      fieldSelector: 'status.phase=Running',
    });
    assert.equal(running.items.length, 2);
    await cluster.waitFor(
      () =>
        (cluster.store.get('deployments', 'team', 'web')?.status as { readyReplicas?: number })
          ?.readyReplicas === 2,
    );
    const read = await apps.readNamespacedDeployment({ name: 'web', namespace: 'team' });
    assert.equal(read.status?.availableReplicas, 2);
    assert.equal(read.spec?.strategy?.type, 'RollingUpdate', 'defaults are filled in');
    assert.equal(read.spec?.revisionHistoryLimit, 10);
    assert.equal(read.status?.conditions?.find((c) => c.type === 'Available')?.status, 'True');
    assert.ok(
      cluster.requests.count({
        userAgent: CLIENT,
        verb: 'create',
        resource: 'deployments.apps',
      }) === 1,
    );
  });

  test('an informer follows pods as a Deployment scales down and is deleted', async () => {
    const informer = makeInformer(
      kc,
      '/api/v1/namespaces/team/pods',
      () => core.listNamespacedPod({ namespace: 'team', labelSelector: 'app=web' }),
      'app=web',
    );
    const deleted: string[] = [];
    const terminating = new Set<string>();
    informer.on('update', (pod) => {
      if (pod.metadata?.deletionTimestamp) terminating.add(pod.metadata.name ?? '');
    });
    informer.on('delete', (pod) => deleted.push(pod.metadata?.name ?? ''));
    await informer.start();
    try {
      assert.equal(informer.list('team').length, 2);
      await apps.replaceNamespacedDeploymentScale({
        name: 'web',
        namespace: 'team',
        body: { metadata: { name: 'web', namespace: 'team' }, spec: { replicas: 1 } },
      });
      await cluster.waitFor(() => deleted.length === 1);
      await apps.deleteNamespacedDeployment({
        name: 'web',
        namespace: 'team',
        body: { propagationPolicy: 'Background' },
      });
      await cluster.waitFor(() => deleted.length === 2);
      assert.deepEqual(
        [...terminating].sort(),
        [...deleted].sort(),
        'pods were Terminating before they vanished',
      );
      assert.equal(informer.list('team').length, 0);
      assert.deepEqual(
        cluster.store.list('replicasets', { namespace: 'team' }),
        [],
        'ReplicaSets were collected',
      );
    } finally {
      await informer.stop();
    }
  });

  test('injected 503s fail only the matching client, then stop', async () => {
    cluster.faults.errors({ rate: 1, status: 503, userAgent: CLIENT, limit: 2 });
    try {
      for (let i = 0; i < 2; i++) {
        await assert.rejects(core.listNamespacedPod({ namespace: 'team' }), (error: unknown) => {
          assert.ok(error instanceof ApiException);
          assert.equal(error.code, 503);
          return true;
        });
      }
      assert.equal((await core.listNamespacedPod({ namespace: 'team' })).kind, 'PodList');
      assert.equal(
        cluster.requests.filter({ userAgent: CLIENT }).filter((r) => r.fault === 'error').length,
        2,
      );
    } finally {
      cluster.faults.errors();
    }
  });

  test('reset connections and a vanished API reach the client as network errors', async () => {
    cluster.faults.errors({ rate: 1, status: 'reset', path: /\/pods$/, limit: 1 });
    await assert.rejects(core.listNamespacedPod({ namespace: 'team' }));
    assert.equal((await core.listNamespacedPod({ namespace: 'team' })).kind, 'PodList');
    assert.equal(cluster.requests.count({ path: /\/pods$/, status: 0 }), 1);

    let watchEnded = false;
    const controller = await new Watch(kc).watch(
      '/api/v1/namespaces/team/pods',
      {},
      () => {},
      () => {
        watchEnded = true;
      },
    );
    await cluster.faults.down();
    await assert.rejects(core.readNamespace({ name: 'team' }));
    await cluster.waitFor(() => watchEnded, 2000).catch(() => {});
    assert.ok(watchEnded, 'open watches are cut when the API goes away');
    await cluster.faults.up();
    assert.equal((await core.readNamespace({ name: 'team' })).metadata?.name, 'team');
    controller.abort();
  });

  test('added latency slows every request', async () => {
    cluster.faults.latency(150);
    try {
      const started = Date.now();
      await core.readNamespace({ name: 'team' });
      assert.ok(Date.now() - started >= 150);
    } finally {
      cluster.faults.latency(0);
    }
  });

  test('validation rejects what a real server rejects', async () => {
    const invalid = (error: unknown) => error instanceof ApiException && error.code === 422;
    await assert.rejects(
      core.createNamespacedSecret({
        namespace: 'team',
        body: {
          metadata: { name: 'huge' },
          data: { blob: Buffer.alloc(1024 * 1024 + 1).toString('base64') },
        },
      }),
      invalid,
    );
    await assert.rejects(
      core.createNamespacedConfigMap({
        namespace: 'team',
        body: { metadata: { name: 'Bad_Name' } },
      }),
      invalid,
    );
    const sts = await apps.createNamespacedStatefulSet({
      namespace: 'team',
      body: {
        metadata: { name: 'etcd' },
        spec: {
          serviceName: 'etcd',
          selector: { matchLabels: { app: 'etcd' } },
          template: {
            metadata: { labels: { app: 'etcd' } },
            spec: { containers: [{ name: 'etcd', image: 'etcd:1' }] },
          },
        },
      },
    });
    assert.equal(sts.spec?.updateStrategy?.type, 'RollingUpdate');
    assert.equal(sts.spec?.podManagementPolicy, 'OrderedReady');
    // Once the pod is up the status settles, so the read below is the latest version.
    await cluster.waitFor(
      () =>
        (
          cluster.store.get('sts', 'team', 'etcd')?.status as
            | { currentRevision?: string; readyReplicas?: number }
            | undefined
        )?.readyReplicas === 1,
    );
    const current = await apps.readNamespacedStatefulSet({ name: 'etcd', namespace: 'team' });
    await assert.rejects(
      apps.replaceNamespacedStatefulSet({
        name: 'etcd',
        namespace: 'team',
        body: {
          ...current,
          spec: { ...current.spec, serviceName: 'other' } as typeof sts.spec & object,
        },
      }),
      (error: unknown) =>
        invalid(error) &&
        String((error as ApiException<string>).body).includes(
          'Forbidden: updates to statefulset spec',
        ),
    );
    await assert.rejects(
      apps.createNamespacedDeployment({
        namespace: 'team',
        body: {
          ...deployment('mismatch', 1),
          spec: {
            ...deployment('mismatch', 1).spec,
            selector: { matchLabels: { app: 'other' } },
          } as V1Deployment['spec'],
        },
      }),
      invalid,
    );
  });

  test('stale writes conflict and dry runs store nothing', async () => {
    const created = await core.createNamespacedConfigMap({
      namespace: 'team',
      body: { metadata: { name: 'cfg' }, data: { a: '1' } },
    });
    await core.replaceNamespacedConfigMap({
      name: 'cfg',
      namespace: 'team',
      body: { ...created, data: { a: '2' } },
    });
    await assert.rejects(
      core.replaceNamespacedConfigMap({
        name: 'cfg',
        namespace: 'team',
        body: { ...created, data: { a: '3' } },
      }),
      (error: unknown) => error instanceof ApiException && error.code === 409,
    );
    const dry = await core.createNamespacedConfigMap({
      namespace: 'team',
      dryRun: 'All',
      body: { metadata: { name: 'dry' } },
    });
    assert.equal(dry.metadata?.name, 'dry');
    await assert.rejects(
      core.readNamespacedConfigMap({ name: 'dry', namespace: 'team' }),
      (error: unknown) =>
        error instanceof ApiException &&
        error.code === 404 &&
        String(error.body).includes('NotFound'),
    );
  });
});
