// Everything that changes with Milvus and chart releases lives here, in one place.

/** Milvus Deployments, named `<fullname>-<component>` and labelled `component=<component>`. */
export type Component =
  | 'mixcoord'
  | 'rootcoord'
  | 'querycoord'
  | 'datacoord'
  | 'indexcoord'
  | 'proxy'
  | 'querynode'
  | 'datanode'
  | 'indexnode'
  | 'streamingnode'
  | 'standalone';

export const ALL_COMPONENTS: readonly Component[] = [
  'mixcoord',
  'rootcoord',
  'querycoord',
  'datacoord',
  'indexcoord',
  'proxy',
  'querynode',
  'datanode',
  'indexnode',
  'streamingnode',
  'standalone',
];

/** The separate coordinators that mixcoord replaces, with the values key that switches each. */
export const LEGACY_COORDINATORS: readonly { component: Component; valuesKey: string }[] = [
  { component: 'rootcoord', valuesKey: 'rootCoordinator' },
  { component: 'querycoord', valuesKey: 'queryCoordinator' },
  { component: 'datacoord', valuesKey: 'dataCoordinator' },
  { component: 'indexcoord', valuesKey: 'indexCoordinator' },
];

/** Oldest Milvus version the action upgrades from. */
export const MINIMUM_SOURCE_VERSION = '2.5.0';

/** Oldest 2.5 release that may be upgraded to 2.6 (it must also run mixcoord). */
export const MINIMUM_INTERMEDIATE_VERSION = '2.5.16';

/** Oldest Helm with `--reset-then-reuse-values`. */
export const MINIMUM_HELM_VERSION = '3.14.0';

/** Oldest Kubernetes the Milvus chart supports. */
export const MINIMUM_KUBERNETES_VERSION = '1.20.0';

/** Annotation on a Milvus Deployment the action holds (paused) until its turn in the rollout. */
export const HELD_ANNOTATION = 'milvus-upgrade-action/held-for';

/**
 * One component's turn in an ordered rollout, and when the next one may start: `ready` once
 * every pod runs the new version and is ready; `updated` once every pod runs the new version,
 * ready or not (a 2.6 streaming node only becomes ready once a 2.6 mixcoord runs).
 */
export interface RolloutStep {
  component: Component;
  done: 'ready' | 'updated';
}

/**
 * One hop of the official procedure: the Milvus series it lands on, the `--set`s it always
 * carries besides `image.all.tag`, the Milvus Deployments a healthy cluster has afterwards, and
 * the order its components roll in (components the hop removes go with Helm's apply).
 */
export interface HopSpec {
  series: '2.5' | '2.6';
  sets: readonly (readonly [string, string])[];
  components: readonly Component[];
  order: readonly RolloutStep[];
}

export const HOP_TO_MIXCOORD: HopSpec = {
  series: '2.5',
  sets: [
    ['mixCoordinator.enabled', 'true'],
    ...LEGACY_COORDINATORS.map(({ valuesKey }) => [`${valuesKey}.enabled`, 'false'] as const),
  ],
  components: ['mixcoord', 'proxy', 'querynode', 'datanode', 'indexnode'],
  // The Milvus Operator's graph for mixcoord clusters: mixcoord, then the nodes, then the proxy.
  order: [
    { component: 'mixcoord', done: 'ready' },
    { component: 'indexnode', done: 'ready' },
    { component: 'querynode', done: 'ready' },
    { component: 'datanode', done: 'ready' },
    { component: 'proxy', done: 'ready' },
  ],
};

export const HOP_TO_STREAMING: HopSpec = {
  series: '2.6',
  sets: [
    ['streaming.enabled', 'true'],
    ['indexNode.enabled', 'false'],
  ],
  components: ['mixcoord', 'proxy', 'querynode', 'datanode', 'streamingnode'],
  // The maintainers' order for 2.5 → 2.6 (milvus-io/milvus #42492).
  order: [
    { component: 'streamingnode', done: 'updated' },
    { component: 'mixcoord', done: 'ready' },
    { component: 'querynode', done: 'ready' },
    { component: 'datanode', done: 'ready' },
    { component: 'proxy', done: 'ready' },
  ],
};

