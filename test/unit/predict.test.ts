import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkChartVersions } from '../../src/charts.ts';
import { UpgradeError } from '../../src/errors.ts';
import { describeQueue, queueBlocks, readManifest } from '../../src/manifest.ts';
import { HOP_TO_MIXCOORD, HOP_TO_STREAMING } from '../../src/milvus.ts';
import type { Values } from '../../src/observed.ts';
import { confirmKept, type ReleaseView, viewOf } from '../../src/predict.ts';
import { mergeValues } from '../../src/values.ts';
import { CHART_4_2_20, CHART_4_2_58 } from './builders.ts';

/** A rendered release of the shape the Milvus chart has: workloads and a Milvus config. */
function manifest(options: { queue: string; workloads: string[]; milvus?: string[] }): string {
  const workloads = options.workloads.map((name) =>
    [
      'apiVersion: apps/v1',
      'kind: StatefulSet',
      'metadata:',
      `  name: ${name}`,
      '  labels: { app: dependency }',
      'spec:',
      '  template:',
      '    spec:',
      '      containers:',
      `        - { name: main, image: "example/${name}:1" }`,
    ].join('\n'),
  );
  const milvus = (options.milvus ?? ['proxy']).map((component) =>
    [
      'kind: Deployment',
      'metadata:',
      `  name: my-milvus-${component}`,
      `  labels: { app.kubernetes.io/name: milvus, component: ${component} }`,
      'spec:',
      '  template:',
      '    spec:',
      `      containers: [{ name: ${component}, image: "milvusdb/milvus:v2.5.16" }]`,
    ].join('\n'),
  );
  const config = [
    'kind: ConfigMap',
    'metadata:',
    '  name: my-milvus',
    'data:',
    '  default.yaml: |',
    '    minio:',
    '      secretAccessKey: s3cr3t',
    ...options.queue.split('\n').map((line) => `    ${line}`),
  ].join('\n');
  return [...workloads, ...milvus, config].join('\n---\n');
}

const PULSAR = 'mq:\n  type: pulsar\npulsar:\n  address: my-milvus-pulsar-proxy\n  port: 6650';
const PULSAR_V3 = 'mq:\n  type: pulsar\npulsar:\n  address: my-milvus-pulsarv3-proxy\n  port: 6650';
const DEPENDENCIES = ['my-milvus-etcd', 'my-milvus-minio', 'my-milvus-pulsar-broker'];

function view(values: Values, text: string): ReleaseView {
  return { values, rendered: readManifest(text) };
}

describe('reading a manifest', () => {
  test('objects, workloads with images and labels, and the queue; no other config', () => {
    const rendered = readManifest(manifest({ queue: PULSAR, workloads: ['my-milvus-etcd'] }));
    assert.deepEqual(rendered.objects, [
      'StatefulSet/my-milvus-etcd',
      'Deployment/my-milvus-proxy',
      'ConfigMap/my-milvus',
    ]);
    const { object, ...workload } = rendered.workloads[0] ?? { object: undefined };
    assert.equal(
      object?.kind,
      'StatefulSet',
      'the whole object is kept for the API server to judge',
    );
    assert.deepEqual(workload, {
      kind: 'StatefulSet',
      name: 'my-milvus-etcd',
      labels: { app: 'dependency' },
      fields: { 'image main': 'example/my-milvus-etcd:1' },
    });
    assert.deepEqual(rendered.queue, [{ type: 'pulsar', address: 'my-milvus-pulsar-proxy' }]);
    assert.doesNotMatch(JSON.stringify(rendered), /s3cr3t/);
    assert.equal(describeQueue(rendered.queue), 'pulsar at my-milvus-pulsar-proxy');
  });

  test('Pulsar and Kafka both rendered repeat the mq key; both blocks are read', () => {
    const text = `${PULSAR_V3}\nmq:\n  type: kafka\nkafka:\n  brokerList: k:9092\n  saslPassword: pw`;
    assert.deepEqual(queueBlocks(text), [
      { type: 'pulsar', address: 'my-milvus-pulsarv3-proxy' },
      { type: 'kafka', address: 'k:9092' },
    ]);
    assert.equal(describeQueue([]), 'no message queue');
    assert.equal(readManifest('kind: Service\nmetadata: { name: x }\n').queue, undefined);
  });

  test('a dry run is read as Helm computes it: recorded user values over the chart defaults', () => {
    const v = viewOf({
      userValues: { pulsar: { enabled: true }, pulsarv3: { enabled: false } },
      chartValues: CHART_4_2_58,
      chartVersion: '4.2.58',
      appVersion: '2.5.16',
      manifest: manifest({ queue: PULSAR, workloads: [] }),
      applyMethod: '',
    });
    assert.equal((v.values.pulsar as Values).enabled, true);
    assert.equal((v.values.pulsarv3 as Values).enabled, false);
    assert.equal((v.values.mixCoordinator as Values).enabled, true);
  });
});

