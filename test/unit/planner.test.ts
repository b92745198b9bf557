import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assess } from '../../src/assess.ts';
import { chooseHops, type HopChoice, planHop } from '../../src/planner.ts';
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

describe('planHop', () => {
  const ctx = {
    release: 'milvus',
    namespace: 'default',
    chartRef: 'zilliztech/milvus',
    helmMajor: 3 as const,
    timeout: '20m',
  };
  const [hop1, hop2] = chooseHops(assess(observed(OLD_PULSAR), TARGETS), TARGETS);
  const keeping = (pins: [string, string][] = [], valuesFiles: string[] = []) => ({
    valuesFiles,
    pins,
    imagePins: [],
    notes: [],
    objects: [],
    changes: [],
  });

  test('the exact Helm 3 arguments of the official procedure, with the pins Helm called for', () => {
    const pins: [string, string][] = [
      ['pulsar.enabled', 'true'],
      ['pulsarv3.enabled', 'false'],
    ];
    const hop = planHop(hop1 as HopChoice, ctx, keeping(pins));
    assert.deepEqual(hop.args, [
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
    assert.deepEqual(hop.pins, pins);
    assert.deepEqual(sets(planHop(hop2 as HopChoice, ctx, keeping()).args), [
      'image.all.tag=v2.6.4',
      ...HOP2_SETS,
    ]);
  });

  test('Helm 4 waits with the watcher', () => {
    const hop = planHop(hop1 as HopChoice, { ...ctx, helmMajor: 4, timeout: '45m' }, keeping());
    assert.deepEqual(hop.args.slice(-3), ['--wait=watcher', '--timeout', '45m']);
  });

  test('components expected and removed per hop', () => {
    const one = planHop(hop1 as HopChoice, ctx, keeping());
    assert.deepEqual(one.components, LAYOUTS.mixcoord);
    assert.deepEqual(one.removes, [
      'rootcoord',
      'querycoord',
      'datacoord',
      'indexcoord',
      'streamingnode',
    ]);
    const two = planHop(hop2 as HopChoice, ctx, keeping());
    assert.deepEqual(two.components, LAYOUTS.streaming);
    assert.deepEqual(two.removes, [
      'rootcoord',
      'querycoord',
      'datacoord',
      'indexcoord',
      'indexnode',
    ]);
  });

  test('values files come before the sets', () => {
    const hop = planHop(hop2 as HopChoice, ctx, keeping([], ['/w/prod.yaml']));
    assert.deepEqual(hop.args.slice(8, 10), ['-f', '/w/prod.yaml']);
    assert.deepEqual(hop.valuesFiles, ['/w/prod.yaml']);
  });
});
