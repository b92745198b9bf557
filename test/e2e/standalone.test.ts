// Milvus standalone: the same two hops (image tag only), the queue kept (its 4.2.x default rocksmq
// is pinned against 5.0.0's woodpecker), the data volume kept, a failed hop resumed, and a queue
// that cannot be told refused.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { queueBlocks } from '../../src/manifest.ts';
import { FIXTURE_REPO, helm, startWorld, type World } from '../support/harness.ts';
import { type MilvusInstallOptions, milvusInstallArgs } from '../support/milvus-release.ts';
import {
  act,
  api,
  apiWrites,
  assertRecordsUnchanged,
  assertRefused,
  assertSucceeded,
  failure,
  jsonOutputs,
  latestRecord,
  releaseRecords,
  tail,
  type Where,
} from './checks.ts';

type Install = Omit<MilvusInstallOptions, 'chartRef' | 'release' | 'layout'>;

/** Installs a standalone release; `chartDefaultQueue` leaves standalone.messageQueue unset. */
async function installStandalone(world: World, options: Install, chartDefaultQueue = false) {
  const args = milvusInstallArgs({
    ...options,
    release: 'my-milvus',
    chartRef: `${FIXTURE_REPO}/milvus`,
    layout: 'mixcoord',
    standalone: true,
  });
  const kept = chartDefaultQueue
    ? args.filter(
        (arg, i) =>
          arg !== 'standalone.messageQueue=rocksmq' &&
          !(arg === '--set' && args[i + 1] === 'standalone.messageQueue=rocksmq'),
      )
    : args;
  await helm(world, [...kept, '--wait', '--timeout', '2m']);
}

/** The standalone Deployment's image and readiness, its data claim's uid, the rendered queue. */
async function standalone(world: World, namespace: string) {
  const { apps, core } = api(world);
  const [deployment, claims, config] = await Promise.all([
    apps.readNamespacedDeployment({ name: 'my-milvus-standalone', namespace }),
    core.listNamespacedPersistentVolumeClaim({ namespace }),
    core.readNamespacedConfigMap({ name: 'my-milvus', namespace }),
  ]);
  const claim = claims.items.find(
    (c) =>
      c.metadata?.name?.startsWith('my-milvus') &&
      !/etcd|minio|pulsar|kafka|zookeeper|bookie/.test(c.metadata?.name ?? ''),
  );
  return {
    image: deployment.spec?.template.spec?.containers.find((c) => c.name === 'standalone')?.image,
    ready: deployment.status?.readyReplicas === (deployment.spec?.replicas ?? 1),
    claim: claim ? `${claim.metadata?.name}=${claim.metadata?.uid}` : undefined,
    queue: queueBlocks(config.data?.['default.yaml'] ?? ''),
  };
}

