// The Milvus components of a hop roll one at a time in the order Milvus needs, as the API server
// shows it to an observer of its own; a run killed mid-rollout is resumed in order by the next
// run, and no Deployment is left paused. Helm 3 and Helm 4.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { KubeConfig, type V1Pod, Watch } from '@kubernetes/client-node';
import { installMilvus, runAction, startWorld, type World } from '../support/harness.ts';
import type { HelmVersion } from '../support/helm-binaries.ts';
import {
  act,
  assertAt264,
  assertSucceeded,
  jsonOutputs,
  latestRecord,
  milvusDeployments,
  tail,
} from './checks.ts';

const ORDER_26 = ['streamingnode', 'mixcoord', 'querynode', 'datanode', 'proxy'];
const IMAGE_26 = 'milvusdb/milvus:v2.6.4';

/**
 * Watches the release's pods through the API server and records, per component, when its first
 * 2.6 pod appeared and when all of its pods were 2.6 and ready.
 */
async function observeRollout(world: World) {
  const first = new Map<string, number>();
  const landed = new Map<string, number>();
  const pods = new Map<string, V1Pod>();
  const config = new KubeConfig();
  config.loadFromString(world.cluster.kubeconfigYaml);
  const watch = new Watch(config);
  const controller = await watch.watch(
    '/api/v1/namespaces/default/pods',
    { labelSelector: 'app.kubernetes.io/instance=my-milvus,app.kubernetes.io/name=milvus' },
    (type, pod: V1Pod) => {
      const name = pod.metadata?.name ?? '';
      if (type === 'DELETED') pods.delete(name);
      else pods.set(name, pod);
      const component = pod.metadata?.labels?.component ?? '';
      const image = pod.spec?.containers.find((c) => c.name === component)?.image;
      if (image === IMAGE_26 && !first.has(component)) first.set(component, Date.now());
      const mine = [...pods.values()].filter((p) => p.metadata?.labels?.component === component);
      const all26 = mine.every(
        (p) =>
          !p.metadata?.deletionTimestamp &&
          p.spec?.containers.find((c) => c.name === component)?.image === IMAGE_26 &&
          p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      );
      if (mine.length > 0 && all26 && !landed.has(component)) landed.set(component, Date.now());
    },
    () => undefined,
  );
  return { first, landed, stop: () => controller.abort() };
}

/** Runs the action while observing the rollout through the API server. */
async function actObserved(world: World) {
  const observer = await observeRollout(world);
  try {
    return { run: await act(world, { timeout: '2m' }), observer };
  } finally {
    observer.stop();
  }
}

async function pausedDeployments(world: World): Promise<string[]> {
  return (await milvusDeployments(world))
    .filter((d) => d.spec?.paused)
    .map((d) => d.metadata?.labels?.component ?? '');
}

/** A world with a v2.5.16 mixcoord release on chart 4.2.58, ready for hop 2. */
async function mixcoordWorld(helmVersion: HelmVersion, queryNodeReplicas: number): Promise<World> {
  const world = await startWorld({ rolloutMs: 150, helmVersion });
  await installMilvus(world, {
    chartVersion: '4.2.58',
    milvusVersion: 'v2.5.16',
    layout: 'mixcoord',
    mq: 'pulsarv3',
    queryNodeReplicas,
  });
  return world;
}

for (const helmVersion of ['v3.18.0', 'v4.1.4'] as HelmVersion[]) {
  const major = helmVersion.startsWith('v4') ? 4 : 3;

  describe(`Helm ${major}: hop 2 rolls in Milvus' order`, () => {
    let world: World;
    before(async () => {
      world = await mixcoordWorld(helmVersion, 2);
    });
    after(() => world.stop());

    test('each component starts only once the one before it has landed', async () => {
      const { run, observer } = await actObserved(world);
      assertSucceeded(run);
      await assertAt264(world, 2);
      assert.deepEqual(
        [...observer.first.keys()].sort(),
        [...ORDER_26].sort(),
        'every component got 2.6 pods',
      );
      for (const [index, component] of ORDER_26.entries()) {
        const previous = ORDER_26[index - 1];
        if (!previous || previous === 'streamingnode') continue;
        assert.ok(
          (observer.first.get(component) ?? 0) >= (observer.landed.get(previous) ?? Infinity),
          `${component} started after ${previous} landed`,
        );
      }
      const { hops } = jsonOutputs(run);
      assert.deepEqual(
        hops[0]?.order?.map((step) => step.component),
        ORDER_26,
      );
      assert.match(run.summary, /streamingnode \([\d.]+ s\) → mixcoord \([\d.]+ s\) → querynode/);
      assert.deepEqual(await pausedDeployments(world), [], 'nothing is left paused');
    });
  });

  describe(`Helm ${major}: a run killed mid-rollout is resumed in order`, () => {
    let world: World;
    before(async () => {
      world = await mixcoordWorld(helmVersion, 1);
    });
    after(() => world.stop());

    test('killed while the data nodes roll, the proxies stay on 2.5 and paused', async () => {
      // Once the query nodes have their turn, the data nodes stop getting ready, so the rollout
      // is waiting at them when the action is killed.
      let seen = '';
      let fault: Promise<void> | undefined;
      const run = await runAction(
        world,
        { timeout: '2m' },
        {
          onStdout: (chunk) => {
            if (/mixcoord: rolled out/.test(seen)) return;
            seen += chunk;
            if (/mixcoord: rolled out/.test(seen)) {
              fault = world.cluster.faults.unready('component=datanode', 'NotReady');
            }
          },
          cancelWhen: { output: /querynode: rolled out/, afterMs: 1000, signals: [['SIGKILL', 0]] },
        },
      );
      await fault;
      assert.deepEqual(run.signalsSent, ['SIGKILL'], tail(run));
      assert.deepEqual(await pausedDeployments(world), ['proxy']);
      await world.cluster.faults.clearUnready();
    });

    test('the next run says so, resumes in order, and leaves nothing paused', async () => {
      // The killed run's Helm still waits for the data nodes; let it record its outcome.
      for (let i = 0; i < 200 && (await latestRecord(world)).status.startsWith('pending'); i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const { run, observer } = await actObserved(world);
      assertSucceeded(run);
      assert.match(
        run.stdout,
        /left my-milvus-proxy \(hop 2 \(v2\.6\.4\)\) paused; the rollout resumes in order/,
        tail(run),
      );
      assert.ok(
        (observer.first.get('proxy') ?? 0) >= (observer.landed.get('datanode') ?? Infinity),
        'the proxies started after the data nodes landed',
      );
      await assertAt264(world, (await latestRecord(world)).revision);
      assert.deepEqual(await pausedDeployments(world), []);
    });
  });
}