/** Standalone hops: the image tag only (milvus-docs `upgrade_milvus_standalone-helm.md`). */
export const STANDALONE_HOP_1: HopSpec = {
  series: '2.5',
  sets: [],
  components: ['standalone'],
  order: [{ component: 'standalone', done: 'ready' }],
};

export const STANDALONE_HOP_2: HopSpec = { ...STANDALONE_HOP_1, series: '2.6' };

/** The two hops of each layout. */
export function hopSpecs(standalone: boolean): { 1: HopSpec; 2: HopSpec } {
  return standalone
    ? { 1: STANDALONE_HOP_1, 2: STANDALONE_HOP_2 }
    : { 1: HOP_TO_MIXCOORD, 2: HOP_TO_STREAMING };
}

/** Defaults of the action's version inputs: the documented path. */
export const DEFAULT_PATH = {
  intermediateVersion: 'v2.5.16',
  intermediateChartVersion: '4.2.58',
  targetVersion: 'v2.6.4',
  targetChartVersion: '5.0.0',
} as const;

/**
 * Message queues as the chart chooses them. `flag` is the values key that enables each; the
 * chart renders the first enabled of `PULSAR_FAMILY_ORDER`, and a Kafka block besides it.
 * Milvus prefers Pulsar when both are configured, so Kafka only wins when no Pulsar is enabled.
 */
export type MessageQueue =
  | 'external-pulsar'
  | 'pulsar'
  | 'woodpecker'
  | 'pulsarv3'
  | 'external-kafka'
  | 'kafka'
  | 'rocksmq'
  | 'natsmq';

export const QUEUE_FLAGS: Readonly<Record<MessageQueue, string | undefined>> = {
  'external-pulsar': 'externalPulsar.enabled',
  pulsar: 'pulsar.enabled',
  woodpecker: 'woodpecker.enabled',
  pulsarv3: 'pulsarv3.enabled',
  'external-kafka': 'externalKafka.enabled',
  kafka: 'kafka.enabled',
  rocksmq: undefined,
  natsmq: undefined,
};

export const PULSAR_FAMILY_ORDER: readonly MessageQueue[] = [
  'external-pulsar',
  'pulsar',
  'woodpecker',
  'pulsarv3',
];
export const KAFKA_FAMILY_ORDER: readonly MessageQueue[] = ['external-kafka', 'kafka'];

/**
 * The values keys that set the image of each dependency the Milvus chart bundles, as the chart
 * renders them (`[<registry>/]<repository>:<tag>`); `workload` matches the workload's name.
 * A hop keeps every dependency on the image it runs by `--set`ting these back.
 */
export interface DependencyImage {
  dependency: string;
  workload: RegExp;
  /** Only this container of the workload; undefined: all of them. */
  container?: string;
  keys: { registry?: string; repository: string; tag: string };
}

const pulsarImages = (alias: string, component: string, workload: RegExp): DependencyImage => ({
  dependency: alias === 'pulsar' ? 'Pulsar v2' : 'Pulsar v3',
  workload,
  keys: {
    repository: `${alias}.images.${component}.repository`,
    tag: `${alias}.images.${component}.tag`,
  },
});

