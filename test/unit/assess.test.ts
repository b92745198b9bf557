import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assess } from '../../src/assess.ts';
import { UpgradeError } from '../../src/errors.ts';
import { chooseHops } from '../../src/planner.ts';
import { mergeValues } from '../../src/values.ts';
import {
  CHART_4_2_20,
  CHART_4_2_58,
  CHART_5_0_0,
  HOP1_VALUES,
  HOP2_VALUES,
  LAYOUTS,
  observed,
  pod,
  type Shape,
  TARGETS,
} from './builders.ts';

describe('assess refuses what it must not upgrade, leaving the cluster unchanged', () => {
  const refusals: [string, Shape, RegExp, RegExp][] = [
    [
      'a missing release',
      { missing: true },
      /Helm has no release milvus in the namespace default/,
      /release-name and namespace/,
    ],
    [
      'a release of another chart',
      { chartName: 'webapp', chartVersion: '1.0.0' },
      /chart webapp-1\.0\.0, not of the milvus chart/,
      /chart-name/,
    ],
    [
      'an operator-managed cluster',
      { operator: [{ deployment: 'my-milvus-proxy', reason: 'owned by Milvus my' }] },
      /Milvus Operator.*my-milvus-proxy/,
      /through the operator/,
    ],
    [
      'a release of the operator chart',
      { chartName: 'milvus-operator', chartVersion: '1.3.0' },
      /Milvus Operator/,
      /through the operator/,
    ],
    [
      'standalone mode whose queue cannot be told',
      {
        components: ['standalone'],
        computedValues: mergeValues(CHART_4_2_58, {
          cluster: { enabled: false },
          standalone: { messageQueue: 'carrier-pigeon' },
          pulsarv3: { enabled: false },
        }),
      },
      /Cannot tell which message queue .* \(standalone\.messageQueue=carrier-pigeon\)/,
      /Make the queue explicit/,
    ],
    [
      'a pending upgrade',
      { status: 'pending-upgrade' },
      /pending-upgrade at revision 3: another Helm operation/,
      /helm history milvus --namespace default/,
    ],
    [
      'a pending rollback',
      { status: 'pending-rollback' },
      /pending-rollback/,
      /Wait for the other operation/,
    ],
    [
      'a failed release from another operation',
      { status: 'failed', description: 'Upgrade "milvus" failed: context deadline exceeded' },
      /failed at revision 3, from an operation that was not a hop of this upgrade\. Helm says: "Upgrade "milvus" failed: context deadline exceeded"\./,
      /helm rollback milvus <revision> --namespace default/,
    ],
    [
      '2.6.0-rc1',
      { version: 'v2.6.0-rc1', components: LAYOUTS.streaming, chartVersion: '5.0.0' },
      /pre-release v2\.6\.0-rc1/,
      /repairing a 2\.6\.0-rc1/,
    ],
    [
      'a version below 2.5.0',
      { version: 'v2.4.17' },
      /runs Milvus v2\.4\.17, below 2\.5\.0/,
      /2\.5\.x release first/,
    ],
    [
      'a version above the target',
      { version: 'v2.6.5', components: LAYOUTS.streaming, chartVersion: '5.0.6' },
      /v2\.6\.5, newer than the target v2\.6\.4/,
      /target-version/,
    ],
    [
      'an image without a release tag',
      { version: 'latest' },
      /Cannot tell the Milvus version from the image milvusdb\/milvus:latest/,
      /release tag/,
    ],
    [
      'mixed versions from elsewhere',
      { versions: { proxy: 'v2.5.12' } },
      /several Milvus versions at once \(v2\.5\.10, v2\.5\.12\)/,
      /one image tag/,
    ],
    [
      'streaming on a 2.5 cluster',
      {
        components: LAYOUTS.mixcoord,
        computedValues: mergeValues(CHART_4_2_58, { streaming: { enabled: true } }),
      },
      /streaming\.enabled=true, which is experimental on 2\.5/,
      /streaming\.enabled=false/,
    ],
    [
      'an unhealthy cluster before anything changed',
      { unready: ['querynode'] },
      /not healthy: 1 pod\(s\).*milvus-querynode-abc \(CrashLoopBackOff\)/,
      /every pod is ready/,
    ],
    [
      'an unhealthy dependency',
      { extraPods: [pod('milvus-pulsar-bookie-0', { ready: false, reason: 'Pending' })] },
      /milvus-pulsar-bookie-0 \(Pending\)/,
      /every pod is ready/,
    ],
    ['no Milvus pods at all', { components: [] }, /No Milvus pods or Deployments/, /chart labels/],
    [
      'an unknown message queue',
      { computedValues: mergeValues(CHART_4_2_58, { pulsarv3: { enabled: false } }) },
      /Cannot tell which message queue/,
      /enable exactly one/,
    ],
  ];
  for (const [name, shape, what, next] of refusals) {
    test(name, () => {
      try {
        assess(observed(shape), TARGETS);
      } catch (error) {
        assert.ok(error instanceof UpgradeError, String(error));
        assert.match(error.what, what);
        assert.match(error.next, next);
        assert.match(error.state, /unchanged/);
        return;
      }
      assert.fail('expected a refusal');
    });
  }
});

