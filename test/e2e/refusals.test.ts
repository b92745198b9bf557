// Clusters and inputs the action must refuse: each refusal says what and what to do next, and
// leaves the release exactly as it was (no new revision, no write from Helm).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { FIXTURE_REPO, helm, installMilvus, startWorld, type World } from '../support/harness.ts';
import {
  act,
  api,
  apiWrites,
  assertRecordsUnchanged,
  assertRefused,
  failure,
  releaseRecords,
  tail,
  type Where,
} from './checks.ts';

/** Runs the action on `where` and checks it refused without touching the release. */
async function refused(
  world: World,
  w: Required<Where>,
  what: RegExp,
  next: RegExp,
  inputs: Record<string, string> = {},
): Promise<string> {
  const records = await releaseRecords(world, w);
  const since = Date.now();
  const run = await act(world, { 'release-name': w.release, namespace: w.namespace, ...inputs });
  const message = assertRefused(run, what, next);
  await assertRecordsUnchanged(world, records, w);
  assert.deepEqual(apiWrites(world, since), [], 'nothing was written');
  assert.equal(run.outputs.upgraded ?? 'false', 'false');
  return message;
}

/**
 * Adds a revision in `pending-upgrade` to a release, as Helm leaves one when it is killed during
 * an upgrade: a copy of the latest record with the next version number and the pending status.
 */
async function makePending(world: World, w: Required<Where>): Promise<void> {
  const { core } = api(world);
  const name = `sh.helm.release.v1.${w.release}.v1`;
  const secret = await core.readNamespacedSecret({ name, namespace: w.namespace });
  const encoded = Buffer.from(secret.data?.release ?? '', 'base64').toString();
  const record = JSON.parse(gunzipSync(Buffer.from(encoded, 'base64')).toString());
  record.version = 2;
  record.info.status = 'pending-upgrade';
  record.info.description = 'Preparing upgrade';
  const payload = gzipSync(Buffer.from(JSON.stringify(record))).toString('base64');
  await core.createNamespacedSecret({
    namespace: w.namespace,
    body: {
      metadata: {
        name: `sh.helm.release.v1.${w.release}.v2`,
        labels: { name: w.release, owner: 'helm', status: 'pending-upgrade', version: '2' },
      },
      type: 'helm.sh/release.v1',
      data: { release: Buffer.from(payload).toString('base64') },
    },
  });
}

