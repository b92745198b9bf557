// Helm arguments that install a fixture Milvus release the way a user of that chart version
// would have.
import semver from 'semver';

/** Distinctive credentials every fixture release is installed with: they must never be printed. */
export const FIXTURE_SECRETS = {
  minioAccessKey: 'fixture-minio-access-Qz7RkW2p',
  minioSecretKey: 'fixture-minio-secret-Vn4Tx9Lc8Hs',
  /** Only with `mq: 'external-pulsar'`: the token in `externalPulsar.authParams`. */
  pulsarToken: 'fixture-pulsar-token-Jm3Ye6Bd',
} as const;

/** Every fixture secret as it may show up: verbatim and base64 (as in a Secret's `data`). */
export function fixtureSecretNeedles(): string[] {
  return Object.values(FIXTURE_SECRETS).flatMap((secret) => [
    secret,
    Buffer.from(secret).toString('base64'),
  ]);
}

/** Address of the external Pulsar used by `mq: 'external-pulsar'`. */
export const EXTERNAL_PULSAR = { host: 'pulsar.external.example', port: 6650 } as const;

export type FixtureQueue =
  | 'pulsar'
  | 'pulsarv3'
  | 'kafka'
  | 'woodpecker'
  | 'external-pulsar'
  /** Standalone only. */
  | 'rocksmq';

export interface MilvusInstallOptions {
  release: string;
  namespace: string;
  /** Chart reference as Helm takes it, e.g. `fixtures/milvus`. */
  chartRef: string;
  chartVersion: string;
  /** Milvus image tag, e.g. `v2.5.10`. */
  milvusVersion: string;
  /** `separate`: the four coordinators instead of mixcoord (the chart default). */
  layout: 'separate' | 'mixcoord';
  mq: FixtureQueue;
  standalone?: boolean;
  queryNodeReplicas?: number;
  /** Further `--set`s, passed verbatim after the others. */
  extraSets?: [string, string][];
}

/** First chart with the `pulsarv3` dependency (disabled by default until 4.2.27). */
const PULSAR_V3_SINCE = '4.2.21';
/** First chart whose default queue is Pulsar v3 instead of Pulsar v2. */
const PULSAR_V3_DEFAULT_SINCE = '4.2.27';
/** First fixture chart with the `woodpecker` key. */
const WOODPECKER_SINCE = '4.2.58';

/**
 * `helm install` arguments for a fixture Milvus release, with the `--set`s a user of that chart
 * version would have given: nothing for what the chart does by default (e.g. the default Pulsar
 * v2 of chart 4.2.20), and the default Pulsar switched off when another queue is chosen.
 */
export function milvusInstallArgs(options: MilvusInstallOptions): string[] {
  const { chartVersion, mq } = options;
  const hasPulsarV3 = semver.gte(chartVersion, PULSAR_V3_SINCE);
  const defaultPulsar = semver.lt(chartVersion, PULSAR_V3_DEFAULT_SINCE) ? 'pulsar' : 'pulsarv3';
  const unsupported = (why: string) =>
    new Error(
      `mq '${mq}' with chart ${chartVersion}${options.standalone ? ' (standalone)' : ''}: ${why}`,
    );
  if (mq === 'pulsarv3' && !hasPulsarV3) throw unsupported('the chart has no pulsarv3');
  if (mq === 'woodpecker' && semver.lt(chartVersion, WOODPECKER_SINCE)) {
    throw unsupported('the chart has no woodpecker');
  }
  if (mq === 'rocksmq' && !options.standalone) throw unsupported('rocksmq is standalone only');

  const sets: [string, string][] = [
    ['image.all.tag', options.milvusVersion],
    ['minio.accessKey', FIXTURE_SECRETS.minioAccessKey],
    ['minio.secretKey', FIXTURE_SECRETS.minioSecretKey],
  ];
  if (options.standalone) {
    sets.push(
      ['cluster.enabled', 'false'],
      ['etcd.replicaCount', '1'],
      ['minio.mode', 'standalone'],
    );
  }
  if (options.layout === 'separate') {
    sets.push(
      ['mixCoordinator.enabled', 'false'],
      ['rootCoordinator.enabled', 'true'],
      ['queryCoordinator.enabled', 'true'],
      ['dataCoordinator.enabled', 'true'],
      ['indexCoordinator.enabled', 'true'],
    );
  }
  if (options.queryNodeReplicas !== undefined) {
    sets.push(['queryNode.replicas', String(options.queryNodeReplicas)]);
  }

  if (mq === 'pulsar' || mq === 'pulsarv3') {
    if (mq !== defaultPulsar) {
      sets.push([`${defaultPulsar}.enabled`, 'false'], [`${mq}.enabled`, 'true']);
    }
  } else {
    sets.push([`${defaultPulsar}.enabled`, 'false']);
  }
  switch (mq) {
    case 'kafka':
      sets.push(['kafka.enabled', 'true']);
      break;
    case 'woodpecker':
      if (!options.standalone) sets.push(['woodpecker.enabled', 'true']);
      break;
    case 'external-pulsar':
      sets.push(
        ['externalPulsar.enabled', 'true'],
        ['externalPulsar.host', EXTERNAL_PULSAR.host],
        ['externalPulsar.port', String(EXTERNAL_PULSAR.port)],
        ['externalPulsar.authPlugin', 'org.apache.pulsar.client.impl.auth.AuthenticationToken'],
        ['externalPulsar.authParams', `token:${FIXTURE_SECRETS.pulsarToken}`],
      );
      break;
  }
  if (options.standalone) {
    // Standalone runs its own queue unless it is told to use Pulsar or Kafka.
    const standaloneQueue =
      mq === 'kafka' ? 'kafka' : mq === 'rocksmq' || mq === 'woodpecker' ? mq : 'pulsar';
    sets.push(['standalone.messageQueue', standaloneQueue]);
  }
  sets.push(...(options.extraSets ?? []));

  return [
    'install',
    options.release,
    options.chartRef,
    '--version',
    chartVersion,
    '--namespace',
    options.namespace,
    ...sets.flatMap(([key, value]) => ['--set', `${key}=${value}`]),
  ];
}
