// Which message queue a set of chart values makes Milvus use, and how to keep it across a hop.
import { parse } from 'yaml';
import { refusal } from './errors.ts';
import {
  KAFKA_FAMILY_ORDER,
  type MessageQueue,
  PULSAR_FAMILY_ORDER,
  QUEUE_FLAGS,
} from './milvus.ts';
import type { Values } from './observed.ts';
import { hasPath, mergeValues, valueAt, valuesFromSets } from './values.ts';

export interface QueueReading {
  queue: MessageQueue | undefined;
  /** How the queue was decided, for the log. */
  basis: string;
  /** Kafka is rendered too but unused, because Milvus prefers a configured Pulsar. */
  idleKafka: boolean;
}

/** Every values key that switches a queue on or off. */
export const QUEUE_FLAG_KEYS: readonly string[] = Object.values(QUEUE_FLAGS).filter(
  (key): key is string => key !== undefined,
);

/** Keys that name the external queue the cluster talks to; changing them changes the queue. */
const QUEUE_ADDRESS_KEYS: Partial<Record<MessageQueue, readonly string[]>> = {
  'external-pulsar': ['externalPulsar.host', 'externalPulsar.port'],
  'external-kafka': ['externalKafka.brokerList'],
};

/** A chart condition is on only for a real `true` (or the string Helm would print for it). */
export function isOn(values: Values, key: string): boolean {
  const value = valueAt(values, key);
  return value === true || value === 'true';
}

function firstEnabled(values: Values, order: readonly MessageQueue[]): MessageQueue | undefined {
  return order.find((queue) => {
    const flag = QUEUE_FLAGS[queue];
    return flag !== undefined && isOn(values, flag);
  });
}

/** `mq.type` from the `user.yaml` the chart renders from `extraConfigFiles`, if set. */
export function configuredMqType(values: Values): string | undefined {
  const files = valueAt(values, 'extraConfigFiles');
  const userYaml = typeof files === 'object' && files ? (files as Values)['user.yaml'] : undefined;
  if (typeof userYaml !== 'string' || userYaml.trim() === '') return undefined;
  const config: unknown = parse(userYaml);
  if (typeof config !== 'object' || config === null) return undefined;
  const type = valueAt(config as Values, 'mq.type');
  return typeof type === 'string' && type !== '' && type !== 'default' ? type : undefined;
}

/**
 * The queue Milvus ends up on with these (computed) chart values. The chart renders the first
 * enabled of externalPulsar, pulsar (v2), woodpecker, pulsarv3, and a Kafka block besides it;
 * Milvus prefers Pulsar when both are configured; `mq.type` in user.yaml overrides the choice.
 */
export function readQueue(values: Values): QueueReading {
  const rendered = firstEnabled(values, PULSAR_FAMILY_ORDER);
  const kafka = firstEnabled(values, KAFKA_FAMILY_ORDER);
  const pulsar = rendered === 'woodpecker' ? undefined : rendered;
  let mqType: string | undefined;
  try {
    mqType = configuredMqType(values);
  } catch {
    return {
      queue: undefined,
      basis: 'extraConfigFiles user.yaml is not valid YAML',
      idleKafka: false,
    };
  }

  if (valueAt(values, 'cluster.enabled') === false) {
    const standalone = mqType ?? valueAt(values, 'standalone.messageQueue');
    const queue = ['rocksmq', 'natsmq', 'woodpecker'].includes(String(standalone))
      ? (standalone as MessageQueue)
      : (pulsar ?? kafka);
    return { queue, basis: `standalone.messageQueue=${String(standalone)}`, idleKafka: false };
  }

  switch (mqType) {
    case undefined:
      if (rendered === 'woodpecker') return chartChoice('woodpecker', false);
      if (pulsar) return chartChoice(pulsar, kafka !== undefined);
      return kafka ? chartChoice(kafka, false) : chartChoice(undefined, false);
    case 'pulsar':
      return { queue: pulsar, basis: 'mq.type=pulsar in extraConfigFiles', idleKafka: !!kafka };
    case 'kafka':
      return { queue: kafka, basis: 'mq.type=kafka in extraConfigFiles', idleKafka: false };
    case 'woodpecker':
    case 'rocksmq':
    case 'natsmq':
      return { queue: mqType, basis: `mq.type=${mqType} in extraConfigFiles`, idleKafka: false };
    default:
      return { queue: undefined, basis: `unknown mq.type=${mqType}`, idleKafka: false };
  }
}

