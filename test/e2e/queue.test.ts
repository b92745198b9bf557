// The message queue survives both hops: Pulsar v2 from the old chart default, Kafka, an
// external Pulsar; values files that would switch the queue are refused before anything changes.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { queueBlocks } from '../../src/manifest.ts';
import { installMilvus, startWorld, type World } from '../support/harness.ts';
import { EXTERNAL_PULSAR } from '../support/milvus-release.ts';
import {
  act,
  api,
  apiWrites,
  assertAt264,
  assertRecordsUnchanged,
  assertRefused,
  assertSucceeded,
  hopArgs,
  jsonOutputs,
  latestRecord,
  objectUids,
  releaseRecords,
  summaryRow,
} from './checks.ts';

/** The queue blocks of the Milvus config the release renders now. */
async function renderedQueue(world: World, namespace: string) {
  const configMap = await api(world).core.readNamespacedConfigMap({ name: 'my-milvus', namespace });
  return queueBlocks(configMap.data?.['default.yaml'] ?? '');
}

/** Names of objects of the kinds a queue is made of, across the namespace. */
async function queueObjectNames(world: World, namespace: string): Promise<string[]> {
  const { core, apps } = api(world);
  const lists = await Promise.all([
    apps.listNamespacedStatefulSet({ namespace }),
    apps.listNamespacedDeployment({ namespace }),
    core.listNamespacedService({ namespace }),
    core.listNamespacedConfigMap({ namespace }),
    core.listNamespacedPod({ namespace }),
    core.listNamespacedPersistentVolumeClaim({ namespace }),
  ]);
  return lists.flatMap((list) => list.items.map((item) => item.metadata?.name ?? ''));
}

/** Every StatefulSet and PVC (name → uid) must still be there, the very same object. */
function assertKept(before: Record<string, string>, now: Record<string, string>, match: RegExp) {
  const kept = Object.entries(before).filter(([name]) => match.test(name));
  assert.ok(kept.length > 0, `objects matching ${match} existed before`);
  for (const [name, uid] of kept) assert.equal(now[name], uid, `${name} kept, not recreated`);
}