describe('refusals', () => {
  let world: World;
  const at = (name: string): Required<Where> => ({ release: name, namespace: name });
  before(async () => {
    const names = ['rc', 'web', 'pending', 'sick', 'operator'];
    world = await startWorld({ rolloutMs: 30, namespaces: names });
    const milvus25 = { chartVersion: '4.2.30', milvusVersion: 'v2.5.10', mq: 'pulsarv3' } as const;
    await Promise.all([
      installMilvus(world, {
        ...at('rc'),
        chartVersion: '5.0.0',
        milvusVersion: 'v2.6.0-rc1',
        layout: 'mixcoord',
        mq: 'pulsarv3',
      }),
      helm(world, [
        'install',
        'web',
        `${FIXTURE_REPO}/webapp`,
        '--version',
        '1.0.0',
        '--namespace',
        'web',
        '--wait',
        '--timeout',
        '1m',
      ]),
      installMilvus(world, { ...at('pending'), ...milvus25, layout: 'mixcoord' }),
      installMilvus(world, { ...at('sick'), ...milvus25, layout: 'separate' }),
    ]);
    await makePending(world, at('pending'));
  });
  after(() => world.stop());

  test('a 2.6.0-rc1 cluster', async () => {
    await refused(
      world,
      at('rc'),
      /runs the pre-release v2\.6\.0-rc1\. Pre-releases cannot be upgraded/,
      /community guide for repairing a 2\.6\.0-rc1 deployment/,
    );
  });

  test('a release that does not exist, and a namespace that does not exist', async () => {
    await refused(
      world,
      { release: 'absent', namespace: 'default' },
      /^Helm has no release absent in the namespace default\.$/,
      /Check the release-name and namespace inputs/,
    );
    await refused(
      world,
      { release: 'absent', namespace: 'nowhere' },
      /^The namespace nowhere does not exist in the cluster\.$/,
      /Check the namespace input and the kubeconfig/,
    );
  });

  test('swapped chart versions, before anything changes', async () => {
    await refused(
      world,
      at('sick'),
      /^intermediate-chart-version 5\.0\.0 is a chart of Milvus 2\.6\.0, but hop 1 lands on Milvus 2\.5: its defaults would deploy the wrong components\.$/,
      /^Set intermediate-chart-version to a milvus chart of the 2\.5 series/,
      { 'intermediate-chart-version': '5.0.0', 'target-chart-version': '4.2.58' },
    );
  });

  test('a release of another chart', async () => {
    await refused(
      world,
      at('web'),
      /release web in namespace web is of the chart webapp-1\.0\.0, not of the milvus chart/,
      /Point release-name at the release of the Milvus Helm chart/,
    );
  });

  test('a release with an upgrade pending', async () => {
    await refused(
      world,
      at('pending'),
      /release pending in namespace pending is pending-upgrade at revision 2: another Helm operation is in progress/,
      /helm history pending --namespace pending/,
    );
  });

  test('an unhealthy cluster', async (t) => {
    t.after(() => world.cluster.faults.clearUnready());
    // Resolves once the querynode pod reports Ready=False.
    await world.cluster.faults.unready(
      'app.kubernetes.io/instance=sick,component=querynode',
      'NotReady',
    );
    const [querynode] = (
      await api(world).core.listNamespacedPod({
        namespace: 'sick',
        labelSelector: 'app.kubernetes.io/instance=sick,component=querynode',
      })
    ).items;
    const message = await refused(
      world,
      at('sick'),
      /The cluster is not healthy: 1 pod\(s\) of the release sick in namespace sick are not ready: /,
      /Fix the cluster until every pod is ready/,
    );
    assert.ok(message.includes(`${querynode?.metadata?.name} (`), 'names the pod');
  });

  test('a cluster managed by the Milvus Operator', async () => {
    await world.cluster.registerCrd({ group: 'milvus.io', kind: 'Milvus', versions: ['v1beta1'] });
    const milvus = await world.cluster.store.create({
      apiVersion: 'milvus.io/v1beta1',
      kind: 'Milvus',
      metadata: { name: 'operator', namespace: 'operator' },
      spec: { mode: 'cluster', components: { image: 'milvusdb/milvus:v2.5.10' } },
    });
    const labels = {
      'app.kubernetes.io/instance': 'operator',
      'app.kubernetes.io/name': 'milvus',
      'app.kubernetes.io/managed-by': 'milvus-operator',
    };
    for (const component of ['mixcoord', 'proxy', 'querynode', 'datanode', 'indexnode']) {
      await world.cluster.store.create({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: {
          name: `operator-milvus-${component}`,
          namespace: 'operator',
          labels: { ...labels, component },
          ownerReferences: [
            {
              apiVersion: 'milvus.io/v1beta1',
              kind: 'Milvus',
              name: 'operator',
              uid: milvus.metadata.uid ?? '',
              controller: true,
            },
          ],
        },
        spec: {
          replicas: 1,
          selector: { matchLabels: { ...labels, component } },
          template: {
            metadata: { labels: { ...labels, component } },
            spec: { containers: [{ name: component, image: 'milvusdb/milvus:v2.5.10' }] },
          },
        },
      });
    }
    const generations = async () =>
      (await world.cluster.store.list('deployments', { namespace: 'operator' })).map((d) => [
        d.metadata.name,
        d.metadata.generation,
      ]);
    const before = await generations();
    await refused(
      world,
      at('operator'),
      /managed by the Milvus Operator \(operator-milvus-\w+: owned by the Milvus resource operator\)/,
      /Upgrade it through the operator/,
    );
    assert.deepEqual(await generations(), before, 'the Deployments were not touched');
  });

  test('bad inputs are refused all at once, before any network use', async () => {
    const since = Date.now();
    const mirror = world.mirror.requests.length;
    const repo = world.repo.requests;
    const run = await act(
      world,
      {
        'release-name': 'My_Milvus',
        namespace: 'Not_A_Namespace',
        'target-version': 'v2.7.0',
        'intermediate-version': 'v2.5.10',
        'target-chart-version': '5.0',
        'chart-repository': 'ftp://charts.example.com',
        'helm-version': 'v3.12.0',
        'helm-sha256': 'abc',
        timeout: 'forever',
        'dry-run': 'maybe',
        'values-files': '/nonexistent/values.yaml',
      },
      { masked: false },
    );
    assert.equal(run.exitCode, 1, tail(run));
    const message = failure(run);
    assert.match(message, /^Invalid inputs:\n/);
    for (const name of [
      'release-name',
      'namespace',
      'target-version',
      'intermediate-version',
      'target-chart-version',
      'chart-repository',
      'helm-version',
      'helm-sha256',
      'timeout',
      'dry-run',
      'values-files',
    ]) {
      assert.match(message, new RegExp(`\\n- ${name}: `), `names ${name}`);
    }
    assert.match(message, /\nNothing was changed; fix the workflow's with: block and re-run\.$/);
    assert.match(run.summary, /<h2>❌ Upgrade of My_Milvus failed<\/h2>/);
    assert.match(run.summary, /Release `My_Milvus` in namespace `Not_A_Namespace`/);
    assert.equal(world.cluster.requests.count({ since }), 0, 'no request to the cluster');
    assert.equal(world.mirror.requests.length, mirror, 'no Helm download');
    assert.equal(world.repo.requests, repo, 'no chart repository request');
    assert.match(run.summary, /<h2>❌ Upgrade of [^<]* failed<\/h2>/);
  });

  test('more bad inputs: each names the problem and the fix', async () => {
    const cases: [Record<string, string>, RegExp, boolean][] = [
      [{ 'release-name': '' }, /release-name is required/, false],
      [
        { 'target-version': 'v2.6.0-rc1' },
        /target-version: 'v2\.6\.0-rc1' is not valid; the target must be a 2\.6\.x release \(not a pre-release\)/,
        false,
      ],
      [
        { 'intermediate-version': 'v2.4.9' },
        /the first hop must land on a 2\.5\.x release of at least v2\.5\.16/,
        false,
      ],
      [{ kubeconfig: 'clusters: [oops' }, /The kubeconfig input is not a valid kubeconfig/, false],
      [{ 'kube-context': 'nope' }, /The kubeconfig has no context 'nope'; it has: test\./, true],
    ];
    for (const [inputs, expected, masked] of cases) {
      const since = Date.now();
      const run = await act(
        world,
        { 'release-name': 'pending', namespace: 'pending', ...inputs },
        { masked },
      );
      assert.equal(run.exitCode, 1, tail(run));
      assert.match(failure(run), expected);
      assert.match(failure(run), /Nothing was changed|Cluster state: unchanged/);
      assert.equal(world.cluster.requests.count({ since, userAgent: /^Helm\// }), 0);
    }
  });
});

describe('Kubernetes 1.19', () => {
  let world: World;
  before(async () => {
    world = await startWorld({ rolloutMs: 30, kubernetesVersion: '1.19.16' });
    await installMilvus(world, {
      chartVersion: '4.2.30',
      milvusVersion: 'v2.5.10',
      layout: 'mixcoord',
      mq: 'pulsarv3',
    });
  });
  after(() => world.stop());

  test('is refused before the release is read', async () => {
    const since = Date.now();
    await refused(
      world,
      { release: 'my-milvus', namespace: 'default' },
      /^The cluster runs Kubernetes v1\.19\.16; Milvus 2\.6 and its chart need 1\.20\.0 or newer\.$/,
      /^Upgrade Kubernetes first, then re-run\.$/,
    );
    assert.equal(
      world.cluster.requests.count({ since, userAgent: /^Helm\//, resource: 'secrets' }),
      0,
      'Helm did not even read the release',
    );
  });
});
