// What Helm prints, parsed into plain data; only what is not secret is kept.
import semver from 'semver';
import { parse as parseYaml } from 'yaml';
import { HelmError } from './helm-errors.ts';
import type { ReleaseInfo, Values } from './observed.ts';

/** One entry of `helm list`, with the chart split into name and version. */
export interface ReleaseListEntry extends ReleaseInfo {
  /** `milvus-4.2.58`, as Helm reports it. */
  chart: string;
  updated: string;
}

/** `helm status`, without the manifest, values and notes it also carries. */
export interface ReleaseStatus {
  name: string;
  namespace: string;
  revision: number;
  status: string;
  description: string;
  lastDeployed: string;
  /** Helm 3's `status -o json` leaves the chart out; Helm 4 may carry it. */
  chartName: string | undefined;
  chartVersion: string | undefined;
  appVersion: string | undefined;
}

export interface ChartVersion {
  version: string;
  appVersion: string;
}

/** What a server-side dry run says Helm would record and apply; the manifest holds secrets. */
export interface DryRunRelease {
  /** The user values Helm would record for the revision (what the next reuse starts from). */
  userValues: Values;
  /** The chart's own defaults. */
  chartValues: Values;
  chartVersion: string;
  appVersion: string;
  manifest: string;
  /** Helm 4: `ssa` when it applies the release server-side (it keeps what the release used). */
  applyMethod: string;
}

/** One revision of `helm history`. */
export interface Revision {
  revision: number;
  status: string;
  chart: string;
  description: string;
}

/**
 * `milvus-4.2.58` → `milvus` + `4.2.58`; `my-chart-1.0.0-rc.1` → `my-chart` + `1.0.0-rc.1`. The
 * version is the longest tail after a dash that is a full SemVer; none: the whole is the name.
 */
export function splitChart(chart: string): { chartName: string; chartVersion: string } {
  for (let i = chart.indexOf('-'); i > 0; i = chart.indexOf('-', i + 1)) {
    const tail = chart.slice(i + 1);
    if (/^v?\d/.test(tail) && semver.valid(tail.replace(/^v/, ''))) {
      return { chartName: chart.slice(0, i), chartVersion: tail };
    }
  }
  return { chartName: chart, chartVersion: '' };
}

/** Parses `helm list -o json`. */
export function parseList(json: string): ReleaseListEntry[] {
  const entries = parseJson(json, 'list');
  if (!Array.isArray(entries)) return [];
  return entries.map((raw) => {
    const entry = asRecord(raw);
    const chart = str(entry.chart);
    return {
      name: str(entry.name),
      namespace: str(entry.namespace),
      revision: Number(entry.revision),
      status: str(entry.status),
      chart,
      ...splitChart(chart),
      appVersion: str(entry.app_version),
      updated: str(entry.updated),
    };
  });
}

/** Parses `helm status -o json`, keeping only what is not secret. */
export function parseStatus(json: string): ReleaseStatus {
  const release = asRecord(parseJson(json, 'status'));
  const info = asRecord(release.info);
  const metadata = asRecord(asRecord(release.chart).metadata);
  return {
    name: str(release.name),
    namespace: str(release.namespace),
    revision: Number(release.version),
    status: str(info.status),
    description: str(info.description),
    lastDeployed: str(info.last_deployed),
    chartName: optionalStr(metadata.name),
    chartVersion: optionalStr(metadata.version),
    appVersion: optionalStr(metadata.appVersion),
  };
}

/** Parses the release JSON a `helm upgrade --dry-run=server --output json` prints. */
export function parseDryRun(json: string): DryRunRelease {
  const release = asRecord(parseJson(json, 'upgrade --dry-run'));
  const chart = asRecord(release.chart);
  const metadata = asRecord(chart.metadata);
  return {
    userValues: asValues(release.config),
    chartValues: asValues(chart.values),
    chartVersion: str(metadata.version),
    appVersion: str(metadata.appVersion),
    manifest: str(release.manifest),
    applyMethod: str(release.apply_method),
  };
}

/** Parses `helm history -o json`. */
export function parseHistory(json: string): Revision[] {
  const entries = parseJson(json, 'history');
  if (!Array.isArray(entries)) return [];
  return entries.map((raw) => {
    const entry = asRecord(raw);
    return {
      revision: Number(entry.revision),
      status: str(entry.status),
      chart: str(entry.chart),
      description: str(entry.description),
    };
  });
}

export function parseJson(text: string, subcommand: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // Never quote the output: it may hold values.
    throw new HelmError(subcommand, 0, `Helm printed ${text.length} characters that are not JSON`);
  }
}

/** `helm show chart`: the Chart.yaml of one chart version. */
export function parseChartMetadata(text: string): ChartVersion {
  let chart: Record<string, unknown>;
  try {
    chart = asRecord(parseYaml(text));
  } catch {
    throw new HelmError(
      'show chart',
      0,
      `Helm printed ${text.length} characters that are not YAML`,
    );
  }
  return { version: str(chart.version), appVersion: str(chart.appVersion) };
}

export function asRecord(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

export function asValues(value: unknown): Values {
  return asRecord(value);
}

export function str(value: unknown): string {
  return typeof value === 'string'
    ? value
    : value === undefined || value === null
      ? ''
      : String(value);
}

export function optionalStr(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