function chartChoice(queue: MessageQueue | undefined, idleKafka: boolean): QueueReading {
  const flag = queue ? QUEUE_FLAGS[queue] : undefined;
  return {
    queue,
    basis: flag ? `${flag}=true in the chart values` : 'no message queue is enabled in the values',
    idleKafka,
  };
}

export interface QueueKeeping {
  /** `--set`s that keep the current queue; empty when the hop keeps it on its own. */
  pins: [string, string][];
  notes: string[];
}

export interface KeepQueueInput {
  /** Label of the hop, for messages (e.g. `hop 1 (v2.5.16, chart 4.2.58)`). */
  hop: string;
  /** The values the release runs with now (`helm get values --all`). */
  current: Values;
  /** The values the hop would render: new chart defaults, reused user values, files, sets. */
  predicted: Values;
  /** The new chart's own defaults (`helm show values`): tells which keys the chart still has. */
  chartDefaults: Values;
  /** The user's values files applied to this hop, already merged. */
  valuesFiles: Values;
}

/**
 * Pins every queue switch to what it is now, so a hop cannot move Milvus to another (empty)
 * queue, for example a release from chart <= 4.2.26 that relied on the default Pulsar v2 and
 * would get the new default Pulsar v3. Refuses where pinning cannot keep the queue.
 */
export function keepQueue(input: KeepQueueInput): QueueKeeping {
  const { hop, current, predicted, chartDefaults, valuesFiles } = input;
  const before = readQueue(current);
  // assess() has refused a release whose queue cannot be told, before any hop is predicted.
  if (!before.queue) throw new Error(`keepQueue: no known queue (${before.basis})`);

  const switched = changedByFiles(current, valuesFiles, before.queue)[0];
  if (switched) {
    throw refusal(
      `The values-files set ${switched}=${String(valueAt(valuesFiles, switched))}, which would change the message queue of the release (now ${before.queue}); switching queues is not supported and loses the data in flight.`,
      `Remove ${switched} from the values-files, then re-run.`,
    );
  }

  const pins: [string, string][] = [];
  const notes: string[] = [];
  for (const key of QUEUE_FLAG_KEYS) {
    const now = isOn(current, key);
    if (isOn(predicted, key) === now) continue;
    if (!hasPath(chartDefaults, key)) {
      if (!now) continue;
      throw refusal(
        `${hop} would drop ${key.replace('.enabled', '')}, the message queue the release uses (${before.queue}): the new chart has no ${key} setting, so it cannot be kept.`,
        'Use a chart version that still provides this message queue, or migrate the queue separately before upgrading.',
      );
    }
    pins.push([key, String(now)]);
    notes.push(
      `${hop}: pinning ${key}=${now} (the new chart would set ${!now}), to keep the message queue ${before.queue}.`,
    );
  }

  // Standalone Milvus takes its queue from standalone.messageQueue, whose default changed from
  // rocksmq (4.2.x) to woodpecker (5.0.0).
  const standaloneQueue = valueAt(current, 'standalone.messageQueue');
  if (
    valueAt(current, 'cluster.enabled') === false &&
    typeof standaloneQueue === 'string' &&
    valueAt(predicted, 'standalone.messageQueue') !== standaloneQueue
  ) {
    pins.push(['standalone.messageQueue', standaloneQueue]);
    notes.push(
      `${hop}: pinning standalone.messageQueue=${standaloneQueue} (the new chart would set ${String(valueAt(predicted, 'standalone.messageQueue'))}), to keep the message queue ${before.queue}.`,
    );
  }

  const after = readQueue(mergeValues(predicted, valuesFromSets(pins)));
  if (after.queue !== before.queue) {
    throw refusal(
      `${hop} would switch the message queue from ${before.queue} to ${after.queue ?? 'none'} (${after.basis}), and pinning the chart switches cannot prevent it.`,
      'Check extraConfigFiles (mq.type) and the queue settings in your values; the queue must stay the same across the upgrade.',
    );
  }
  return { pins, notes };
}

/** Queue settings that the user's values files change relative to the running release. */
function changedByFiles(current: Values, files: Values, queue: MessageQueue): string[] {
  const flags = QUEUE_FLAG_KEYS.filter(
    (key) => valueAt(files, key) !== undefined && isOn(files, key) !== isOn(current, key),
  );
  const standalone = valueAt(files, 'standalone.messageQueue');
  if (standalone !== undefined && standalone !== valueAt(current, 'standalone.messageQueue')) {
    flags.push('standalone.messageQueue');
  }
  const addresses = (QUEUE_ADDRESS_KEYS[queue] ?? []).filter((key) => {
    const value = valueAt(files, key);
    return value !== undefined && String(value) !== String(valueAt(current, key));
  });
  return [...flags, ...addresses];
}
