// The re-run the action advises after a stopped hop 1 must keep the release's Pulsar v2: Helm's
// --reset-then-reuse-values reuses the last *deployed* revision, not the failed one, so only
// Helm's own dry run can say which pins the resumed hop needs. Both Helm majors.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { installMilvus, startWorld, type World } from '../support/harness.ts';
import type { HelmVersion } from '../support/helm-binaries.ts';
import {
  act,
  api,
  assertAt264,
  assertSucceeded,
  failure,
  jsonOutputs,
  releaseRecords,
  tail,
} from './checks.ts';

const PINS = ['pulsar.enabled=true', 'pulsarv3.enabled=false'];

/** Names of the StatefulSets and Deployments of the namespace. */
async function workloads(world: World): Promise<string[]> {
  const { apps } = api(world);
  const [sets, deployments] = await Promise.all([
    apps.listNamespacedStatefulSet({ namespace: 'default' }),
    apps.listNamespacedDeployment({ namespace: 'default' }),
  ]);
  return [...sets.items, ...deployments.items].map((item) => item.metadata?.name ?? '');
}

async function assertPulsarV2Kept(world: World, pulsarUids: Record<string, string>) {
  const names = await workloads(world);
  assert.deepEqual(
    names.filter((name) => name.includes('pulsarv3')),
    [],
    'no Pulsar v3 workload',
  );
  const { apps } = api(world);
  const sets = await apps.listNamespacedStatefulSet({ namespace: 'default' });
  for (const [name, uid] of Object.entries(pulsarUids)) {
    const set = sets.items.find((item) => item.metadata?.name === name);
    assert.equal(set?.metadata?.uid, uid, `${name} is the same StatefulSet`);
  }
}

/** A world with a release on chart 4.2.20's default Pulsar v2, and its Pulsar StatefulSets' uids. */
async function pulsarV2World(helmVersion: HelmVersion) {
  const world = await startWorld({ rolloutMs: 30, helmVersion });
  await installMilvus(world, {
    chartVersion: '4.2.20',
    milvusVersion: 'v2.5.10',
    layout: 'separate',
    mq: 'pulsar',
  });
  const sets = await api(world).apps.listNamespacedStatefulSet({ namespace: 'default' });
  const pulsarUids = Object.fromEntries(
    sets.items
      .filter((set) => set.metadata?.name?.includes('-pulsar-'))
      .map((set) => [set.metadata?.name ?? '', set.metadata?.uid ?? '']),
  );
  assert.ok(Object.keys(pulsarUids).length >= 4, 'Pulsar v2 StatefulSets installed');
  return { world, pulsarUids };
}

for (const helmVersion of ['v3.18.0', 'v4.1.4'] as HelmVersion[]) {
  const major = helmVersion.startsWith('v4') ? 4 : 3;
  describe(`Helm ${major}: a re-run after a stopped hop 1 keeps Pulsar v2`, () => {
    let world: World;
    let pulsarUids: Record<string, string>;
    before(async () => {
      ({ world, pulsarUids } = await pulsarV2World(helmVersion));
    });
    after(() => world.stop());

    test('hop 1 fails on a mixcoord that never gets ready; the advice names revision 1', async () => {
      await world.cluster.faults.unready('component=mixcoord', 'NotReady');
      const run = await act(world, { timeout: '5s' });
      assert.equal(run.exitCode, 1, tail(run));
      const message = failure(run);
      assert.match(message, /^Hop 1 \(v2\.5\.10 → v2\.5\.16\) failed/);
      assert.match(message, /helm rollback my-milvus 1 --namespace default --wait/);
      const records = await releaseRecords(world);
      assert.deepEqual(
        records.map((r) => [r.revision, r.status]),
        [
          [1, 'deployed'],
          [2, 'failed'],
        ],
      );
      await assertPulsarV2Kept(world, pulsarUids);
    });

    test('a second failed attempt still advises the deployed revision 1, never the failed one', async () => {
      const run = await act(world, { timeout: '5s' });
      assert.equal(run.exitCode, 1, tail(run));
      const message = failure(run);
      assert.match(message, /helm rollback my-milvus 1 --namespace default --wait/);
      assert.deepEqual(jsonOutputs(run).plan[0]?.pins, PINS);
      await assertPulsarV2Kept(world, pulsarUids);
    });

    test('the re-run pins Pulsar v2 again and ends at v2.6.4 on the same Pulsar', async () => {
      await world.cluster.faults.clearUnready();
      const run = await act(world, { timeout: '1m' });
      assertSucceeded(run);
      const { plan } = jsonOutputs(run);
      assert.deepEqual(
        plan.map((hop) => [hop.hop, hop.resume, hop.pins]),
        [
          [1, true, PINS],
          [2, false, []],
        ],
      );
      assert.equal(run.outputs['message-queue'], 'pulsar');
      await assertAt264(world, 5);
      await assertPulsarV2Kept(world, pulsarUids);
      for (const record of (await releaseRecords(world)).slice(1)) {
        const config = record.config as Record<string, { enabled?: boolean }>;
        assert.equal(config.pulsar?.enabled, true, `revision ${record.revision} keeps pulsar`);
        assert.equal(config.pulsarv3?.enabled, false, `revision ${record.revision}: no v3`);
      }
    });
  });
}