describe('message queues', () => {
  let world: World;
  const uids: Record<string, Record<string, string>> = {};
  before(async () => {
    world = await startWorld({ rolloutMs: 30, namespaces: ['pulsar2', 'kafka', 'external'] });
    await Promise.all([
      installMilvus(world, {
        namespace: 'pulsar2',
        chartVersion: '4.2.20',
        milvusVersion: 'v2.5.4',
        layout: 'separate',
        mq: 'pulsar',
      }),
      installMilvus(world, {
        namespace: 'kafka',
        chartVersion: '4.2.20',
        milvusVersion: 'v2.5.4',
        layout: 'mixcoord',
        mq: 'kafka',
      }),
      installMilvus(world, {
        namespace: 'external',
        chartVersion: '4.2.30',
        milvusVersion: 'v2.5.6',
        layout: 'separate',
        mq: 'external-pulsar',
      }),
    ]);
    for (const namespace of ['pulsar2', 'kafka', 'external']) {
      uids[namespace] = await objectUids(world, namespace);
    }
  });
  after(() => world.stop());

  describe('Pulsar v2, the default of chart 4.2.20', () => {
    const namespace = 'pulsar2';

    async function refusedValuesFile(contents: object, what: RegExp, next: RegExp) {
      const file = join(world.dir, `values-${Date.now()}.yaml`);
      writeFileSync(file, stringify(contents));
      const records = await releaseRecords(world, { namespace });
      const since = Date.now();
      const run = await act(world, { namespace, 'values-files': file });
      assertRefused(run, what, next);
      await assertRecordsUnchanged(world, records, { namespace });
      assert.deepEqual(apiWrites(world, since), []);
    }

    test('a values file that switches to Pulsar v3 is refused', async () => {
      await refusedValuesFile(
        { pulsar: { enabled: false }, pulsarv3: { enabled: true } },
        /values-files set pulsar(v3)?\.enabled=(true|false), which would change the message queue of the release \(now pulsar\); switching queues is not supported/,
        /^Remove pulsar(v3)?\.enabled from the values-files, then re-run\.$/,
      );
    });

    test('a values file that disables etcd is refused: Helm would delete its StatefulSet', async () => {
      await refusedValuesFile(
        { etcd: { enabled: false }, externalEtcd: { enabled: true, endpoints: ['etcd:2379'] } },
        /Helm's dry run of hop 2 \(v2\.6\.4, chart 5\.0\.0\) would delete StatefulSet\/my-milvus-etcd, which is not part of Milvus/,
        /keep every dependency enabled across the upgrade/,
      );
    });

    test('a values file that resizes etcd volumes is refused: Kubernetes forbids it in place', async () => {
      await refusedValuesFile(
        { etcd: { persistence: { size: '20Gi' } } },
        /hop 2 \(v2\.6\.4, chart 5\.0\.0\) would change StatefulSet fields that Kubernetes forbids changing, so Helm would fail half-way: StatefulSet\/my-milvus-etcd: .*Forbidden: updates to statefulset spec/,
        /volume claim templates, selectors and service names of StatefulSets cannot change in place/,
      );
    });

    test('a values file whose mq.type cannot be kept by pinning is refused', async () => {
      await refusedValuesFile(
        { extraConfigFiles: { 'user.yaml': 'mq:\n  type: kafka\n' } },
        /hop 2 \(v2\.6\.4, chart 5\.0\.0\) would switch the message queue from pulsar to none \(mq\.type=kafka in extraConfigFiles\), and pinning the chart switches cannot prevent it\./,
        /the queue must stay the same across the upgrade/,
      );
    });

    test('both hops keep Pulsar v2: same StatefulSets, no Pulsar v3, Milvus still points at it', async () => {
      assert.deepEqual(await renderedQueue(world, namespace), [
        { type: 'pulsar', address: 'my-milvus-pulsar-proxy' },
      ]);
      const run = await act(world, { namespace });
      assertSucceeded(run);
      await assertAt264(world, 3, { namespace });

      assert.equal(run.outputs['message-queue'], 'pulsar');
      const { plan } = jsonOutputs(run);
      const pins = ['pulsar.enabled=true', 'pulsarv3.enabled=false'];
      assert.deepEqual(plan[0]?.pins, pins);
      assert.deepEqual(
        plan[0]?.args,
        hopArgs(1, { namespace, extra: [...pins, ...(plan[0]?.imagePins ?? [])] }),
      );
      assert.deepEqual(plan[1]?.args, hopArgs(2, { namespace, extra: plan[1]?.imagePins }));
      assert.match(run.summary, summaryRow(['Message queue', 'pulsar', 'pulsar']));
      assert.match(run.summary, /<td>pulsar\.enabled=true, pulsarv3\.enabled=false<\/td>/);

      assertKept(uids[namespace] ?? {}, await objectUids(world, namespace), /-pulsar-/);
      const names = await queueObjectNames(world, namespace);
      assert.deepEqual(
        names.filter((name) => name.includes('pulsarv3')),
        [],
        'no Pulsar v3 object was created',
      );
      for (const part of ['zookeeper', 'bookie', 'broker', 'proxy']) {
        assert.ok(names.includes(`my-milvus-pulsar-${part}`), `StatefulSet pulsar-${part}`);
      }
      assert.deepEqual(await renderedQueue(world, namespace), [
        { type: 'pulsar', address: 'my-milvus-pulsar-proxy' },
      ]);
      const records = await releaseRecords(world, { namespace });
      for (const record of records.slice(1)) {
        const config = record.config as Record<string, { enabled?: boolean }>;
        assert.equal(config.pulsar?.enabled, true, `revision ${record.revision} keeps pulsar`);
        assert.equal(config.pulsarv3?.enabled, false, `revision ${record.revision}: no v3`);
      }
    });
  });

  test('Kafka from chart 4.2.20 is kept, and no Pulsar v3 appears', async () => {
    const namespace = 'kafka';
    const before = await renderedQueue(world, namespace);
    assert.equal(before.length, 1);
    assert.equal(before[0]?.type, 'kafka');
    const run = await act(world, { namespace });
    assertSucceeded(run);
    await assertAt264(world, 3, { namespace });

    assert.equal(run.outputs['message-queue'], 'kafka');
    const { plan } = jsonOutputs(run);
    assert.deepEqual(plan[0]?.pins, ['pulsarv3.enabled=false']);
    assertKept(uids[namespace] ?? {}, await objectUids(world, namespace), /-kafka/);
    const names = await queueObjectNames(world, namespace);
    assert.deepEqual(
      names.filter((name) => name.includes('pulsar')),
      [],
      'no Pulsar object was created',
    );
    assert.deepEqual(await renderedQueue(world, namespace), before);
  });

  test('an external Pulsar is kept', async () => {
    const namespace = 'external';
    const expected = [{ type: 'pulsar', address: EXTERNAL_PULSAR.host }];
    assert.deepEqual(await renderedQueue(world, namespace), expected);
    const run = await act(world, { namespace });
    assertSucceeded(run);
    await assertAt264(world, 3, { namespace });

    assert.equal(run.outputs['message-queue'], 'external-pulsar');
    const names = await queueObjectNames(world, namespace);
    assert.deepEqual(
      names.filter((name) => name.includes('pulsar')),
      [],
      'no Pulsar was deployed in the cluster',
    );
    assert.deepEqual(await renderedQueue(world, namespace), expected);
    const last = await latestRecord(world, { namespace });
    const external = (last.config as Record<string, Record<string, unknown>>).externalPulsar;
    assert.equal(external?.enabled, true);
    assert.equal(external?.host, EXTERNAL_PULSAR.host);
  });
});
