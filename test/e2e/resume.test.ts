// A hop that fails and the run after it; a cluster that needs hop 2 only; a cluster already at
// the target; the kubeconfig taken from KUBECONFIG with a kube-context.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { installMilvus, startWorld, type World } from '../support/harness.ts';
import {
  act,
  apiWrites,
  assertAt264,
  assertRecordsUnchanged,
  assertSucceeded,
  failure,
  hopArgs,
  jsonOutputs,
  log,
  milvusPods,
  releaseRecords,
  summaryRow,
  tail,
} from './checks.ts';

describe('hop 2 never gets a ready streaming node, and the next run resumes at hop 2', () => {
  let world: World;
  before(async () => {
    world = await startWorld({ rolloutMs: 30 });
    await installMilvus(world, {
      chartVersion: '4.2.30',
      milvusVersion: 'v2.5.10',
      layout: 'mixcoord',
      mq: 'pulsarv3',
    });
  });
  after(() => world.stop());

  test('hop 1 lands, hop 2 fails naming the pods, the state and the next step', async () => {
    await world.cluster.faults.unready('component=streamingnode', 'NotReady');
    // Long enough for hop 1 to land on a busy machine (Helm's apply alone takes seconds against a
    // real API server); hop 2 then waits this long for the streaming node.
    const run = await act(world, { timeout: '40s' });
    assert.equal(run.exitCode, 1, tail(run));

    const message = failure(run);
    assert.match(message, /^Hop 2 \(v2\.5\.16 → v2\.6\.4\) failed: helm upgrade failed/);
    const streaming = (await milvusPods(world)).filter(
      (pod) => pod.metadata?.labels?.component === 'streamingnode',
    );
    assert.ok(streaming.length > 0);
    for (const pod of streaming) {
      assert.ok(message.includes(`${pod.metadata?.name} (`), `names ${pod.metadata?.name}`);
    }
    assert.match(message, /pods not ready: my-milvus-streamingnode-/);
    assert.match(
      message,
      /\nCluster state: hop 1 done \(v2\.5\.16, revision 2\); hop 2 to v2\.6\.4 failed; release at revision 3 \(failed, chart 5\.0\.0\)\.\n/,
    );
    assert.match(
      message,
      /\nNext step: Fix the cause above and re-run this workflow with the same inputs: it resumes at hop 2\./,
    );
    assert.match(message, /Do not roll back across the 2\.6 boundary/);

    // Helm keeps the last good revision deployed beside the failed one.
    const records = await releaseRecords(world);
    assert.deepEqual(
      records.map((r) => [r.revision, r.status, r.chartVersion]),
      [
        [1, 'superseded', '4.2.30'],
        [2, 'deployed', '4.2.58'],
        [3, 'failed', '5.0.0'],
      ],
    );

    assert.equal(run.outputs.upgraded, 'true');
    assert.deepEqual(
      jsonOutputs(run).hops.map(({ seconds, order, ...hop }) => hop),
      [{ from: 'v2.5.10', to: 'v2.5.16', chartVersion: '4.2.58', revision: 2 }],
    );
    assert.match(run.summary, /<h2>❌ Upgrade of my-milvus failed<\/h2>/);
    assert.ok(run.summary.includes('Cluster state: hop 1 done (v2.5.16, revision 2)'));
    assert.match(run.summary, /<h3>Hops<\/h3>/);
    assert.match(
      run.summary,
      summaryRow(['1', 'v2.5.10 → v2.5.16', '4.2.58', '2', /\d+/, /[^<]*/, 'none', /[^<]*/]),
    );
  });

  test('with the fault gone, the next run runs hop 2 only and ends at 2.6.4', async () => {
    await world.cluster.faults.clearUnready();
    const run = await act(world, { timeout: '1m' });
    assertSucceeded(run);

    const { plan, hops } = jsonOutputs(run);
    assert.deepEqual(
      plan.map((h) => [h.hop, h.resume, h.chartVersion, h.args]),
      [[2, true, '5.0.0', hopArgs(2, { extra: plan[0]?.imagePins })]],
    );
    assert.match(
      plan[0]?.reason ?? '',
      /an earlier run stopped during hop 2 \(release failed at revision 3\)/,
    );
    assert.deepEqual(
      hops.map((h) => [h.to, h.chartVersion, h.revision]),
      [['v2.6.4', '5.0.0', 4]],
    );
    assert.match(
      log(run),
      /::warning::An earlier run stopped during hop 2 \(Helm: "Upgrade "my-milvus" failed: context deadline exceeded"\); it will run again\./,
    );
    assert.match(log(run), /Resuming: an earlier run stopped during hop 2/);
    assert.doesNotMatch(log(run), /::group::Hop 1/);
    await assertAt264(world, 4);
    assert.equal(run.outputs.revision, '4');
    assert.equal(run.outputs['milvus-version'], 'v2.6.4');
    assert.equal(run.outputs.upgraded, 'true');
  });

  test('a run after that changes nothing', async () => {
    const records = await releaseRecords(world);
    const since = Date.now();
    const run = await act(world);
    assertSucceeded(run);
    await assertRecordsUnchanged(world, records);
    assert.deepEqual(apiWrites(world, since), []);
    assert.equal(run.outputs.upgraded, 'false');
    assert.equal(run.outputs.revision, '4');
  });
});

