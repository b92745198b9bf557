// The action's inputs, read once and validated before anything touches the network.
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import * as core from '@actions/core';
import semver from 'semver';
import { parse, YAMLError } from 'yaml';
import type { Targets } from './assess.ts';
import { MINIMUM_HELM_VERSION, MINIMUM_INTERMEDIATE_VERSION } from './milvus.ts';
import type { Values } from './observed.ts';
import { compareVersions, isPrerelease, normalizeVersion, series } from './versions.ts';

/** A user name and password taken out of a URL input; the password is registered as a secret. */
export interface Credentials {
  username: string;
  password: string;
}

export interface Inputs extends Targets {
  releaseName: string;
  namespace: string;
  /** Kubeconfig contents (secret); undefined: use KUBECONFIG or ~/.kube/config. */
  kubeconfig: string | undefined;
  kubeContext: string | undefined;
  /** An http(s) repository or an `oci://` registry path, without user info, so it can be printed. */
  chartRepository: string;
  /** chart-repository is an OCI registry path (`oci://host/path`), not a repository index. */
  ociRegistry: boolean;
  /** From chart-username/chart-password or the URL's user info. */
  chartRepositoryAuth: Credentials | undefined;
  /** Absolute path of a PEM bundle of the CAs the repository's certificate is checked against. */
  chartCaFile: string | undefined;
  helmVersion: string;
  /** Without user info, so it can be printed; the credentials are apart. */
  helmDownloadBaseUrl: string;
  helmDownloadAuth: Credentials | undefined;
  helmSha256: string | undefined;
  /** As given (a Go duration, passed to Helm), and in milliseconds. */
  timeout: string;
  timeoutMs: number;
  dryRun: boolean;
  /** Take the new charts' dependency images instead of keeping the ones that run. */
  upgradeDependencies: boolean;
  /** `milvus`: components roll one at a time in Milvus' order; `helm`: all at once. */
  rolloutOrder: 'milvus' | 'helm';
  valuesFiles: { path: string; values: Values }[];
  /** Ask Milvus itself (health, inventory) through a port-forward. */
  verifyMilvus: boolean;
  /** `user:password` or an API key (secret); undefined when Milvus authentication is off. */
  milvusToken: string | undefined;
}

/** One or more inputs are invalid; the message lists every problem at once. */
export class InputError extends Error {
  constructor(problems: string[]) {
    super(
      `Invalid input${problems.length > 1 ? 's' : ''}:\n${problems.map((p) => `- ${p}`).join('\n')}\nNothing was changed; fix the workflow's with: block and re-run.`,
    );
    this.name = 'InputError';
  }
}