describe('confirmKept', () => {
  const before = view(CHART_4_2_20, manifest({ queue: PULSAR, workloads: DEPENDENCIES }));
  const pinned = mergeValues(CHART_4_2_58, {
    pulsar: { enabled: true },
    pulsarv3: { enabled: false },
  });
  const refused = (after: ReleaseView, what: RegExp) =>
    assert.throws(
      () => confirmKept('hop 1 (v2.5.16, chart 4.2.58)', before, after, 'milvus'),
      (error: unknown) => error instanceof UpgradeError && what.test(error.what),
    );

  test('the same queue and every dependency: kept, Milvus components may come and go', () => {
    const after = view(
      pinned,
      manifest({ queue: PULSAR, workloads: DEPENDENCIES, milvus: ['mixcoord', 'querynode'] }),
    );
    confirmKept('hop 1', before, after, 'milvus');
  });

  const cases: [string, ReleaseView, RegExp][] = [
    [
      'values that move to Pulsar v3',
      view(CHART_4_2_58, manifest({ queue: PULSAR, workloads: DEPENDENCIES })),
      /switches the message queue from pulsar to pulsarv3/,
    ],
    [
      'a Milvus config that points elsewhere, whatever the values say',
      view(pinned, manifest({ queue: PULSAR_V3, workloads: DEPENDENCIES })),
      /points at pulsar at my-milvus-pulsarv3-proxy, but the release points at pulsar at my-milvus-pulsar-proxy/,
    ],
    [
      'a dependency workload dropped',
      view(pinned, manifest({ queue: PULSAR, workloads: DEPENDENCIES.slice(0, 2) })),
      /would delete StatefulSet\/my-milvus-pulsar-broker, which is not part of Milvus/,
    ],
  ];
  for (const [name, after, what] of cases) test(`refuses ${name}`, () => refused(after, what));
});

describe('checkChartVersions', () => {
  const where = { repository: 'https://charts.example', chartName: 'milvus' };
  const available = [
    { version: '5.0.0', appVersion: '2.6.0' },
    { version: '4.2.58', appVersion: '2.5.16' },
    { version: '4.2.0', appVersion: '' },
  ];
  const hop1 = { number: 1 as const, chartVersion: '4.2.58', spec: HOP_TO_MIXCOORD };
  const hop2 = { number: 2 as const, chartVersion: '5.0.0', spec: HOP_TO_STREAMING };

  test('each hop on a chart of its series passes', () => {
    checkChartVersions(where, available, [hop1, hop2]);
  });

  const cases: [string, (typeof hop1 | typeof hop2)[], RegExp, RegExp][] = [
    [
      'swapped chart versions',
      [
        { ...hop1, chartVersion: '5.0.0' },
        { ...hop2, chartVersion: '4.2.58' },
      ],
      /^intermediate-chart-version 5\.0\.0 is a chart of Milvus 2\.6\.0, but hop 1 lands on Milvus 2\.5/,
      /^Set intermediate-chart-version to a milvus chart of the 2\.5 series .*4\.2\.58/,
    ],
    [
      'a 2.5 chart for the target',
      [{ ...hop2, chartVersion: '4.2.58' }],
      /^target-chart-version 4\.2\.58 is a chart of Milvus 2\.5\.16, but hop 2 lands on Milvus 2\.6/,
      /5\.0\.0/,
    ],
    [
      'a chart that names no Milvus version',
      [{ ...hop1, chartVersion: '4.2.0' }],
      /4\.2\.0 is a chart of Milvus of an unknown version/,
      /2\.5 series/,
    ],
    [
      'a missing chart version',
      [{ ...hop2, chartVersion: '5.0.9' }],
      /has no milvus chart version 5\.0\.9/,
      /chart-repository/,
    ],
  ];
  for (const [name, hops, what, next] of cases) {
    test(`refuses ${name}`, () =>
      assert.throws(
        () => checkChartVersions(where, available, hops),
        (error: unknown) =>
          error instanceof UpgradeError && what.test(error.what) && next.test(error.next),
      ));
  }
});