export const DEPENDENCY_IMAGES: readonly DependencyImage[] = [
  {
    dependency: 'etcd',
    workload: /-etcd$/,
    keys: {
      registry: 'etcd.image.registry',
      repository: 'etcd.image.repository',
      tag: 'etcd.image.tag',
    },
  },
  {
    dependency: 'MinIO',
    workload: /-minio$/,
    keys: { repository: 'minio.image.repository', tag: 'minio.image.tag' },
  },
  ...(['pulsar', 'pulsarv3'] as const).flatMap((alias) => [
    pulsarImages(alias, 'zookeeper', new RegExp(`-${alias}-zookeeper$`)),
    pulsarImages(alias, 'bookie', new RegExp(`-${alias}-bookie$`)),
    pulsarImages(alias, 'autorecovery', new RegExp(`-${alias}-recovery$`)),
    pulsarImages(alias, 'broker', new RegExp(`-${alias}-broker$`)),
    pulsarImages(alias, 'proxy', new RegExp(`-${alias}-proxy$`)),
  ]),
  {
    dependency: 'Kafka',
    workload: /-kafka$/,
    keys: {
      registry: 'kafka.image.registry',
      repository: 'kafka.image.repository',
      tag: 'kafka.image.tag',
    },
  },
  {
    dependency: 'ZooKeeper (Kafka)',
    workload: /-zookeeper$/,
    keys: {
      registry: 'kafka.zookeeper.image.registry',
      repository: 'kafka.zookeeper.image.repository',
      tag: 'kafka.zookeeper.image.tag',
    },
  },
];

/**
 * Known problems of Milvus releases that bear on this upgrade: warnings in the plan and the
 * summary, never refusals. `affects` holds per series the first release that is clear of it.
 */
export interface Advisory {
  id: string;
  summary: string;
  /** Series → the first release without the problem. */
  fixedIn: Partial<Record<'2.5' | '2.6', string>>;
  source: string;
}

export const ADVISORIES: readonly Advisory[] = [
  {
    id: 'milvus#45276',
    summary:
      'fixes for upgrading 2.5.x clusters to 2.6 landed after v2.6.4 ("support upgrading from 2.5.x -> 2.6.5"; backport #45313, tracking #43897)',
    fixedIn: { '2.6': 'v2.6.5' },
    source: 'https://github.com/milvus-io/milvus/pull/45276',
  },
  {
    id: 'CVE-2025-64513',
    summary: 'security vulnerability fixed in 2.6.5',
    fixedIn: { '2.6': 'v2.6.5' },
    source: 'https://nvd.nist.gov/vuln/detail/CVE-2025-64513',
  },
  {
    id: 'milvus#45738',
    summary: 'DDL requests during the upgrade can fail; fixed in 2.6.6',
    fixedIn: { '2.6': 'v2.6.6' },
    source: 'https://github.com/milvus-io/milvus/pull/45738',
  },
  {
    id: 'CVE-2026-26190',
    summary: 'unauthenticated API on port 9091',
    fixedIn: { '2.5': 'v2.5.27', '2.6': 'v2.6.10' },
    source: 'https://nvd.nist.gov/vuln/detail/CVE-2026-26190',
  },
];

/**
 * SHA-256 of the official Helm archives the action carries, by version and `<os>-<arch>`.
 * Other versions need the `helm-sha256` input or the `.sha256sum` published beside the archive.
 */
export const HELM_CHECKSUMS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  'v3.19.0': {
    'linux-amd64': 'a7f81ce08007091b86d8bd696eb4d86b8d0f2e1b9f6c714be62f82f96a594496',
    'linux-arm64': '440cf7add0aee27ebc93fada965523c1dc2e0ab340d4348da2215737fc0d76ad',
    'darwin-amd64': '09a108c0abda42e45af172be65c49125354bf7cd178dbe10435e94540e49c7b9',
    'darwin-arm64': '31513e1193da4eb4ae042eb5f98ef9aca7890cfa136f4707c8d4f70e2115bef6',
  },
  // The default: each value was confirmed in two independent public sources (see the README).
  'v4.2.4': {
    'linux-amd64': 'c306b46f719b0a4da32d0f78ee21bf90ce8d602f15b22ab753f0674d1670a7f3',
    'linux-arm64': '564de2191b881e9f71b5606b25345821ea1682f06ab90499d3ab22b530176da1',
    'darwin-amd64': '6c163d687ca03c3b5c01928e53bbbcf9518278f47ce7a2f249a5a08e8bdaa2bc',
    'darwin-arm64': 'd747eb4e28bd2727173d15b759fa0a17822291ec09db7ced3d55af290a3661a2',
  },
};