/** Helm needs seconds just to apply a hop: a shorter timeout can only fail it. */
export const MIN_TIMEOUT_MS = 5_000;
/** A day: far above any rollout, and far below the longest timer Node can set (24.8 days). */
export const MAX_TIMEOUT_MS = 24 * 3_600_000;
/** Values files are small; the YAML parser slows sharply on very large ones. */
export const MAX_VALUES_FILE_BYTES = 256 * 1024;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const HELM_RELEASE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const CHART_NAME = /^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$/;
const GO_DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;
const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** A Go duration (`20m`, `1h30m`, `90s`) in milliseconds; undefined when malformed or zero. */
export function parseDuration(raw: string): number | undefined {
  if (!GO_DURATION.test(raw)) return undefined;
  let ms = 0;
  for (const [, amount, , unit] of raw.matchAll(/(\d+(\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) {
    ms += Number(amount) * (UNIT_MS[unit as string] as number);
  }
  return ms > 0 ? ms : undefined;
}

/** A URL as it may be printed: any user info replaced by `***`. */
export function redactUrl(raw: string): string {
  return raw.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1***@');
}

/** A readable regular file of at most `maxBytes` (`what` names it in the error), as text. */
function readSmallFile(path: string, maxBytes: number, what: string): string {
  accessSync(path, constants.R_OK);
  const stats = statSync(path);
  if (!stats.isFile()) throw new Error('not a file');
  if (stats.size > maxBytes) {
    throw new Error(`${stats.size} bytes, more than the ${maxBytes} ${what} may have`);
  }
  return readFileSync(path, 'utf8');
}

/**
 * A values file as a mapping. Errors name the file's problem and line, never its text: values
 * files hold passwords.
 */
function readValuesFile(path: string): Values {
  const text = readSmallFile(path, MAX_VALUES_FILE_BYTES, 'a values file');
  let values: unknown;
  try {
    values = parse(text) ?? {};
  } catch (error) {
    const at = error instanceof YAMLError ? error.linePos?.[0] : undefined;
    throw new Error(`not valid YAML${at ? ` at line ${at.line}, column ${at.col}` : ''}`);
  }
  if (typeof values !== 'object' || Array.isArray(values)) throw new Error('not a YAML mapping');
  return values as Values;
}

/** CA bundles are small: a larger file is not one. */
const MAX_CA_FILE_BYTES = 1024 * 1024;

type Reader = (name: string) => string;

/**
 * Reads and validates every input. `read` returns an input's raw value (default: the runner's
 * `INPUT_*` environment); `workspace` is where relative values-file paths are resolved.
 */
export function getInputs(
  read: Reader = (name) => core.getInput(name),
  workspace: string = process.env.GITHUB_WORKSPACE || process.cwd(),
): Inputs {
  const problems: string[] = [];
  const bad = (name: string, value: string, allowed: string) =>
    problems.push(`${name}: '${value}' is not valid; ${allowed}.`);
  const get = (name: string) => read(name).trim();
  const inWorkspace = (path: string) => (isAbsolute(path) ? path : resolve(workspace, path));
  const caFile = (name: string): string | undefined => {
    const raw = get(name);
    if (!raw) return undefined;
    const path = inWorkspace(raw);
    try {
      const text = readSmallFile(path, MAX_CA_FILE_BYTES, 'a CA file');
      if (!text.includes('-----BEGIN CERTIFICATE-----')) {
        throw new Error('no certificate in it');
      }
    } catch (error) {
      bad(name, raw, `expected a PEM file of CA certificates (${(error as Error).message})`);
    }
    return path;
  };

  const releaseName = get('release-name');
  if (!releaseName)
    problems.push('release-name is required: the Helm release of the Milvus cluster.');
  else if (releaseName.length > 53 || !HELM_RELEASE.test(releaseName)) {
    bad(
      'release-name',
      releaseName,
      'a Helm release name is up to 53 lowercase letters, digits, - and .',
    );
  }

  const namespace = get('namespace') || 'default';
  if (namespace.length > 63 || !DNS_LABEL.test(namespace)) {
    bad('namespace', namespace, 'a namespace is up to 63 lowercase letters, digits and -');
  }

  const version = (name: string) => {
    const raw = get(name);
    const normalized = normalizeVersion(raw);
    if (!normalized) bad(name, raw, 'expected a version such as v2.6.4 (the v is optional)');
    return normalized ?? raw;
  };
  const targetVersion = version('target-version');
  const intermediateVersion = version('intermediate-version');
  if (normalizeVersion(targetVersion)) {
    if (series(targetVersion) !== '2.6' || isPrerelease(targetVersion)) {
      bad(
        'target-version',
        targetVersion,
        'the target must be a 2.6.x release (not a pre-release)',
      );
    }
  }
  if (normalizeVersion(intermediateVersion)) {
    if (
      series(intermediateVersion) !== '2.5' ||
      isPrerelease(intermediateVersion) ||
      compareVersions(intermediateVersion, MINIMUM_INTERMEDIATE_VERSION) < 0
    ) {
      bad(
        'intermediate-version',
        intermediateVersion,
        `the first hop must land on a 2.5.x release of at least v${MINIMUM_INTERMEDIATE_VERSION}`,
      );
    }
  }

  const chartVersion = (name: string) => {
    const raw = get(name);
    if (!semver.valid(raw)) bad(name, raw, 'expected an exact chart version such as 5.0.0');
    return raw;
  };
  const targetChartVersion = chartVersion('target-chart-version');
  const intermediateChartVersion = chartVersion('intermediate-chart-version');

  const url = (name: string, protocols: string[]): [string, Credentials | undefined] => {
    const raw = get(name).replace(/\/+$/, '');
    let parsed: URL | undefined;
    try {
      parsed = new URL(raw);
    } catch {}
    if (!parsed?.host || !protocols.includes(parsed.protocol) || parsed.search || parsed.hash) {
      bad(
        name,
        redactUrl(raw),
        `expected a ${protocols.map((p) => `${p}//`).join(', ')} URL with a host and no query`,
      );
      return [raw, undefined];
    }
    let auth: Credentials | undefined;
    if (parsed.username || parsed.password) {
      auth = {
        username: decodeURIComponent(parsed.username),
        password: decodeURIComponent(parsed.password),
      };
      for (const secret of [auth.password, parsed.password]) if (secret) core.setSecret(secret);
      parsed.username = '';
      parsed.password = '';
    }
    // The URL's own spelling: Helm knows a registry by a lower-case `oci://`.
    return [parsed.href.replace(/\/+$/, ''), auth];
  };
  const [chartRepository, urlAuth] = url('chart-repository', ['https:', 'http:', 'oci:']);
  const [helmDownloadBaseUrl, helmDownloadAuth] = url('helm-download-base-url', [
    'https:',
    'http:',
  ]);
  const chartUsername = get('chart-username');
  const chartPassword = get('chart-password');
  if (chartPassword) core.setSecret(chartPassword);
  let chartRepositoryAuth = urlAuth;
  if (chartUsername || chartPassword) {
    if (urlAuth) {
      problems.push(
        'chart-username and chart-password: chart-repository has credentials in its URL too; give them once.',
      );
    } else if (!chartUsername || !chartPassword) {
      problems.push('chart-username and chart-password: set both, or neither.');
    } else {
      chartRepositoryAuth = { username: chartUsername, password: chartPassword };
    }
  }
  const chartCaFile = caFile('chart-ca-file');

  const chartName = get('chart-name');
  if (!CHART_NAME.test(chartName))
    bad('chart-name', chartName, 'expected a chart name such as milvus');

  const helmRaw = get('helm-version');
  const helmVersion = normalizeVersion(helmRaw);
  if (
    !helmVersion ||
    isPrerelease(helmVersion) ||
    compareVersions(helmVersion, MINIMUM_HELM_VERSION) < 0
  ) {
    bad(
      'helm-version',
      helmRaw,
      `expected a Helm release of at least v${MINIMUM_HELM_VERSION}, such as v3.19.0`,
    );
  } else if (semver.major(helmVersion) > 4) {
    bad('helm-version', helmRaw, 'the action knows the flags of Helm 3 and Helm 4 only');
  }

  const sha = get('helm-sha256').toLowerCase();
  if (sha && !/^[0-9a-f]{64}$/.test(sha)) bad('helm-sha256', sha, 'expected 64 hexadecimal digits');

  const timeout = get('timeout');
  const timeoutMs = parseDuration(timeout);
  if (timeoutMs === undefined) {
    bad('timeout', timeout, 'expected a Go duration such as 20m or 1h30m');
  } else if (timeoutMs < MIN_TIMEOUT_MS || timeoutMs > MAX_TIMEOUT_MS) {
    bad('timeout', timeout, 'expected a duration from 5s to 24h per hop, such as 20m');
  }

  const boolean = (name: string, fallback = 'false') => {
    const raw = get(name) || fallback;
    const on = /^(true|True|TRUE)$/.test(raw);
    if (!on && !/^(false|False|FALSE)$/.test(raw)) bad(name, raw, 'expected true or false');
    return on;
  };
  const dryRun = boolean('dry-run');
  const upgradeDependencies = boolean('upgrade-dependencies');
  const verifyMilvus = boolean('verify-milvus', 'true');
  const milvusToken = get('milvus-token');
  // The whole token, and the password alone, which an error could quote.
  for (const secret of [milvusToken, milvusToken.slice(milvusToken.indexOf(':') + 1)]) {
    if (secret) core.setSecret(secret);
  }
  const rolloutOrder = get('rollout-order') || 'milvus';
  if (rolloutOrder !== 'milvus' && rolloutOrder !== 'helm') {
    bad('rollout-order', rolloutOrder, 'expected milvus or helm');
  }

  const valuesFiles = read('values-files')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean)
    .flatMap((file) => {
      const path = inWorkspace(file);
      try {
        return [{ path, values: readValuesFile(path) }];
      } catch (error) {
        bad(
          'values-files',
          file,
          `each line must name a readable YAML values file (${(error as Error).message})`,
        );
        return [];
      }
    });

  const kubeconfig = read('kubeconfig');
  if (problems.length > 0) throw new InputError(problems);
  return {
    releaseName,
    namespace,
    kubeconfig: kubeconfig.trim() ? kubeconfig : undefined,
    kubeContext: get('kube-context') || undefined,
    targetVersion,
    targetChartVersion,
    intermediateVersion,
    intermediateChartVersion,
    chartRepository,
    ociRegistry: chartRepository.startsWith('oci://'),
    chartRepositoryAuth,
    chartCaFile,
    chartName,
    helmVersion: helmVersion as string,
    helmDownloadBaseUrl,
    helmDownloadAuth,
    helmSha256: sha || undefined,
    timeout,
    timeoutMs: timeoutMs as number,
    dryRun,
    upgradeDependencies,
    rolloutOrder: rolloutOrder as Inputs['rolloutOrder'],
    valuesFiles,
    verifyMilvus,
    milvusToken: milvusToken || undefined,
  };
}
