import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assess } from '../../src/assess.ts';
import { UpgradeError } from '../../src/errors.ts';
import { buildPlan, chooseHops, type PlanContext } from '../../src/planner.ts';
import type { Values } from '../../src/state.ts';
import { mergeValues } from '../../src/values.ts';
import {
  CHART_4_2_20,
  CHART_4_2_58,
  CHART_5_0_0,
  HOP1_VALUES,
  HOP2_VALUES,
  LAYOUTS,
  observed,
  type Shape,
  TARGETS,
} from './builders.ts';

const HOP1_SETS = [
  'mixCoordinator.enabled=true',
  'rootCoordinator.enabled=false',
  'queryCoordinator.enabled=false',
  'dataCoordinator.enabled=false',
  'indexCoordinator.enabled=false',
];
const HOP2_SETS = ['streaming.enabled=true', 'indexNode.enabled=false'];

function plan(shape: Shape, over: Partial<PlanContext> = {}) {
  const o = observed(shape);
  const choices = chooseHops(assess(o, TARGETS), TARGETS);
  return buildPlan(choices, {
    release: 'milvus',
    namespace: 'default',
    chartRef: 'zilliztech/milvus',
    helmMajor: 3,
    timeout: '20m',
    valuesFiles: [],
    userValues: o.userValues,
    computedValues: o.computedValues,
    chartDefaults: { '4.2.58': CHART_4_2_58, '5.0.0': CHART_5_0_0 },
    ...over,
  });
}

/** The `--set` values of a hop's arguments, in order. */
function sets(args: readonly string[]): string[] {
  return args.flatMap((arg, i) => (args[i - 1] === '--set' ? [arg] : []));
}

const OLD_PULSAR: Shape = {
  version: 'v2.5.4',
  chartVersion: '4.2.20',
  computedValues: CHART_4_2_20,
};

describe('chooseHops', () => {
  const cases: [string, Shape, string[]][] = [
    [
      '2.5.4 with separate coordinators: both hops',
      OLD_PULSAR,
      ['1: v2.5.4 -> v2.5.16 @4.2.58', '2: v2.5.16 -> v2.6.4 @5.0.0'],
    ],
    [
      '2.5.10 with mixcoord: both hops (below 2.5.16)',
      { components: LAYOUTS.mixcoord },
      ['1: v2.5.10 -> v2.5.16 @4.2.58', '2: v2.5.16 -> v2.6.4 @5.0.0'],
    ],
    [
      '2.5.16 with separate coordinators: hop 1 for the layout',
      { version: 'v2.5.16' },
      ['1: v2.5.16 -> v2.5.16 @4.2.58', '2: v2.5.16 -> v2.6.4 @5.0.0'],
    ],
    [
      '2.5.16 with mixcoord: hop 2 only',
      { version: 'v2.5.16', components: LAYOUTS.mixcoord, chartVersion: '4.2.58' },
      ['2: v2.5.16 -> v2.6.4 @5.0.0'],
    ],
    [
      '2.5.17 with mixcoord: hop 2 only',
      { version: 'v2.5.17', components: LAYOUTS.mixcoord },
      ['2: v2.5.17 -> v2.6.4 @5.0.0'],
    ],
    [
      '2.5.17 with separate coordinators: hop 1 keeps 2.5.17 (never a downgrade)',
      { version: 'v2.5.17' },
      ['1: v2.5.17 -> v2.5.17 @4.2.58', '2: v2.5.17 -> v2.6.4 @5.0.0'],
    ],
    [
      '2.6.2: hop 2 only',
      {
        version: 'v2.6.2',
        components: LAYOUTS.streaming,
        chartVersion: '5.0.0',
        computedValues: CHART_5_0_0,
      },
      ['2: v2.6.2 -> v2.6.4 @5.0.0'],
    ],
    [
      'already at the target: nothing',
      {
        version: 'v2.6.4',
        components: LAYOUTS.streaming,
        chartVersion: '5.0.0',
        computedValues: CHART_5_0_0,
      },
      [],
    ],
  ];
  for (const [name, shape, expected] of cases) {
    test(name, () => {
      const hops = chooseHops(assess(observed(shape), TARGETS), TARGETS);
      assert.deepEqual(
        hops.map((h) => `${h.number}: ${h.from} -> ${h.to} @${h.chartVersion}`),
        expected,
      );
      for (const hop of hops) assert.ok(hop.reason.length > 10, hop.reason);
    });
  }

  test('a stopped hop 2 runs again, and says so', () => {
    const userValues = HOP2_VALUES;
    const a = assess(
      observed({
        status: 'failed',
        revision: 5,
        chartVersion: '5.0.0',
        userValues,
        computedValues: CHART_5_0_0,
        components: LAYOUTS.streaming,
        version: 'v2.6.4',
        versions: { proxy: 'v2.5.16' },
        unready: ['streamingnode'],
      }),
      TARGETS,
    );
    const hops = chooseHops(a, TARGETS);
    assert.deepEqual(
      hops.map((h) => [h.number, h.from, h.resume]),
      [[2, 'v2.5.16', true]],
    );
    assert.match(hops[0]?.reason ?? '', /stopped during hop 2 \(release failed at revision 5\)/);
  });

  test('a stopped hop 1 runs again, then hop 2', () => {
    const userValues = HOP1_VALUES;
    const a = assess(
      observed({
        status: 'failed',
        chartVersion: '4.2.58',
        userValues,
        computedValues: mergeValues(CHART_4_2_58, userValues),
        components: LAYOUTS.mixcoord,
        version: 'v2.5.16',
        versions: { querynode: 'v2.5.10' },
      }),
      TARGETS,
    );
    const hops = chooseHops(a, TARGETS);
    assert.deepEqual(
      hops.map((h) => [h.number, h.from, h.to, h.resume]),
      [
        [1, 'v2.5.10', 'v2.5.16', true],
        [2, 'v2.5.16', 'v2.6.4', false],
      ],
    );
  });
});