for (const helmVersion of ['v3.18.0', 'v4.1.4'] as HelmVersion[]) {
  const major = helmVersion.startsWith('v4') ? 4 : 3;
  describe(`Helm ${major}: a job cancelled during hop 1, then run again`, () => {
    let world: World;
    let pulsarUids: Record<string, string>;
    before(async () => {
      ({ world, pulsarUids } = await pulsarV2World(helmVersion));
    });
    after(() => world.stop());

    test('the cancelled run lets Helm record the hop as failed, reports, and cleans up', async () => {
      await world.cluster.faults.unready('component=mixcoord', 'NotReady');
      const run = await act(
        world,
        { timeout: '5m' },
        { cancelWhen: { output: /\nhelm upgrade my-milvus /, afterMs: 1500 } },
      );
      assert.deepEqual(run.signalsSent, ['SIGINT'], 'done before the runner escalates');
      assert.equal(run.exitCode, 1, tail(run));
      const message = failure(run);
      assert.match(
        message,
        /^Hop 1 \(v2\.5\.10 → v2\.5\.16\) failed: the run was cancelled \(SIGINT\)/,
      );
      assert.match(
        message,
        /\nCluster state: hop 1 to v2\.5\.16 failed; release at revision 2 \(failed, chart 4\.2\.58\)\./,
      );
      assert.match(
        message,
        /\nNext step: When you are ready, re-run this workflow with the same inputs: it resumes at hop 1\./,
      );
      assert.match(message, /helm rollback my-milvus 1 --namespace default --wait/);
      assert.equal(run.outputs.revision, '2');
      assert.equal(run.outputs['message-queue'], 'pulsar');
      assert.match(run.summary, /<h2>❌ Upgrade of my-milvus failed<\/h2>/);
      const records = await releaseRecords(world);
      assert.deepEqual(
        records.map((r) => [r.revision, r.status]),
        [
          [1, 'deployed'],
          [2, 'failed'],
        ],
        'Helm recorded the interrupted hop as failed, not pending',
      );
      await assertPulsarV2Kept(world, pulsarUids);
    });

    test('the next run resumes hop 1 with Pulsar v2 pinned and ends at v2.6.4', async () => {
      await world.cluster.faults.clearUnready();
      const run = await act(world, { timeout: '1m' });
      assertSucceeded(run);
      assert.deepEqual(
        jsonOutputs(run).plan.map((hop) => [hop.hop, hop.resume, hop.pins]),
        [
          [1, true, PINS],
          [2, false, []],
        ],
      );
      await assertAt264(world, 4);
      await assertPulsarV2Kept(world, pulsarUids);
    });
  });
}