describe('Milvus standalone', () => {
  let world: World;
  const at = (namespace: string): Required<Where> => ({ release: 'my-milvus', namespace });
  const before_: Record<string, Awaited<ReturnType<typeof standalone>>> = {};
  before(async () => {
    const namespaces = ['rocks', 'pulsar', 'kafka', 'resume', 'odd'];
    world = await startWorld({ rolloutMs: 30, namespaces });
    const v256 = { chartVersion: '4.2.30', milvusVersion: 'v2.5.6' } as const;
    await Promise.all([
      installStandalone(world, { namespace: 'rocks', ...v256, mq: 'rocksmq' }, true),
      installStandalone(world, { namespace: 'pulsar', ...v256, mq: 'pulsarv3' }),
      installStandalone(world, { namespace: 'kafka', ...v256, mq: 'kafka' }),
      installStandalone(
        world,
        { namespace: 'resume', chartVersion: '4.2.58', milvusVersion: 'v2.5.16', mq: 'rocksmq' },
        true,
      ),
      installStandalone(world, {
        namespace: 'odd',
        ...v256,
        mq: 'rocksmq',
        extraSets: [['standalone.messageQueue', 'carrier-pigeon']],
      }),
    ]);
    for (const namespace of namespaces.slice(0, 4))
      before_[namespace] = await standalone(world, namespace);
  });
  after(() => world.stop());

  test('rocksmq by the 4.2.x default: both hops, rocksmq pinned against 5.0.0 woodpecker, volume kept', async () => {
    assert.deepEqual(before_.rocks?.queue, [{ type: 'rocksmq' }]);
    const run = await act(world, at('rocks'));
    assertSucceeded(run);
    const now = await standalone(world, 'rocks');
    assert.equal(now.image, 'milvusdb/milvus:v2.6.4');
    assert.ok(now.ready);
    assert.ok(before_.rocks?.claim, 'the standalone data claim existed');
    assert.equal(now.claim, before_.rocks?.claim, 'the very same data claim');
    assert.deepEqual(now.queue, [{ type: 'rocksmq' }]);
    assert.equal(run.outputs['message-queue'], 'rocksmq');
    const { plan, hops } = jsonOutputs(run);
    assert.deepEqual(
      plan.map((hop) => [hop.hop, hop.to, hop.pins]),
      [
        [1, 'v2.5.16', []],
        [2, 'v2.6.4', ['standalone.messageQueue=rocksmq']],
      ],
    );
    for (const hop of plan) {
      assert.ok(
        !hop.args.some((arg) => /mixCoordinator|streaming|indexNode/.test(arg)),
        'no cluster flags',
      );
    }
    assert.deepEqual(
      hops.map((hop) => hop.order?.map((step) => step.component)),
      [['standalone'], ['standalone']],
    );
    const last = await latestRecord(world, at('rocks'));
    assert.deepEqual([last.revision, last.status, last.chartVersion], [3, 'deployed', '5.0.0']);
  });

  for (const [namespace, queue] of [
    ['pulsar', 'pulsarv3'],
    ['kafka', 'kafka'],
  ] as const) {
    test(`${queue} standalone keeps its queue and its volume`, async () => {
      const run = await act(world, at(namespace));
      assertSucceeded(run);
      const now = await standalone(world, namespace);
      assert.equal(now.image, 'milvusdb/milvus:v2.6.4');
      assert.equal(now.claim, before_[namespace]?.claim);
      assert.deepEqual(now.queue, before_[namespace]?.queue);
      assert.equal(run.outputs['message-queue'], queue);
    });
  }

  test('a failed hop 2 names the pods, and the next run resumes it', async () => {
    // The 2.6 pod never gets ready: the fault starts once hop 2 does, and is in place within a
    // fraction of a second, well before the hop's dry run is done. The timeout leaves Helm time to
    // record the failed revision on a busy machine, so that the next run resumes it.
    let seen = '';
    let fault: Promise<void> | undefined;
    let failed: Awaited<ReturnType<typeof act>>;
    try {
      failed = await act(
        world,
        { ...at('resume'), timeout: '30s' },
        {
          onStdout: (chunk) => {
            if (fault) return;
            seen += chunk;
            if (seen.includes('::group::Hop 2')) {
              fault = world.cluster.faults.unready('component=standalone', 'NotReady');
              fault.catch(() => {}); // Awaited below, once the run is over.
            }
          },
        },
      );
      assert.ok(fault, tail(failed));
      await fault;
    } finally {
      await fault?.catch(() => {});
      await world.cluster.faults.clearUnready();
    }
    assert.equal(failed.exitCode, 1, tail(failed));
    assert.match(failure(failed), /^Hop 2 \(v2\.5\.16 → v2\.6\.4\) failed/);
    assert.match(failure(failed), /pods not ready: my-milvus-standalone-/);
    const run = await act(world, at('resume'));
    assertSucceeded(run);
    assert.deepEqual(
      jsonOutputs(run).plan.map((hop) => [hop.hop, hop.resume]),
      [[2, true]],
    );
    const now = await standalone(world, 'resume');
    assert.equal(now.image, 'milvusdb/milvus:v2.6.4');
    assert.equal(now.claim, before_.resume?.claim);
    assert.deepEqual(now.queue, [{ type: 'rocksmq' }]);
  });

  test('a standalone release whose queue cannot be told is refused, nothing changed', async () => {
    const w = at('odd');
    const records = await releaseRecords(world, w);
    const since = Date.now();
    const run = await act(world, w);
    assertRefused(
      run,
      /Cannot tell which message queue the release my-milvus in namespace odd uses \(standalone\.messageQueue=carrier-pigeon\)/,
      /Make the queue explicit/,
    );
    await assertRecordsUnchanged(world, records, w);
    assert.deepEqual(apiWrites(world, since), []);
  });
});
