import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { installMilvus, runAction, startWorld, type World } from '../support/harness.ts';

describe('a 2.5 cluster with separate coordinators and Pulsar v2 from the old chart default', () => {
  let world: World;
  before(async () => {
    world = await startWorld({ rolloutMs: 50 });
    await installMilvus(world, {
      chartVersion: '4.2.20',
      milvusVersion: 'v2.5.4',
      layout: 'separate',
      mq: 'pulsar',
    });
  });
  after(() => world.stop());

  test('is upgraded in two hops to 2.6.4 with Pulsar v2 kept', async () => {
    const run = await runAction(world);
    assert.equal(run.exitCode, 0, run.stdout);
    assert.equal(run.outputs['milvus-version'], 'v2.6.4');
    const deployments = world.cluster.store.list('deployments', { namespace: 'default' });
    assert.deepEqual(deployments.map((d) => d.metadata.name).sort(), [
      'my-milvus-datanode',
      'my-milvus-mixcoord',
      'my-milvus-proxy',
      'my-milvus-querynode',
      'my-milvus-streamingnode',
    ]);
  });
});
