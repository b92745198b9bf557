// Helm release records written straight into the cluster, for states that real Helm only
// leaves behind when interrupted (pending-upgrade) or that take long to reach by hand.
import { gzipSync } from 'node:zlib';
import type { ControlPlane } from '../control-plane/cluster.ts';

export interface ReleaseRecord {
  name: string;
  namespace: string;
  /** The revision. */
  version: number;
  status: string;
  /** Chart name, version and appVersion. */
  chart: [string, string, string];
  /** The user-supplied values (`helm get values`), `null` for none. */
  config: Record<string, unknown> | null;
  /** The chart's default values; `helm get values --all` merges `config` over them. */
  chartValues?: Record<string, unknown>;
  manifest?: string;
}

/** Stores `record` as Helm 3 and 4 keep releases: a Secret holding gzipped, base64 JSON. */
export async function writeReleaseRecord(
  cluster: ControlPlane,
  record: ReleaseRecord,
): Promise<void> {
  const [chartName, chartVersion, appVersion] = record.chart;
  const payload = {
    name: record.name,
    namespace: record.namespace,
    version: record.version,
    info: {
      status: record.status,
      first_deployed: '2026-01-01T00:00:00Z',
      last_deployed: '2026-01-01T00:00:00Z',
      deleted: '',
      description: `${record.status} revision`,
    },
    chart: {
      metadata: { apiVersion: 'v2', name: chartName, version: chartVersion, appVersion },
      values: record.chartValues ?? {},
    },
    config: record.config,
    manifest: record.manifest ?? '',
  };
  const encoded = gzipSync(JSON.stringify(payload)).toString('base64');
  await cluster.store.create({
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'helm.sh/release.v1',
    metadata: {
      name: `sh.helm.release.v1.${record.name}.v${record.version}`,
      namespace: record.namespace,
      labels: {
        name: record.name,
        owner: 'helm',
        status: record.status,
        version: String(record.version),
      },
    },
    data: { release: Buffer.from(encoded).toString('base64') },
  });
}
