// Only Milvus changes: a release from chart 4.2.20 keeps the images its etcd, MinIO and Pulsar run
// through both hops, unless upgrade-dependencies asks for the new charts' images.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { installMilvus, startWorld, type World } from '../support/harness.ts';
import {
  act,
  assertAt264,
  assertSucceeded,
  dependencyImages,
  jsonOutputs,
  summaryRow,
} from './checks.ts';

describe('dependency images across both hops', () => {
  let world: World;
  const kept = { namespace: 'kept' };
  const taken = { namespace: 'taken' };
  let images: Record<string, Record<string, string[]>>;
  before(async () => {
    world = await startWorld({ rolloutMs: 30, namespaces: ['kept', 'taken'] });
    await Promise.all(
      [kept, taken].map((w) =>
        installMilvus(world, {
          ...w,
          chartVersion: '4.2.20',
          milvusVersion: 'v2.5.4',
          layout: 'separate',
          mq: 'pulsar',
        }),
      ),
    );
    images = {
      kept: await dependencyImages(world, kept),
      taken: await dependencyImages(world, taken),
    };
  });
  after(() => world.stop());

  test('by default every dependency keeps its image, pinned with --set, and the plan says so', async () => {
    const run = await act(world, kept);
    assertSucceeded(run);
    await assertAt264(world, 3, kept);
    assert.deepEqual(await dependencyImages(world, kept), images.kept);
    const { plan } = jsonOutputs(run);
    assert.ok(
      plan[0]?.imagePins.some((pin) => pin.startsWith('etcd.image.tag=')),
      'hop 1 pins the etcd image',
    );
    assert.ok(
      plan[0]?.imagePins.some((pin) => pin.startsWith('minio.image.tag=')),
      'hop 1 pins the MinIO image',
    );
    for (const hop of plan) {
      assert.deepEqual(
        hop.changes.filter((c) => !c.milvus),
        [],
        `hop ${hop.hop} changes no dependency`,
      );
    }
    assert.match(run.summary, summaryRow(['1', 'Dependencies', 'nothing']));
    assert.match(run.summary, summaryRow(['2', 'Dependencies', 'nothing']));
  });

  test('with upgrade-dependencies the new charts images are taken, and shown before → after', async () => {
    const run = await act(world, { ...taken, 'upgrade-dependencies': 'true' });
    assertSucceeded(run);
    await assertAt264(world, 3, taken);
    const now = await dependencyImages(world, taken);
    const etcd = Object.keys(now).find((name) => name.endsWith('-etcd')) ?? '';
    const minio = Object.keys(now).find((name) => name.endsWith('-minio')) ?? '';
    assert.notDeepEqual(now[etcd], images.taken?.[etcd], 'etcd took the new image');
    assert.notDeepEqual(now[minio], images.taken?.[minio], 'MinIO took the new image');
    const { plan } = jsonOutputs(run);
    assert.deepEqual(
      plan.map((hop) => hop.imagePins),
      [[], []],
    );
    assert.ok(
      plan[0]?.changes.some((c) => !c.milvus && c.workload.endsWith('-etcd')),
      'the plan shows the etcd change',
    );
    assert.match(
      run.stdout,
      /Dependencies: \n\s+StatefulSet\/my-milvus-etcd: image etcd \S+ → \S+/,
    );
  });
});