describe('buildPlan', () => {
  test('the exact Helm 3 arguments of the official procedure, with Pulsar v2 pinned', () => {
    const { hops } = plan(OLD_PULSAR);
    assert.deepEqual(hops[0]?.args, [
      'upgrade',
      'milvus',
      'zilliztech/milvus',
      '--namespace',
      'default',
      '--version',
      '4.2.58',
      '--reset-then-reuse-values',
      ...[
        'image.all.tag=v2.5.16',
        ...HOP1_SETS,
        'pulsar.enabled=true',
        'pulsarv3.enabled=false',
      ].flatMap((s) => ['--set', s]),
      '--wait',
      '--timeout',
      '20m',
    ]);
    assert.deepEqual(hops[0]?.pins, [
      ['pulsar.enabled', 'true'],
      ['pulsarv3.enabled', 'false'],
    ]);
    // Hop 2 reuses hop 1's sets, pins included, so it needs no pins of its own.
    assert.deepEqual(hops[1]?.args, [
      'upgrade',
      'milvus',
      'zilliztech/milvus',
      '--namespace',
      'default',
      '--version',
      '5.0.0',
      '--reset-then-reuse-values',
      ...['image.all.tag=v2.6.4', ...HOP2_SETS].flatMap((s) => ['--set', s]),
      '--wait',
      '--timeout',
      '20m',
    ]);
    assert.deepEqual(hops[1]?.pins, []);
    assert.equal(hops[0]?.notes.length, 2);
  });

  test('Helm 4 waits with the watcher', () => {
    const { hops } = plan(
      { version: 'v2.5.16', components: LAYOUTS.mixcoord },
      { helmMajor: 4, timeout: '45m' },
    );
    assert.deepEqual(hops[0]?.args.slice(-3), ['--wait=watcher', '--timeout', '45m']);
  });

  test('components expected and removed per hop', () => {
    const { hops } = plan(OLD_PULSAR);
    assert.deepEqual(hops[0]?.components, LAYOUTS.mixcoord);
    assert.deepEqual(hops[0]?.removes, [
      'rootcoord',
      'querycoord',
      'datacoord',
      'indexcoord',
      'streamingnode',
    ]);
    assert.deepEqual(hops[1]?.components, LAYOUTS.streaming);
    assert.deepEqual(hops[1]?.removes, [
      'rootcoord',
      'querycoord',
      'datacoord',
      'indexcoord',
      'indexnode',
    ]);
  });

  test('values files go to the final hop only, before the sets', () => {
    const files = [{ path: '/w/prod.yaml', values: { queryNode: { replicas: 3 } } }];
    const { hops } = plan(OLD_PULSAR, { valuesFiles: files });
    assert.equal(hops[0]?.args.includes('-f'), false);
    const args = hops[1]?.args ?? [];
    assert.deepEqual(args.slice(8, 10), ['-f', '/w/prod.yaml']);
    assert.deepEqual(hops[1]?.valuesFiles, ['/w/prod.yaml']);
  });

  test('a Kafka release from the old chart keeps Kafka: the new default Pulsar v3 is pinned off', () => {
    const userValues: Values = { pulsar: { enabled: false }, kafka: { enabled: true } };
    const { hops } = plan({
      ...OLD_PULSAR,
      userValues,
      computedValues: mergeValues(CHART_4_2_20, userValues),
    });
    assert.deepEqual(sets(hops[0]?.args ?? []).slice(-1), ['pulsarv3.enabled=false']);
    assert.deepEqual(hops[1]?.pins, []);
  });

  test('Pulsar v3 releases need no pins at all', () => {
    const { hops } = plan({ components: LAYOUTS.mixcoord, chartVersion: '4.2.58' });
    assert.deepEqual(
      hops.map((h) => h.pins),
      [[], []],
    );
  });

  test('refuses values files that would switch the queue', () => {
    const files = [
      {
        path: '/w/switch.yaml',
        values: { pulsar: { enabled: false }, pulsarv3: { enabled: true } },
      },
    ];
    assert.throws(
      () => plan(OLD_PULSAR, { valuesFiles: files }),
      (error: unknown) => error instanceof UpgradeError && /pulsar\.enabled=false/.test(error.what),
    );
  });

  test('already at the target: an empty plan', () => {
    const { hops } = plan({
      version: 'v2.6.4',
      components: LAYOUTS.streaming,
      chartVersion: '5.0.0',
      computedValues: CHART_5_0_0,
    });
    assert.deepEqual(hops, []);
  });
});