describe('2.5.16 with mixcoord on chart 4.2.58, kubeconfig from KUBECONFIG and kube-context', () => {
  let world: World;
  let kubeconfig: string;
  before(async () => {
    world = await startWorld({ rolloutMs: 30, namespaces: ['fresh'] });
    await Promise.all([
      installMilvus(world, {
        chartVersion: '4.2.58',
        milvusVersion: 'v2.5.16',
        layout: 'mixcoord',
        mq: 'pulsarv3',
      }),
      installMilvus(world, {
        namespace: 'fresh',
        chartVersion: '5.0.0',
        milvusVersion: 'v2.6.4',
        layout: 'mixcoord',
        mq: 'pulsarv3',
      }),
    ]);
    // The current context points at a cluster that does not answer: only kube-context works.
    const config = parse(world.cluster.kubeconfigYaml);
    const [cluster] = config.clusters;
    config.clusters.push({
      name: 'elsewhere',
      cluster: { ...cluster.cluster, server: 'https://127.0.0.1:9' },
    });
    config.contexts.push({
      name: 'elsewhere',
      context: { cluster: 'elsewhere', user: config.contexts[0].context.user },
    });
    config['current-context'] = 'elsewhere';
    kubeconfig = join(world.dir, 'kubeconfig-two-contexts');
    writeFileSync(kubeconfig, stringify(config), { mode: 0o600 });
  });
  after(() => world.stop());

  test('runs hop 2 only, with the cluster and context from the environment', async () => {
    const run = await act(
      world,
      { kubeconfig: '', 'kube-context': 'test' },
      { env: { KUBECONFIG: kubeconfig } },
    );
    assertSucceeded(run);
    const version = world.cluster.kubernetesVersion.replaceAll('.', '\\.');
    assert.match(
      log(run),
      new RegExp(`API server ${world.cluster.url}: Kubernetes v${version}\\b`),
    );
    const { plan, hops } = jsonOutputs(run);
    assert.deepEqual(
      plan.map((h) => [h.hop, h.from, h.to, h.resume, h.args]),
      [[2, 'v2.5.16', 'v2.6.4', false, hopArgs(2, { extra: plan[0]?.imagePins })]],
    );
    assert.deepEqual(
      hops.map(({ seconds, order, ...hop }) => hop),
      [{ from: 'v2.5.16', to: 'v2.6.4', chartVersion: '5.0.0', revision: 2 }],
    );
    assert.doesNotMatch(log(run), /::group::Hop 1/);
    await assertAt264(world, 2);
    assert.equal(run.outputs['previous-version'], 'v2.5.16');
    assert.equal(run.outputs.revision, '2');
    assert.match(run.summary, summaryRow(['Chart', '4.2.58', '5.0.0']));
  });

  test('a release already at 2.6.4 is left alone', async () => {
    const where = { namespace: 'fresh' };
    const records = await releaseRecords(world, where);
    const since = Date.now();
    const run = await act(world, { namespace: 'fresh' });
    assertSucceeded(run);
    await assertRecordsUnchanged(world, records, where);
    assert.deepEqual(apiWrites(world, since), []);
    await assertAt264(world, 1, where);
    assert.deepEqual(
      [run.outputs.upgraded, run.outputs.revision, run.outputs['milvus-version']],
      ['false', '1', 'v2.6.4'],
    );
    assert.deepEqual(jsonOutputs(run), { hops: [], plan: [] });
  });
});
