// The test cluster against the real Helm binaries: a whole release lifecycle per Helm version.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gte } from 'semver';
import { HELM_VERSIONS, helmBinary } from '../support/helm-binaries.ts';
import { type KubeObject, startTestCluster, type TestCluster } from './index.ts';

const CHART = fileURLToPath(new URL('./fixtures/demo-chart', import.meta.url));
const NS = 'apps';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

type Status = Record<string, unknown>;
const status = (o: KubeObject | undefined): Status => (o?.status ?? {}) as Status;
const spec = (o: KubeObject | undefined): Status => (o?.spec ?? {}) as Status;
const images = (pods: KubeObject[]) =>
  pods.map((p) => (p.spec as { containers: { image: string }[] }).containers[0]?.image);
const ready = (pod: KubeObject) =>
  ((pod.status as { conditions?: { type: string; status: string }[] }).conditions ?? []).some(
    (c) => c.type === 'Ready' && c.status === 'True',
  );

describe('real Helm against the test cluster', { concurrency: true }, () => {
  for (const version of HELM_VERSIONS) {
    describe(`Helm ${version}`, { concurrency: 1 }, () => {
      const helm4 = version.startsWith('v4.');
      const wait = helm4 ? '--wait=watcher' : '--wait';
      const agent = `Helm/${version.slice(1)}`;
      let cluster: TestCluster;
      let env: NodeJS.ProcessEnv;

      const helm = (...args: string[]): Promise<Result> =>
        new Promise((resolve) => {
          execFile(helmBinary(version), args, { env, timeout: 60_000 }, (error, stdout, stderr) => {
            resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
          });
        });
      const ok = async (...args: string[]): Promise<string> => {
        const result = await helm(...args);
        assert.equal(result.code, 0, `helm ${args.join(' ')} failed: ${result.stderr}`);
        return result.stdout;
      };
      const json = async (...args: string[]) => JSON.parse(await ok(...args, '-o', 'json'));
      const webPods = () =>
        cluster.store
          .list('pods', { namespace: NS, labelSelector: 'app.kubernetes.io/component=web' })
          .filter((p) => !p.metadata.deletionTimestamp);

      before(async () => {
        cluster = await startTestCluster({ rolloutMs: 50, terminationMs: 20, crashLoopMs: 200 });
        env = { PATH: process.env.PATH, HOME: cluster.dir, ...cluster.env(version) };
      });
      after(() => cluster?.stop());

      test('install --wait brings every workload up', async () => {
        await ok(
          'install',
          'demo',
          CHART,
          '-n',
          NS,
          '--create-namespace',
          wait,
          '--timeout',
          '30s',
          '--set',
          'greeting=hello',
        );
        const deployment = cluster.store.get('deployments', NS, 'demo-web');
        assert.equal(status(deployment).availableReplicas, 2);
        assert.equal(status(deployment).observedGeneration, deployment?.metadata.generation);
        assert.deepEqual(images(webPods()), [
          'registry.example/web:1.25',
          'registry.example/web:1.25',
        ]);
        assert.ok(webPods().every(ready));
        const db = cluster.store.get('pods', NS, 'demo-db-0');
        assert.ok(db && ready(db));
        assert.equal(status(cluster.store.get('pvc', NS, 'data-demo-db-0')).phase, 'Bound');
        assert.match(
          String(spec(cluster.store.get('services', NS, 'demo-web')).clusterIP),
          /^10\.9\d\./,
        );
        assert.equal(spec(cluster.store.get('services', NS, 'demo-db')).clusterIP, 'None');
        const hook = cluster.store.get('jobs', NS, 'demo-migrate');
        assert.equal(status(hook).succeeded, 1, 'the post-install hook Job ran to completion');
        const release = cluster.store.get('secrets', NS, 'sh.helm.release.v1.demo.v1');
        assert.equal(release?.metadata.labels?.status, 'deployed');
        assert.equal(release?.type, 'helm.sh/release.v1');
      });

      test('upgrade --reset-then-reuse-values changes an image and drops an object', async () => {
        const clusterIP = spec(cluster.store.get('services', NS, 'demo-web')).clusterIP;
        const oldRs = cluster.store.list('replicasets', { namespace: NS })[0];
        await ok(
          'upgrade',
          'demo',
          CHART,
          '-n',
          NS,
          '--reset-then-reuse-values',
          wait,
          '--timeout',
          '30s',
          '--set',
          'image.tag=1.26',
          '--set',
          'extra.enabled=false',
        );
        const deployment = cluster.store.get('deployments', NS, 'demo-web');
        assert.equal(deployment?.metadata.generation, 2);
        assert.equal(status(deployment).observedGeneration, 2);
        assert.equal(status(deployment).updatedReplicas, 2);
        assert.deepEqual(images(webPods()), [
          'registry.example/web:1.26',
          'registry.example/web:1.26',
        ]);
        assert.ok(webPods().every(ready));
        assert.equal(
          cluster.store.get('configmaps', NS, 'demo-extra'),
          undefined,
          'dropped from the chart',
        );
        assert.equal(
          cluster.store.get('configmaps', NS, 'demo-config')?.data?.valueOf().constructor,
          Object,
        );
        assert.deepEqual(cluster.store.get('configmaps', NS, 'demo-config')?.data, {
          greeting: 'hello',
        });
        const kept = cluster.store.get('replicasets', NS, oldRs?.metadata.name ?? '');
        assert.equal(spec(kept).replicas, 0, 'the old ReplicaSet is scaled to zero and kept');
        assert.equal(spec(cluster.store.get('services', NS, 'demo-web')).clusterIP, clusterIP);
        await cluster.waitFor(
          () =>
            images(
              cluster.store.list('pods', {
                namespace: NS,
                labelSelector: 'app.kubernetes.io/component=db',
              }),
            )[0] === 'registry.example/db:1.26',
        );
        assert.equal(status(cluster.store.get('statefulsets', NS, 'demo-db')).updatedReplicas, 1);
      });

      test('status, get values, history and list read the release', async () => {
        const current = await json('status', 'demo', '-n', NS);
        assert.equal(current.info.status, 'deployed');
        assert.equal(current.version, 2);
        assert.deepEqual(await json('get', 'values', 'demo', '-n', NS), {
          extra: { enabled: false },
          greeting: 'hello',
          image: { tag: '1.26' },
        });
        const all = await json('get', 'values', 'demo', '-n', NS, '--all');
        assert.equal(all.image.repository, 'registry.example/web');
        assert.equal(all.replicas, 2);
        const history = await json('history', 'demo', '-n', NS);
        assert.deepEqual(
          history.map((h: { revision: number; status: string }) => [h.revision, h.status]),
          [
            [1, 'superseded'],
            [2, 'deployed'],
          ],
        );
        const list = await json('list', '-n', NS);
        assert.equal(list.length, 1);
        assert.equal(list[0].name, 'demo');
        assert.equal(list[0].status, 'deployed');
        assert.equal(list[0].chart, 'demo-0.1.0');
        assert.equal(String(list[0].revision), '2');
      });

      test('upgrade --dry-run=server changes nothing', async () => {
        const out = await ok(
          'upgrade',
          'demo',
          CHART,
          '-n',
          NS,
          '--reset-then-reuse-values',
          '--dry-run=server',
          '--set',
          'image.tag=9.9',
        );
        assert.match(out, /registry\.example\/web:9\.9/);
        assert.deepEqual(images(webPods()), [
          'registry.example/web:1.26',
          'registry.example/web:1.26',
        ]);
        assert.equal(cluster.store.get('secrets', NS, 'sh.helm.release.v1.demo.v3'), undefined);
      });

      test('rollback --wait restores revision 1', async () => {
        await ok('rollback', 'demo', '1', '-n', NS, wait, '--timeout', '30s');
        assert.deepEqual(images(webPods()), [
          'registry.example/web:1.25',
          'registry.example/web:1.25',
        ]);
        assert.ok(webPods().every(ready));
        assert.ok(cluster.store.get('configmaps', NS, 'demo-extra'), 'the dropped object is back');
        const history = await json('history', 'demo', '-n', NS);
        assert.deepEqual(history.at(-1).revision, 3);
        assert.deepEqual(history.at(-1).status, 'deployed');
      });

      test('--wait --timeout 3s fails on pods that never become ready', async () => {
        cluster.faults.unready('app.kubernetes.io/component=web');
        try {
          const started = Date.now();
          const result = await helm(
            'upgrade',
            'demo',
            CHART,
            '-n',
            NS,
            '--reset-then-reuse-values',
            wait,
            '--timeout',
            '3s',
            '--set',
            'image.tag=1.27',
          );
          assert.notEqual(result.code, 0);
          assert.match(result.stderr, /timed out|deadline exceeded|not ready/i);
          assert.ok(Date.now() - started >= 3000, 'helm waited for its timeout');
          assert.equal((await json('status', 'demo', '-n', NS)).info.status, 'failed');
          const crashing = webPods().flatMap(
            (p) =>
              (p.status as { containerStatuses: { state: { waiting?: { reason: string } } }[] })
                .containerStatuses,
          );
          assert.ok(crashing.some((s) => s.state.waiting?.reason === 'CrashLoopBackOff'));
        } finally {
          cluster.faults.clearUnready();
        }
      });

      test('the requests: watches or polls, protobuf release records, apply', () => {
        const deploymentWatches = cluster.requests.count({
          userAgent: agent,
          verb: 'watch',
          resource: 'deployments.apps',
        });
        const deploymentGets = cluster.requests.count({
          userAgent: agent,
          verb: 'get',
          resource: 'deployments.apps',
        });
        if (helm4) assert.ok(deploymentWatches > 0, 'Helm 4 watched Deployments');
        else {
          assert.equal(deploymentWatches, 0);
          assert.ok(deploymentGets >= 3, 'Helm 3 polled Deployments');
        }
        // The typed clients of client-go 0.32 and later (Helm 3.17 and later) send built-in
        // objects as protobuf; older ones send JSON.
        const contentType = gte(version, '3.17.0')
          ? 'application/vnd.kubernetes.protobuf'
          : 'application/json';
        assert.ok(
          cluster.requests.count({
            userAgent: agent,
            resource: 'secrets',
            method: 'POST',
            contentType,
          }) > 0,
          `release records were written as ${contentType}`,
        );
        if (helm4) {
          const applied = cluster.requests.count({
            userAgent: agent,
            verb: 'patch',
            contentType: 'application/apply-patch+yaml',
          });
          assert.ok(applied > 0, 'Helm 4 used server-side apply');
        }
        const refused = cluster.requests
          .filter({ userAgent: agent })
          .filter((r) => r.status >= 400 && r.status !== 404);
        assert.deepEqual(
          refused.map((r) => `${r.method} ${r.path} ${r.status}`),
          [],
        );
      });
    });
  }
});
