import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UpgradeError } from '../../src/errors.ts';
import type { Values } from '../../src/observed.ts';
import { keepQueue, readQueue } from '../../src/queue.ts';
import { mergeValues, valuesFromSets } from '../../src/values.ts';
import { CHART_4_2_20, CHART_4_2_58, CHART_5_0_0 } from './builders.ts';

const userYaml = (yaml: string): Values => ({ extraConfigFiles: { 'user.yaml': yaml } });

describe('readQueue: the queue Milvus uses, by the chart rules', () => {
  const cases: [string, Values, string | undefined, boolean][] = [
    ['chart 4.2.20 defaults: Pulsar v2', CHART_4_2_20, 'pulsar', false],
    ['chart 4.2.58 defaults: Pulsar v3', CHART_4_2_58, 'pulsarv3', false],
    [
      'Pulsar v2 wins over Pulsar v3',
      mergeValues(CHART_4_2_58, { pulsar: { enabled: true } }),
      'pulsar',
      false,
    ],
    [
      'external Pulsar wins over everything',
      mergeValues(CHART_4_2_20, { externalPulsar: { enabled: true } }),
      'external-pulsar',
      false,
    ],
    [
      'woodpecker comes before Pulsar v3',
      mergeValues(CHART_4_2_58, { woodpecker: { enabled: true } }),
      'woodpecker',
      false,
    ],
    [
      'Kafka alone',
      mergeValues(CHART_4_2_58, { pulsarv3: { enabled: false }, kafka: { enabled: true } }),
      'kafka',
      false,
    ],
    [
      'external Kafka alone',
      mergeValues(CHART_4_2_58, { pulsarv3: { enabled: false }, externalKafka: { enabled: true } }),
      'external-kafka',
      false,
    ],
    [
      'Kafka beside the default Pulsar v3: Pulsar is used, Kafka idle',
      mergeValues(CHART_4_2_58, { kafka: { enabled: true } }),
      'pulsarv3',
      true,
    ],
    [
      'nothing enabled',
      mergeValues(CHART_4_2_58, { pulsarv3: { enabled: false } }),
      undefined,
      false,
    ],
    [
      'mq.type=kafka in user.yaml beats the Pulsar default',
      mergeValues(CHART_4_2_58, { kafka: { enabled: true } }, userYaml('mq:\n  type: kafka\n')),
      'kafka',
      false,
    ],
    [
      'mq.type=pulsar picks the enabled Pulsar',
      mergeValues(CHART_4_2_20, userYaml('mq:\n  type: pulsar\n')),
      'pulsar',
      false,
    ],
    [
      'mq.type=default follows the chart',
      mergeValues(CHART_4_2_20, userYaml('mq:\n  type: default\n')),
      'pulsar',
      false,
    ],
    [
      'mq.type=woodpecker',
      mergeValues(CHART_5_0_0, userYaml('mq:\n  type: woodpecker\n')),
      'woodpecker',
      false,
    ],
    [
      'unknown mq.type',
      mergeValues(CHART_5_0_0, userYaml('mq:\n  type: rabbit\n')),
      undefined,
      false,
    ],
    ['user.yaml that is not YAML', mergeValues(CHART_5_0_0, userYaml('mq: [\n')), undefined, false],
    [
      'a string "true" counts as on',
      mergeValues(CHART_4_2_58, { pulsar: { enabled: 'true' } }),
      'pulsar',
      false,
    ],
    [
      'standalone uses standalone.messageQueue',
      mergeValues(CHART_4_2_58, {
        cluster: { enabled: false },
        standalone: { messageQueue: 'rocksmq' },
      }),
      'rocksmq',
      false,
    ],
  ];
  for (const [name, values, queue, idleKafka] of cases) {
    test(name, () => {
      const reading = readQueue(values);
      assert.equal(reading.queue, queue);
      assert.equal(reading.idleKafka, idleKafka);
      assert.ok(reading.basis.length > 0);
    });
  }
});

/** What `--reset-then-reuse-values` renders: new defaults, the user's values, files, sets. */
function hop(defaults: Values, user: Values, sets: [string, string][], files: Values = {}) {
  return {
    hop: 'hop 1',
    current: mergeValues(CHART_4_2_20, user),
    predicted: mergeValues(defaults, user, files, valuesFromSets(sets)),
    chartDefaults: defaults,
    valuesFiles: files,
  };
}

function refused(run: () => unknown): UpgradeError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof UpgradeError, String(error));
    assert.match(error.state, /unchanged/);
    return error;
  }
  assert.fail('expected a refusal');
}

