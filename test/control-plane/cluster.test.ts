// Smoke test of the real control plane: it starts, reports the pinned Kubernetes release, and
// real Helm installs charts into it with --wait (Deployments, StatefulSets with claims, Jobs).
// The first run builds the binaries (about 15 minutes on 2 cores); later runs start in seconds.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { buildChartRepository, chartArchive } from '../support/chart-repo.ts';
import { type HelmVersion, helmBinary } from '../support/helm-binaries.ts';
import { FIXTURE_SECRETS } from '../support/milvus-release.ts';
import { pinnedVersion } from './build.ts';
import { type ControlPlane, startControlPlane } from './cluster.ts';

const execFileAsync = promisify(execFile);

let cluster: ControlPlane;

before(async () => {
  await buildChartRepository();
  cluster = await startControlPlane({ rolloutMs: 200 });
});

after(async () => {
  await cluster?.stop();
});

async function helm(args: string[], version: HelmVersion = 'v3.18.0'): Promise<string> {
  const env = { ...process.env, ...cluster.env('helm') };
  const { stdout } = await execFileAsync(helmBinary(version), args, { env });
  return stdout;
}

interface Items<T> {
  items: T[];
}
interface Workload {
  metadata: { name: string };
  spec: { replicas: number };
  status: { readyReplicas?: number };
}

test('reports the pinned Kubernetes release', async () => {
  const version = await cluster.api<{ gitVersion: string }>('GET', '/version');
  assert.equal(version.gitVersion, pinnedVersion('kubernetes'));
  assert.match(version.gitVersion, /^v1\.35\.\d+$/);
});

for (const version of ['v3.18.0', 'v4.1.4'] as const) {
  test(`real Helm ${version} installs a chart and waits for its Deployment`, async () => {
    const release = `web-${version.replace(/\W/g, '')}`;
    const args = ['install', release, chartArchive('1.0.0', 'webapp'), '--wait', '--timeout', '2m'];
    await helm(args, version);
    const deployment = await cluster.api<Workload>(
      'GET',
      `/apis/apps/v1/namespaces/default/deployments/${release}-webapp`,
    );
    assert.equal(deployment.status.readyReplicas, 1);
  });
}

test('real Helm installs the fixture Milvus chart: pods Ready, claims Bound', async () => {
  await helm([
    'install',
    'my-milvus',
    chartArchive('4.2.20'),
    '--namespace',
    'milvus',
    '--create-namespace',
    '--set',
    `minio.accessKey=${FIXTURE_SECRETS.minioAccessKey}`,
    '--set',
    `minio.secretKey=${FIXTURE_SECRETS.minioSecretKey}`,
    '--wait',
    '--wait-for-jobs',
    '--timeout',
    '5m',
  ]);
  const ns = '/namespaces/milvus';
  const sets = await cluster.api<Items<Workload>>('GET', `/apis/apps/v1${ns}/statefulsets`);
  assert.ok(sets.items.length > 0, 'the chart renders StatefulSets');
  for (const set of sets.items) {
    assert.equal(set.status.readyReplicas ?? 0, set.spec.replicas, set.metadata.name);
  }
  const claims = await cluster.api<Items<{ status: { phase: string } }>>(
    'GET',
    `/api/v1${ns}/persistentvolumeclaims`,
  );
  assert.ok(claims.items.length > 0, 'the StatefulSets claim volumes');
  assert.deepEqual(new Set(claims.items.map((claim) => claim.status.phase)), new Set(['Bound']));
  const pods = await cluster.api<Items<{ status: { phase: string } }>>('GET', `/api/v1${ns}/pods`);
  const phases = new Set(pods.items.map((pod) => pod.status.phase));
  assert.ok(
    [...phases].every((phase) => phase === 'Running' || phase === 'Succeeded'),
    [...phases].join(),
  );
});
