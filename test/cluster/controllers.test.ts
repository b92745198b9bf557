// The simulated controllers, observed the way clients observe a cluster: through watches and reads.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  ApiException,
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  PolicyV1Api,
  type V1Deployment,
  type V1DeploymentStrategy,
  type V1Pod,
  Watch,
} from '@kubernetes/client-node';
import { type KubeObject, startTestCluster, type TestCluster } from './index.ts';

interface PodEvent {
  type: string;
  pod: V1Pod;
}

const ready = (pod: V1Pod) =>
  pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
const image = (pod: V1Pod) => pod.spec?.containers[0]?.image;
const condition = (object: KubeObject | undefined, type: string) =>
  (
    (object?.status as { conditions?: { type: string; status: string; reason?: string }[] })
      ?.conditions ?? []
  ).find((c) => c.type === type);

function webDeployment(
  name: string,
  replicas: number,
  strategy?: V1DeploymentStrategy,
): V1Deployment {
  return {
    metadata: { name },
    spec: {
      replicas,
      strategy,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'web', image: 'web:1' }] },
      },
    },
  };
}

describe('simulated controllers', { concurrency: 1 }, () => {
  let cluster: TestCluster;
  let kc: KubeConfig;
  let core: CoreV1Api;
  let apps: AppsV1Api;

  /** Records pod events matching `labelSelector` in `ns` until the returned stop() is called. */
  async function recordPods(
    ns: string,
    labelSelector: string,
  ): Promise<{ events: PodEvent[]; stop: () => void }> {
    const events: PodEvent[] = [];
    const controller = await new Watch(kc).watch(
      `/api/v1/namespaces/${ns}/pods`,
      { labelSelector },
      (type, pod: V1Pod) => events.push({ type, pod }),
      () => {},
    );
    return { events, stop: () => controller.abort() };
  }

  before(async () => {
    cluster = await startTestCluster({
      rolloutMs: 30,
      terminationMs: 30,
      crashLoopMs: 100,
      namespaces: ['ctl'],
    });
    kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    core = kc.makeApiClient(CoreV1Api);
    apps = kc.makeApiClient(AppsV1Api);
  });
  after(() => cluster?.stop());

  test('RollingUpdate keeps maxUnavailable=0 and maxSurge=1 while it replaces every pod', async () => {
    await apps.createNamespacedDeployment({
      namespace: 'ctl',
      body: webDeployment('roll', 4, {
        type: 'RollingUpdate',
        rollingUpdate: { maxSurge: 1, maxUnavailable: 0 },
      }),
    });
    await cluster.waitFor(
      () =>
        (cluster.store.get('deploy', 'ctl', 'roll')?.status as { availableReplicas?: number })
          ?.availableReplicas === 4,
    );
    const recorder = await recordPods('ctl', 'app=roll');
    const live = new Map<string, V1Pod>();
    let minReady = Number.POSITIVE_INFINITY;
    let maxPods = 0;
    let synced = false;
    const check = () => {
      for (const { type, pod } of recorder.events.splice(0)) {
        if (type === 'DELETED') live.delete(pod.metadata?.name ?? '');
        else live.set(pod.metadata?.name ?? '', pod);
        // The watch starts with one ADDED event per existing pod.
        synced ||= live.size === 4;
        if (!synced) continue;
        const active = [...live.values()].filter((p) => !p.metadata?.deletionTimestamp);
        minReady = Math.min(minReady, active.filter(ready).length);
        maxPods = Math.max(maxPods, active.length);
      }
      const pods = [...live.values()];
      return pods.length === 4 && pods.every((p) => image(p) === 'web:2' && ready(p));
    };
    const kubectl = KubernetesObjectApi.makeApiClient(kc);
    await kubectl.patch(
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'roll', namespace: 'ctl' },
        spec: { template: { spec: { containers: [{ name: 'web', image: 'web:2' }] } } },
      },
      undefined,
      undefined,
      'kubectl',
      undefined,
      PatchStrategy.StrategicMergePatch,
    );
    await cluster.waitFor(check);
    recorder.stop();
    assert.equal(minReady, 4, 'no pod became unavailable');
    assert.equal(maxPods, 5, 'at most one pod over the desired count');
    const rollout = cluster.store.get('deploy', 'ctl', 'roll');
    assert.equal(condition(rollout, 'Progressing')?.reason, 'NewReplicaSetAvailable');
    const replicaSets = cluster.store.list('rs', { namespace: 'ctl', labelSelector: 'app=roll' });
    assert.equal(replicaSets.length, 2);
    assert.deepEqual(
      replicaSets
        .map((rs) => rs.metadata.annotations?.['deployment.kubernetes.io/revision'])
        .sort(),
      ['1', '2'],
    );
    assert.ok(
      replicaSets.every(
        (rs) => rs.metadata.name === `roll-${rs.metadata.labels?.['pod-template-hash']}`,
      ),
    );
  });

  test('Recreate removes every old pod before it starts a new one', async () => {
    await apps.createNamespacedDeployment({
      namespace: 'ctl',
      body: webDeployment('mixcoord', 2, { type: 'Recreate' }),
    });
    await cluster.waitFor(
      () =>
        (cluster.store.get('deploy', 'ctl', 'mixcoord')?.status as { readyReplicas?: number })
          ?.readyReplicas === 2,
    );
    const recorder = await recordPods('ctl', 'app=mixcoord');
    const kubectl = KubernetesObjectApi.makeApiClient(kc);
    await kubectl.patch(
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'mixcoord', namespace: 'ctl' },
        spec: { template: { spec: { containers: [{ name: 'web', image: 'web:2' }] } } },
      },
      undefined,
      undefined,
      'kubectl',
      undefined,
      PatchStrategy.StrategicMergePatch,
    );
    await cluster.waitFor(
      () =>
        recorder.events.filter(
          (e) => e.type === 'MODIFIED' && image(e.pod) === 'web:2' && ready(e.pod),
        ).length === 2,
    );
    recorder.stop();
    const lastOldDeletion = recorder.events.findLastIndex(
      (e) => e.type === 'DELETED' && image(e.pod) === 'web:1',
    );
    const firstNew = recorder.events.findIndex(
      (e) => e.type === 'ADDED' && image(e.pod) === 'web:2',
    );
    assert.ok(
      lastOldDeletion >= 0 && firstNew > lastOldDeletion,
      'new pods only after the old ones are gone',
    );
  });

  test('a Deployment that cannot progress reports ProgressDeadlineExceeded', async () => {
    cluster.faults.unready('app=stuck');
    try {
      const body = webDeployment('stuck', 1);
      body.spec = { ...body.spec, progressDeadlineSeconds: 1 } as V1Deployment['spec'];
      await apps.createNamespacedDeployment({ namespace: 'ctl', body });
      await cluster.waitFor(
        () =>
          condition(cluster.store.get('deploy', 'ctl', 'stuck'), 'Progressing')?.reason ===
          'ProgressDeadlineExceeded',
        5000,
      );
      assert.equal(
        condition(cluster.store.get('deploy', 'ctl', 'stuck'), 'Available')?.status,
        'False',
      );
      const [pod] = cluster.store.list('pods', { namespace: 'ctl', labelSelector: 'app=stuck' });
      const podStatus = (pod?.status ?? {}) as {
        containerStatuses?: { restartCount: number; state: { waiting?: { reason: string } } }[];
      };
      const statusOf = podStatus.containerStatuses?.[0];
      assert.equal(statusOf?.state.waiting?.reason, 'CrashLoopBackOff');
      assert.ok((statusOf?.restartCount ?? 0) >= 1);
    } finally {
      cluster.faults.clearUnready();
    }
    await cluster.waitFor(
      () => condition(cluster.store.get('deploy', 'ctl', 'stuck'), 'Available')?.status === 'True',
    );
  });

  test('unready faults can also hang a pull or fail a readiness probe, until cleared', async () => {
    cluster.faults.unready('app=pull', 'ImagePullBackOff');
    cluster.faults.unready('app=probe', 'NotReady');
    type Status = {
      phase?: string;
      containerStatuses?: {
        ready: boolean;
        restartCount: number;
        state: { waiting?: { reason: string }; running?: unknown };
      }[];
    };
    const podStatus = (app: string) =>
      cluster.store.list('pods', { namespace: 'ctl', labelSelector: `app=${app}` })[0]?.status as
        | Status
        | undefined;
    try {
      await apps.createNamespacedDeployment({ namespace: 'ctl', body: webDeployment('pull', 1) });
      await apps.createNamespacedDeployment({ namespace: 'ctl', body: webDeployment('probe', 1) });
      await cluster.waitFor(
        () =>
          podStatus('pull')?.containerStatuses?.[0]?.state.waiting?.reason === 'ImagePullBackOff',
      );
      await cluster.waitFor(() => podStatus('probe')?.phase === 'Running');
      assert.equal(podStatus('pull')?.phase, 'Pending');
      const probe = podStatus('probe')?.containerStatuses?.[0];
      assert.ok(probe?.state.running && !probe.ready && probe.restartCount === 0);
    } finally {
      cluster.faults.clearUnready();
    }
    await cluster.waitFor(
      () =>
        podStatus('pull')?.containerStatuses?.[0]?.ready === true &&
        podStatus('probe')?.containerStatuses?.[0]?.ready === true,
    );
  });

  test('StatefulSets start pods in order, roll from the top and leave their PVCs behind', async () => {
    const recorder = await recordPods('ctl', 'app=etcd');
    await apps.createNamespacedStatefulSet({
      namespace: 'ctl',
      body: {
        metadata: { name: 'etcd' },
        spec: {
          serviceName: 'etcd',
          replicas: 2,
          selector: { matchLabels: { app: 'etcd' } },
          template: {
            metadata: { labels: { app: 'etcd' } },
            spec: { containers: [{ name: 'etcd', image: 'etcd:3.5' }] },
          },
          volumeClaimTemplates: [
            {
              metadata: { name: 'data' },
              spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '2Gi' } } },
            },
          ],
        },
      },
    });
    await cluster.waitFor(
      () =>
        (cluster.store.get('sts', 'ctl', 'etcd')?.status as { readyReplicas?: number })
          ?.readyReplicas === 2,
    );
    const firstReady = recorder.events.findIndex(
      (e) => e.pod.metadata?.name === 'etcd-0' && ready(e.pod),
    );
    const secondAdded = recorder.events.findIndex(
      (e) => e.type === 'ADDED' && e.pod.metadata?.name === 'etcd-1',
    );
    assert.ok(firstReady >= 0 && secondAdded > firstReady, 'etcd-1 waits for etcd-0 to be ready');
    const pvc = await core.readNamespacedPersistentVolumeClaim({
      name: 'data-etcd-0',
      namespace: 'ctl',
    });
    assert.equal(pvc.status?.phase, 'Bound');
    assert.equal(pvc.status?.capacity?.storage, '2Gi');
    const pv = await core.readPersistentVolume({ name: pvc.spec?.volumeName ?? '' });
    assert.equal(pv.spec?.claimRef?.name, 'data-etcd-0');

    recorder.events.length = 0;
    await apps.patchNamespacedStatefulSet({
      name: 'etcd',
      namespace: 'ctl',
      body: [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'etcd:3.6' }],
    });
    await cluster.waitFor(() => {
      const status = cluster.store.get('sts', 'ctl', 'etcd')?.status as {
        currentRevision?: string;
        updateRevision?: string;
        updatedReplicas?: number;
      };
      return status.updatedReplicas === 2 && status.currentRevision === status.updateRevision;
    });
    const deletions = recorder.events
      .filter((e) => e.type === 'DELETED')
      .map((e) => e.pod.metadata?.name);
    assert.deepEqual(deletions, ['etcd-1', 'etcd-0'], 'highest ordinal first');

    await apps.deleteNamespacedStatefulSet({ name: 'etcd', namespace: 'ctl' });
    await cluster.waitFor(
      () =>
        cluster.store.list('pods', { namespace: 'ctl', labelSelector: 'app=etcd' }).length === 0,
    );
    recorder.stop();
    const claims = await core.listNamespacedPersistentVolumeClaim({ namespace: 'ctl' });
    assert.deepEqual(claims.items.map((c) => c.metadata?.name).sort(), [
      'data-etcd-0',
      'data-etcd-1',
    ]);
  });

  test('foreground deletion keeps the owner until its dependents are gone', async () => {
    await apps.createNamespacedDeployment({ namespace: 'ctl', body: webDeployment('fg', 2) });
    await cluster.waitFor(
      () => cluster.store.list('pods', { namespace: 'ctl', labelSelector: 'app=fg' }).length === 2,
    );
    await apps.deleteNamespacedDeployment({
      name: 'fg',
      namespace: 'ctl',
      body: { propagationPolicy: 'Foreground' },
    });
    const parked = await apps.readNamespacedDeployment({ name: 'fg', namespace: 'ctl' });
    assert.ok(parked.metadata?.deletionTimestamp);
    assert.deepEqual(parked.metadata?.finalizers, ['foregroundDeletion']);
    await cluster.waitFor(() => cluster.store.get('deploy', 'ctl', 'fg') === undefined);
    assert.deepEqual(cluster.store.list('pods', { namespace: 'ctl', labelSelector: 'app=fg' }), []);
    assert.deepEqual(cluster.store.list('rs', { namespace: 'ctl', labelSelector: 'app=fg' }), []);
  });

  test('a DaemonSet runs one pod on the node, and a PodDisruptionBudget counts it', async () => {
    const policy = kc.makeApiClient(PolicyV1Api);
    await policy.createNamespacedPodDisruptionBudget({
      namespace: 'ctl',
      body: {
        metadata: { name: 'agent' },
        spec: { minAvailable: 1, selector: { matchLabels: { app: 'agent' } } },
      },
    });
    await apps.createNamespacedDaemonSet({
      namespace: 'ctl',
      body: {
        metadata: { name: 'agent' },
        spec: {
          selector: { matchLabels: { app: 'agent' } },
          template: {
            metadata: { labels: { app: 'agent' } },
            spec: { containers: [{ name: 'agent', image: 'agent:1' }] },
          },
        },
      },
    });
    await cluster.waitFor(
      () =>
        (cluster.store.get('ds', 'ctl', 'agent')?.status as { numberReady?: number })
          ?.numberReady === 1,
    );
    const [pod] = cluster.store.list('pods', { namespace: 'ctl', labelSelector: 'app=agent' });
    assert.equal((pod?.spec as { nodeName?: string } | undefined)?.nodeName, 'test-node');
    await cluster.waitFor(
      () =>
        (cluster.store.get('pdb', 'ctl', 'agent')?.status as { currentHealthy?: number })
          ?.currentHealthy === 1,
    );
    const budget = await policy.readNamespacedPodDisruptionBudget({
      name: 'agent',
      namespace: 'ctl',
    });
    assert.equal(budget.status?.disruptionsAllowed, 0);
    assert.equal(budget.status?.expectedPods, 1);
  });

  test('Jobs complete, and deleting one without a policy orphans its pods', async () => {
    const batch = kc.makeApiClient(BatchV1Api);
    await batch.createNamespacedJob({
      namespace: 'ctl',
      body: {
        metadata: { name: 'init' },
        spec: {
          template: {
            spec: { restartPolicy: 'Never', containers: [{ name: 'init', image: 'busybox:1' }] },
          },
        },
      },
    });
    await cluster.waitFor(
      () => condition(cluster.store.get('jobs', 'ctl', 'init'), 'Complete')?.status === 'True',
    );
    const job = await batch.readNamespacedJob({ name: 'init', namespace: 'ctl' });
    assert.equal(job.status?.succeeded, 1);
    assert.ok(job.status?.completionTime);
    assert.equal(
      job.spec?.selector?.matchLabels?.['batch.kubernetes.io/controller-uid'],
      job.metadata?.uid,
    );
    await batch.deleteNamespacedJob({ name: 'init', namespace: 'ctl' });
    await cluster.waitFor(() => cluster.store.get('jobs', 'ctl', 'init') === undefined);
    const [pod] = cluster.store.list('pods', { namespace: 'ctl', labelSelector: 'job-name=init' });
    assert.equal(pod?.metadata.ownerReferences, undefined, 'the pod was orphaned, not deleted');
  });

  test('a registered CRD is served, and deleting a custom resource collects what it owns', async () => {
    await cluster.registerCrd({
      group: 'milvus.io',
      kind: 'Milvus',
      versions: ['v1beta1'],
      plural: 'milvuses',
    });
    const custom = kc.makeApiClient(CustomObjectsApi);
    const milvus = await custom.createNamespacedCustomObject({
      group: 'milvus.io',
      version: 'v1beta1',
      namespace: 'ctl',
      plural: 'milvuses',
      body: {
        apiVersion: 'milvus.io/v1beta1',
        kind: 'Milvus',
        metadata: { name: 'my-release' },
        spec: { components: { image: 'milvusdb/milvus:v2.5.16' } },
      },
    });
    const owned = webDeployment('my-release-milvus-proxy', 1);
    owned.metadata = {
      ...owned.metadata,
      labels: { 'app.kubernetes.io/managed-by': 'milvus-operator' },
      ownerReferences: [
        {
          apiVersion: 'milvus.io/v1beta1',
          kind: 'Milvus',
          name: 'my-release',
          uid: milvus.metadata.uid,
          controller: true,
        },
      ],
    };
    await apps.createNamespacedDeployment({ namespace: 'ctl', body: owned });
    const read = await custom.getNamespacedCustomObject({
      group: 'milvus.io',
      version: 'v1beta1',
      namespace: 'ctl',
      plural: 'milvuses',
      name: 'my-release',
    });
    assert.equal(read.spec.components.image, 'milvusdb/milvus:v2.5.16');
    assert.equal(read.metadata.generation, 1);
    await custom.deleteNamespacedCustomObject({
      group: 'milvus.io',
      version: 'v1beta1',
      namespace: 'ctl',
      plural: 'milvuses',
      name: 'my-release',
    });
    await cluster.waitFor(
      () => cluster.store.get('deploy', 'ctl', 'my-release-milvus-proxy') === undefined,
    );
    await cluster.waitFor(
      () =>
        cluster.store.list('pods', {
          namespace: 'ctl',
          labelSelector: 'app=my-release-milvus-proxy',
        }).length === 0,
    );
  });

  test('server-side apply drops what the manager no longer sets and keeps the rest', async () => {
    const objects = KubernetesObjectApi.makeApiClient(kc);
    const apply = (data: Record<string, string>) =>
      objects.patch(
        {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'applied', namespace: 'ctl' },
          data,
        },
        undefined,
        undefined,
        'helm',
        false,
        PatchStrategy.ServerSideApply,
      );
    await apply({ a: '1', b: '2' });
    await objects.patch(
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'applied', namespace: 'ctl', labels: { by: 'other' } },
      },
      undefined,
      undefined,
      'other',
      undefined,
      PatchStrategy.MergePatch,
    );
    await apply({ a: '3' });
    const cm = await core.readNamespacedConfigMap({ name: 'applied', namespace: 'ctl' });
    assert.deepEqual(cm.data, { a: '3' });
    assert.deepEqual(cm.metadata?.labels, { by: 'other' });
  });

  test('Services keep their cluster IP through a replace, get node ports, endpoints and a proxy', async () => {
    const created = await core.createNamespacedService({
      namespace: 'ctl',
      body: {
        metadata: { name: 'proxy' },
        spec: {
          type: 'NodePort',
          selector: { app: 'roll' },
          ports: [{ name: 'milvus', port: 19530 }],
        },
      },
    });
    assert.match(created.spec?.clusterIP ?? '', /^10\.96\./);
    assert.ok((created.spec?.ports?.[0]?.nodePort ?? 0) >= 30000);
    const replaced = await core.replaceNamespacedService({
      name: 'proxy',
      namespace: 'ctl',
      body: {
        metadata: { name: 'proxy' },
        spec: {
          type: 'NodePort',
          selector: { app: 'roll' },
          ports: [{ name: 'milvus', port: 19530 }],
        },
      },
    });
    assert.equal(replaced.spec?.clusterIP, created.spec?.clusterIP);
    assert.equal(replaced.spec?.ports?.[0]?.nodePort, created.spec?.ports?.[0]?.nodePort);
    await cluster.waitFor(
      () =>
        (cluster.store.get('endpoints', 'ctl', 'proxy')?.subsets as unknown[] | undefined)
          ?.length === 1,
    );
    const endpoints = await core.readNamespacedEndpoints({ name: 'proxy', namespace: 'ctl' });
    assert.equal(endpoints.subsets?.[0]?.addresses?.length, 4);
    assert.equal(endpoints.subsets?.[0]?.ports?.[0]?.port, 19530);
    const health = await core.connectGetNamespacedServiceProxyWithPath({
      name: 'proxy:milvus',
      namespace: 'ctl',
      path: 'healthz',
    });
    assert.equal(health, 'OK');
    await core.createNamespacedService({
      namespace: 'ctl',
      body: {
        metadata: { name: 'empty' },
        spec: { selector: { app: 'nothing' }, ports: [{ port: 9091 }] },
      },
    });
    await assert.rejects(
      core.connectGetNamespacedServiceProxyWithPath({
        name: 'empty',
        namespace: 'ctl',
        path: 'healthz',
      }),
      (error: unknown) => error instanceof ApiException && error.code === 503,
    );
  });

  test('a watch resumes from a resourceVersion, and deleting a namespace empties it first', async () => {
    await core.createNamespace({ body: { metadata: { name: 'doomed' } } });
    await core.createNamespacedConfigMap({
      namespace: 'doomed',
      body: { metadata: { name: 'one' } },
    });
    const list = await core.listNamespacedConfigMap({ namespace: 'doomed' });
    await core.createNamespacedConfigMap({
      namespace: 'doomed',
      body: { metadata: { name: 'two' } },
    });
    const seen: string[] = [];
    const controller = await new Watch(kc).watch(
      '/api/v1/namespaces/doomed/configmaps',
      { resourceVersion: list.metadata?.resourceVersion },
      (type, object: KubeObject) => seen.push(`${type} ${object.metadata.name}`),
      () => {},
    );
    // The answer is the namespace itself, now Terminating, not a success Status.
    const deleting = (await core.deleteNamespace({ name: 'doomed' })) as unknown as KubeObject;
    assert.deepEqual(deleting.status, { phase: 'Terminating' });
    await assert.rejects(
      core.createNamespacedConfigMap({ namespace: 'doomed', body: { metadata: { name: 'late' } } }),
    );
    await cluster.waitFor(() => cluster.store.get('namespaces', undefined, 'doomed') === undefined);
    await cluster.waitFor(() => seen.length >= 4);
    controller.abort();
    assert.equal(seen[0], 'ADDED two', 'only what happened after the listed version');
    assert.ok(seen.includes('DELETED one') && seen.includes('DELETED two'));
  });
});