describe('keepQueue: pins the queue a hop would switch', () => {
  test('Pulsar v2 from the old default is pinned on, and the new Pulsar v3 off', () => {
    const kept = keepQueue(hop(CHART_4_2_58, {}, [['image.all.tag', 'v2.5.16']]));
    assert.deepEqual(kept.pins, [
      ['pulsar.enabled', 'true'],
      ['pulsarv3.enabled', 'false'],
    ]);
    assert.equal(kept.notes.length, 2);
    assert.match(kept.notes[0] ?? '', /pulsar\.enabled=true.*keep the message queue pulsar/);
  });

  test('an explicit Pulsar v2 choice needs only Pulsar v3 switched off', () => {
    const kept = keepQueue(hop(CHART_4_2_58, { pulsar: { enabled: true } }, []));
    assert.deepEqual(kept.pins, [['pulsarv3.enabled', 'false']]);
  });

  test('Kafka users get the new default Pulsar v3 switched off', () => {
    const user = { pulsar: { enabled: false }, kafka: { enabled: true } };
    const kept = keepQueue(hop(CHART_4_2_58, user, []));
    assert.deepEqual(kept.pins, [['pulsarv3.enabled', 'false']]);
  });

  test('external Pulsar keeps the external settings and the subcharts off', () => {
    const user = {
      pulsar: { enabled: false },
      externalPulsar: { enabled: true, host: 'pulsar.example', port: 6650 },
    };
    const kept = keepQueue(hop(CHART_4_2_58, user, []));
    assert.deepEqual(kept.pins, [['pulsarv3.enabled', 'false']]);
  });

  test('nothing to pin when the hop keeps the queue on its own', () => {
    const current = CHART_4_2_58;
    const kept = keepQueue({
      hop: 'hop 2',
      current,
      predicted: mergeValues(CHART_5_0_0, { streaming: { enabled: true } }),
      chartDefaults: CHART_5_0_0,
      valuesFiles: {},
    });
    assert.deepEqual(kept, { pins: [], notes: [] });
  });

  test('refuses a values file that switches the queue', () => {
    const files = { pulsar: { enabled: false }, pulsarv3: { enabled: true } };
    const error = refused(() => keepQueue(hop(CHART_4_2_58, {}, [], files)));
    assert.match(
      error.what,
      /values-files set pulsar\.enabled=false.*change the message queue.*now pulsar/,
    );
    assert.match(error.next, /Remove pulsar\.enabled from the values-files/);
  });

  test('refuses a values file that points external Pulsar elsewhere', () => {
    const user = {
      pulsar: { enabled: false },
      externalPulsar: { enabled: true, host: 'a.example' },
    };
    const error = refused(() =>
      keepQueue(hop(CHART_4_2_58, user, [], { externalPulsar: { host: 'b.example' } })),
    );
    assert.match(error.what, /externalPulsar\.host=b\.example/);
  });

  test('a values file may tune the queue without switching it', () => {
    const kept = keepQueue(
      hop(CHART_4_2_58, { pulsar: { enabled: true } }, [], {
        pulsar: { enabled: true, broker: { replicaCount: 2 } },
      }),
    );
    assert.deepEqual(kept.pins, [['pulsarv3.enabled', 'false']]);
  });

  test('refuses when the new chart no longer has the queue in use', () => {
    const withoutPulsarV2 = mergeValues(CHART_5_0_0, { pulsar: null });
    const error = refused(() => keepQueue(hop(withoutPulsarV2, {}, [])));
    assert.match(error.what, /would drop pulsar.*no pulsar\.enabled setting/);
  });

  test('refuses when a pin cannot beat mq.type', () => {
    const current = mergeValues(CHART_4_2_20, { kafka: { enabled: true } });
    const predicted = mergeValues(
      CHART_4_2_58,
      { kafka: { enabled: true } },
      userYaml('mq:\n  type: kafka\n'),
    );
    const error = refused(() =>
      keepQueue({ hop: 'hop 1', current, predicted, chartDefaults: CHART_4_2_58, valuesFiles: {} }),
    );
    assert.match(error.what, /switch the message queue from pulsar to kafka/);
  });

  test('is never asked about a release whose queue assess() could not tell', () => {
    const current = mergeValues(CHART_4_2_58, { pulsarv3: { enabled: false } });
    assert.throws(
      () =>
        keepQueue({
          hop: 'hop 1',
          current,
          predicted: CHART_4_2_58,
          chartDefaults: CHART_4_2_58,
          valuesFiles: {},
        }),
      (error: unknown) => !(error instanceof UpgradeError) && /no known queue/.test(String(error)),
    );
  });
});