describe('assess reads the facts the planner needs', () => {
  test('2.5 with separate coordinators and Pulsar v2 from the old default', () => {
    const a = assess(
      observed({ version: 'v2.5.4', chartVersion: '4.2.20', computedValues: CHART_4_2_20 }),
      TARGETS,
    );
    assert.deepEqual(a.versions, ['v2.5.4']);
    assert.equal(a.layout, 'separate');
    assert.equal(a.queue.queue, 'pulsar');
    assert.equal(a.stoppedHop, undefined);
    assert.equal(a.atTarget, false);
  });

  test('2.5.16 with mixcoord', () => {
    const a = assess(
      observed({ version: 'v2.5.16', components: LAYOUTS.mixcoord, chartVersion: '4.2.58' }),
      TARGETS,
    );
    assert.equal(a.layout, 'mixcoord');
    assert.equal(a.queue.queue, 'pulsarv3');
  });

  test('already at the target with the 2.6 components', () => {
    const a = assess(
      observed({
        version: 'v2.6.4',
        components: LAYOUTS.streaming,
        chartVersion: '5.0.0',
        userValues: HOP2_VALUES,
        computedValues: CHART_5_0_0,
      }),
      TARGETS,
    );
    assert.equal(a.atTarget, true);
    assert.equal(a.stoppedHop, undefined);
  });

  test('at the target version but with an indexnode left over is not at the target', () => {
    const a = assess(
      observed({
        version: 'v2.6.4',
        components: [...LAYOUTS.streaming, 'indexnode'],
        chartVersion: '5.0.6',
        computedValues: CHART_5_0_0,
      }),
      TARGETS,
    );
    assert.equal(a.atTarget, false);
  });

  test('hop 2 that failed with pods not ready is a stopped hop, not a refusal', () => {
    const a = assess(
      observed({
        status: 'failed',
        chartVersion: '5.0.0',
        userValues: HOP2_VALUES,
        computedValues: CHART_5_0_0,
        components: LAYOUTS.streaming,
        version: 'v2.6.4',
        versions: { querynode: 'v2.5.16' },
        unready: ['streamingnode'],
      }),
      TARGETS,
    );
    assert.equal(a.stoppedHop, 2);
    assert.deepEqual(a.versions, ['v2.5.16', 'v2.6.4']);
    assert.equal(a.unready.length, 1);
  });

  test('hop 2 deployed but with a pod gone unready is a stopped hop', () => {
    const a = assess(
      observed({
        chartVersion: '5.0.0',
        userValues: HOP2_VALUES,
        computedValues: CHART_5_0_0,
        components: LAYOUTS.streaming,
        version: 'v2.6.4',
        unready: ['proxy'],
      }),
      TARGETS,
    );
    assert.equal(a.stoppedHop, 2);
  });

  test('hop 1 that failed mid-rollout is a stopped hop', () => {
    const a = assess(
      observed({
        status: 'failed',
        chartVersion: '4.2.58',
        userValues: HOP1_VALUES,
        computedValues: mergeValues(CHART_4_2_58, HOP1_VALUES),
        components: [...LAYOUTS.mixcoord, 'rootcoord'],
        version: 'v2.5.16',
        versions: { rootcoord: 'v2.5.10' },
      }),
      TARGETS,
    );
    assert.equal(a.stoppedHop, 1);
    assert.equal(a.layout, 'separate');
  });

  test('a failed hop 1: the queue and the rollback target are the last deployed revision', () => {
    // The failed revision rendered Pulsar v3; Helm's next reuse starts from revision 1 (Pulsar v2).
    const a = assess(
      observed({
        status: 'failed',
        revision: 2,
        deployedRevision: 1,
        chartVersion: '4.2.58',
        userValues: HOP1_VALUES,
        computedValues: mergeValues(CHART_4_2_58, HOP1_VALUES),
        baselineValues: CHART_4_2_20,
        components: [...LAYOUTS.mixcoord, 'rootcoord'],
        version: 'v2.5.16',
        versions: { rootcoord: 'v2.5.10' },
      }),
      TARGETS,
    );
    assert.equal(a.stoppedHop, 1);
    assert.equal(a.queue.queue, 'pulsar');
    assert.equal(a.deployedRevision, 1);
    assert.equal(a.release.revision, 2);
  });

  test('hop 2 applied but held mid-rollout is a stopped hop, with a warning', () => {
    const a = assess(
      observed({
        chartVersion: '5.0.0',
        userValues: HOP2_VALUES,
        computedValues: CHART_5_0_0,
        components: LAYOUTS.streaming,
        version: 'v2.6.4',
        versions: { proxy: 'v2.5.16', datanode: 'v2.5.16' },
        paused: [
          { component: 'proxy', held: true },
          { component: 'datanode', held: true },
        ],
      }),
      TARGETS,
    );
    assert.equal(a.stoppedHop, 2);
    assert.equal(a.atTarget, false);
    assert.match(
      a.warnings.join('\n'),
      /left milvus-proxy \(hop 2 \(v2\.6\.4\)\), milvus-datanode \(hop 2 \(v2\.6\.4\)\) paused; the rollout resumes in order/,
    );
  });

  test('everything at the target but a Deployment still held: not at the target', () => {
    const a = assess(
      observed({
        chartVersion: '5.0.0',
        userValues: HOP2_VALUES,
        computedValues: CHART_5_0_0,
        components: LAYOUTS.streaming,
        version: 'v2.6.4',
        paused: [{ component: 'proxy', held: true }],
      }),
      TARGETS,
    );
    assert.equal(a.atTarget, false);
    assert.equal(a.stoppedHop, 2);
  });

  test('a Deployment paused by someone else is refused', () => {
    assert.throws(
      () => assess(observed({ paused: [{ component: 'querynode', held: false }] }), TARGETS),
      (error: unknown) =>
        error instanceof UpgradeError &&
        /The Deployment milvus-querynode of the release milvus in namespace default is paused, and not by this action/.test(
          error.what,
        ) &&
        /kubectl rollout resume/.test(error.next),
    );
  });

  test('standalone on rocksmq: its own layout and queue, hops without cluster flags', () => {
    const a = assess(
      observed({
        components: ['standalone'],
        computedValues: mergeValues(CHART_4_2_58, {
          cluster: { enabled: false },
          standalone: { messageQueue: 'rocksmq' },
        }),
      }),
      TARGETS,
    );
    assert.equal(a.layout, 'standalone');
    assert.equal(a.queue.queue, 'rocksmq');
    assert.deepEqual(
      chooseHops(a, TARGETS).map((h) => [h.number, h.to, h.spec.sets, h.spec.components]),
      [
        [1, 'v2.5.16', [], ['standalone']],
        [2, 'v2.6.4', [], ['standalone']],
      ],
    );
  });

  test('a finished hop 1 is not a stopped hop', () => {
    const a = assess(
      observed({
        chartVersion: '4.2.58',
        userValues: HOP1_VALUES,
        components: LAYOUTS.mixcoord,
        version: 'v2.5.16',
      }),
      TARGETS,
    );
    assert.equal(a.stoppedHop, undefined);
  });

  test('a user release on the hop chart without the hop sets is refused when unhealthy', () => {
    assert.throws(
      () =>
        assess(
          observed({
            chartVersion: '4.2.58',
            userValues: { image: { all: { tag: 'v2.5.16' } } },
            components: LAYOUTS.mixcoord,
            version: 'v2.5.16',
            unready: ['proxy'],
          }),
          TARGETS,
        ),
      /not healthy/,
    );
  });

  test('terminating and completed pods do not make a cluster unhealthy', () => {
    const extraPods = [
      pod('old-proxy', { ready: false, phase: 'Terminating' }),
      pod('pulsarv3-init-abc', { ready: false, phase: 'Succeeded' }),
    ];
    assert.equal(assess(observed({ extraPods }), TARGETS).unready.length, 0);
  });

  test('Kafka beside Pulsar and customConfigMap produce warnings', () => {
    const a = assess(
      observed({
        computedValues: mergeValues(CHART_4_2_58, {
          kafka: { enabled: true },
          customConfigMap: 'mine',
        }),
      }),
      TARGETS,
    );
    assert.equal(a.warnings.length, 2);
  });
});
