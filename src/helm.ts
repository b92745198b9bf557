// A thin wrapper around the Helm binary: argument arrays in, parsed JSON/YAML out. Output is
// captured, never echoed, so values and manifests stay out of the log; failures become
// HelmError with a short stderr.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as core from '@actions/core';
import semver from 'semver';
import { parseDuration } from './context.ts';
import { refusal } from './errors.ts';
import { MINIMUM_HELM_VERSION } from './milvus.ts';
import { Cancelled, type Completed, type RunOptions, runProgram } from './process.ts';
import type { ReleaseInfo, Values } from './state.ts';

/** Most of Helm's stderr an error keeps: enough for Helm's message, not a dump of a manifest. */
export const STDERR_LIMIT = 1500;

/** Helm's message when a release does not exist (`status`, `get values`; Helm 3 and 4). */
const NOT_FOUND = /\brelease: not found\b/;

/** A Helm command that exited non-zero (or could not start). */
export class HelmError extends Error {
  /** `status`, `upgrade`, `repo add`, … */
  readonly subcommand: string;
  /** Helm's exit code; -1 when it could not be started. */
  readonly exitCode: number;
  /** Helm's stderr, trimmed and cut to `STDERR_LIMIT` characters. */
  readonly stderr: string;
  /** What to do next. */
  readonly hint: string;

  constructor(subcommand: string, exitCode: number, stderr: string) {
    const trimmed = trimStderr(stderr);
    const hint = hintFor(subcommand, trimmed);
    super(
      `helm ${subcommand} failed (exit code ${exitCode})${trimmed ? `: ${trimmed}` : ''}\n${hint}`,
    );
    this.name = 'HelmError';
    this.subcommand = subcommand;
    this.exitCode = exitCode;
    this.stderr = trimmed;
    this.hint = hint;
  }
}

/** Keeps the end of stderr (where Helm prints `Error: …`), at most `STDERR_LIMIT` characters. */
export function trimStderr(stderr: string): string {
  const text = stderr.trim();
  if (text.length <= STDERR_LIMIT) return text;
  return `…${text.slice(text.length - STDERR_LIMIT + 1)}`;
}

function hintFor(subcommand: string, stderr: string): string {
  // The chart repository is not the cluster: its failures never point at the kubeconfig.
  if (subcommand.startsWith('repo') || subcommand.startsWith('search'))
    return 'Check the chart-repository and chart-name inputs (and any credentials in the URL), and that the repository is reachable from the runner.';
  if (
    /cluster unreachable|connection refused|no such host|i\/o timeout|TLS handshake/i.test(stderr)
  )
    return 'Check the kubeconfig and kube-context inputs: the runner must be able to reach the cluster API server.';
  if (/Unauthorized|must be logged in|provide credentials/i.test(stderr))
    return 'The cluster rejected the credentials: refresh the kubeconfig (tokens in it may have expired).';
  if (/forbidden/i.test(stderr))
    return 'The kubeconfig user lacks permission for this: grant it rights to manage the release namespace (Secrets, Deployments, StatefulSets, Services, ConfigMaps, Jobs, Pods).';
  if (
    /another operation \(install\/upgrade\/rollback\) is in progress|already exists/i.test(stderr)
  )
    return 'Another Helm operation holds the release: wait for it to finish (helm status shows it), then run the action again; do not roll back meanwhile.';
  if (/has no deployed releases/.test(stderr))
    return 'Helm has no deployed revision of this release: check release-name and namespace (helm list --all --namespace <ns>), and roll back a failed release to its last good revision first.';
  if (/timed out|context deadline exceeded/i.test(stderr))
    return 'The cluster did not become ready within the timeout: check the pods (kubectl get pods), then raise the timeout input or fix the cause and run the action again.';
  return `Run the same helm ${subcommand} command with --debug against the cluster to see more.`;
}

export interface HelmOptions {
  /** Absolute path of the Helm binary. */
  binary: string;
  /** Path of the kubeconfig file, passed as KUBECONFIG. Unset: the inherited KUBECONFIG/~/.kube/config. */
  kubeconfig?: string;
  /** Kubeconfig context, passed as HELM_KUBECONTEXT. Unset: the current context. */
  kubeContext?: string;
  /** Variables laid over `process.env` (undefined removes one). */
  env?: Record<string, string | undefined>;
  /** A private directory for the repository list and cache; default a fresh temp dir. */
  repositoryDir?: string;
}

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

export interface UpgradeSpec {
  release: string;
  namespace: string;
  /** `zilliztech/milvus`. */
  chartRef: string;
  chartVersion: string;
  /** `-f` files, in order. */
  valuesFiles?: readonly string[];
  /** Every `--set`, in order: the image tag, the hop's own, then the message-queue pins. */
  sets: readonly (readonly [string, string])[];
  helmMajor: 3 | 4;
  /** A Go duration: `20m`, `1h30m`. */
  timeout: string;
  /** Render against the server (`--dry-run=server`) and change nothing. */
  dryRun?: boolean;
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
}

/** One revision of `helm history`. */
export interface Revision {
  revision: number;
  status: string;
  chart: string;
  description: string;
}

const SET_KEY = /^(?:[A-Za-z0-9_-]|\\\.)+(?:\[\d+\])?(?:\.(?:[A-Za-z0-9_-]|\\\.)+(?:\[\d+\])?)*$/;

/** The flags the action must never pass to `helm upgrade`. */
const FORBIDDEN_UPGRADE_FLAGS = ['--force', '--atomic', '--rollback-on-failure', '--install', '-i'];

/** Refuses arguments that are not a `helm upgrade` from `upgradeArgs`, or carry a forbidden flag. */
function checkUpgradeArgs(args: readonly string[]): void {
  if (args[0] !== 'upgrade') throw new Error('Helm.upgrade needs arguments from upgradeArgs()');
  const forbidden = args.filter((arg) =>
    FORBIDDEN_UPGRADE_FLAGS.some((flag) => arg === flag || arg.startsWith(`${flag}=`)),
  );
  if (forbidden.length > 0) {
    throw new Error(`Helm refuses ${forbidden.join(', ')}: the action never uses them`);
  }
}

/** Escapes a `--set` value so commas and backslashes stay literal. */
export function escapeSetValue(value: string): string {
  return value.replace(/[\\,]/g, (c) => `\\${c}`);
}

/**
 * The exact `helm upgrade` arguments for one hop. Never `--force`, `--atomic`,
 * `--rollback-on-failure` or `--install`. A dry run renders on the server, waits for nothing and
 * prints JSON (parsed into a summary by `Helm.upgrade`).
 */
export function upgradeArgs(spec: UpgradeSpec): string[] {
  if (parseDuration(spec.timeout) === undefined) {
    throw refusal(
      `timeout "${spec.timeout}" is not a Go duration.`,
      'Set timeout to a duration such as 20m or 1h30m.',
    );
  }
  const args = [
    'upgrade',
    spec.release,
    spec.chartRef,
    '--namespace',
    spec.namespace,
    '--version',
    spec.chartVersion,
    '--reset-then-reuse-values',
  ];
  for (const file of spec.valuesFiles ?? []) args.push('-f', file);
  for (const [key, value] of spec.sets) {
    if (!SET_KEY.test(key)) {
      throw refusal(
        `"${key}" is not a values key the action can --set.`,
        'Use dotted keys of letters, digits, "_" and "-" (for example image.all.tag).',
      );
    }
    args.push('--set', `${key}=${escapeSetValue(value)}`);
  }
  if (spec.dryRun) {
    args.push('--dry-run=server', '--output', 'json');
  } else {
    args.push(spec.helmMajor === 4 ? '--wait=watcher' : '--wait');
  }
  args.push('--timeout', spec.timeout);
  return args;
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

/** A Go (RE2) regular expression matching exactly `name`, for `helm list --filter`. */
export function exactFilter(name: string): string {
  return `^${name.replace(/[\\.+*?()|[\]{}^$]/g, (c) => `\\${c}`)}$`;
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

/**
 * Checks what `helm version --template {{.Version}}` printed: a Helm 3 (>= `MINIMUM_HELM_VERSION`)
 * or Helm 4 version, or a refusal.
 */
export function checkHelmVersion(
  reported: string,
  binary = 'helm',
): { version: string; major: 3 | 4 } {
  const version = reported.trim();
  const parsed = /^v?\d+\.\d+\.\d+/.test(version) ? semver.parse(version.replace(/^v/, '')) : null;
  if (!parsed) {
    throw refusal(
      `${binary} reports version "${version}", which is not a Helm version.`,
      'Point the action at a Helm 3 or 4 binary (leave helm-version at its default to install one).',
    );
  }
  if (semver.lt(parsed, MINIMUM_HELM_VERSION)) {
    throw refusal(
      `Helm ${version} is older than ${MINIMUM_HELM_VERSION}, the first with --reset-then-reuse-values that the upgrade needs.`,
      `Set helm-version to v${MINIMUM_HELM_VERSION} or newer (the default is a tested version).`,
    );
  }
  if (parsed.major !== 3 && parsed.major !== 4) {
    throw refusal(
      `Helm ${version} is not supported: the action knows the flags of Helm 3 and Helm 4 only.`,
      'Set helm-version to a Helm 3 (>= 3.14.0) or Helm 4 release.',
    );
  }
  return { version: version.startsWith('v') ? version : `v${version}`, major: parsed.major };
}

function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export class Helm {
  readonly binary: string;
  /** `v3.19.0`. */
  readonly version: string;
  readonly major: 3 | 4;
  /** The environment every command runs with. */
  readonly env: Record<string, string>;
  /** The private repository directory, when `create` made it (removed by `dispose`). */
  private readonly ownedDir: string | undefined;

  constructor(
    binary: string,
    version: string,
    major: 3 | 4,
    env: Record<string, string>,
    ownedDir?: string,
  ) {
    this.binary = binary;
    this.version = version;
    this.major = major;
    this.env = env;
    this.ownedDir = ownedDir;
  }

  /**
   * Reads the binary's version and refuses Helm older than `MINIMUM_HELM_VERSION` (or newer
   * than 4.x). Repository config and cache go to a private directory, so the user's own Helm
   * repository list is never edited.
   */
  static async create(options: HelmOptions): Promise<Helm> {
    const ownedDir = options.repositoryDir
      ? undefined
      : await mkdtemp(join(process.env.RUNNER_TEMP || tmpdir(), 'milvus-upgrade-helm-'));
    const repositoryDir = options.repositoryDir ?? ownedDir ?? '';
    const env: Record<string, string> = {};
    const layers: Record<string, string | undefined>[] = [
      process.env,
      options.env ?? {},
      {
        HELM_REPOSITORY_CONFIG: join(repositoryDir, 'repositories.yaml'),
        HELM_REPOSITORY_CACHE: join(repositoryDir, 'cache'),
      },
    ];
    if (options.kubeconfig) layers.push({ KUBECONFIG: options.kubeconfig });
    if (options.kubeContext) layers.push({ HELM_KUBECONTEXT: options.kubeContext });
    for (const layer of layers) {
      for (const [key, value] of Object.entries(layer)) {
        if (value === undefined) delete env[key];
        else env[key] = value;
      }
    }

    try {
      const result = await run(
        options.binary,
        'version',
        ['version', '--template', '{{.Version}}'],
        env,
      );
      if (result.exitCode !== 0) throw new HelmError('version', result.exitCode, result.stderr);
      const { version, major } = checkHelmVersion(result.stdout.trim(), options.binary);
      return new Helm(options.binary, version, major, env, ownedDir);
    } catch (error) {
      if (ownedDir) await rm(ownedDir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Removes the private repository directory `create` made (not one passed in). */
  async dispose(): Promise<void> {
    if (this.ownedDir) await rm(this.ownedDir, { recursive: true, force: true });
  }

  /** The latest revision's status, or undefined when the release does not exist. */
  async status(release: string, namespace: string): Promise<ReleaseStatus | undefined> {
    const result = await this.exec('status', [
      'status',
      release,
      '--namespace',
      namespace,
      '--output',
      'json',
    ]);
    if (result === undefined) return undefined;
    return parseStatus(result);
  }

  /**
   * Releases of the namespace in every state (Helm 3 lists only deployed and failed ones by
   * default; pending-* matter here). `filter` is a Go regular expression on the name; see
   * `exactFilter`.
   */
  async list(namespace: string, options: { filter?: string } = {}): Promise<ReleaseListEntry[]> {
    const args = ['list', '--namespace', namespace, '--output', 'json', '--max', '0'];
    args.push('--deployed', '--failed', '--pending', '--superseded');
    args.push('--uninstalling', '--uninstalled');
    if (options.filter !== undefined) args.push('--filter', options.filter);
    return parseList(await this.execOrThrow('list', args));
  }

  /**
   * `helm get values`: the user-supplied values, or with `all` the computed ones, of the latest
   * revision or of `revision`. A release that does not exist is a HelmError here.
   */
  async getValues(
    release: string,
    namespace: string,
    options: { all?: boolean; revision?: number } = {},
  ): Promise<Values> {
    const args = ['get', 'values', release, '--namespace', namespace, '--output', 'json'];
    if (options.all) args.push('--all');
    if (options.revision !== undefined) args.push('--revision', String(options.revision));
    return asValues(parseJson(await this.execOrThrow('get values', args), 'get values'));
  }

  /**
   * The manifest the latest revision (or `revision`) applied, hooks aside. It holds secrets, so
   * it is never printed.
   */
  async getManifest(release: string, namespace: string, revision?: number): Promise<string> {
    const args = ['get', 'manifest', release, '--namespace', namespace];
    if (revision !== undefined) args.push('--revision', String(revision));
    return this.execOrThrow('get manifest', args);
  }

  /** Every revision Helm keeps of the release, oldest first. */
  async history(release: string, namespace: string): Promise<Revision[]> {
    const args = ['history', release, '--namespace', namespace, '--output', 'json'];
    return parseHistory(await this.execOrThrow('history', args));
  }

  /**
   * Adds (or re-points) a repository in the action's private repository list; a password goes
   * on stdin, never on the command line.
   */
  async repoAdd(
    name: string,
    url: string,
    auth?: { username: string; password: string },
  ): Promise<void> {
    const args = ['repo', 'add', name, url, '--force-update'];
    if (auth) args.push('--username', auth.username, '--password-stdin');
    await this.execOrThrow('repo add', args, auth?.password);
  }

  /**
   * Every version of exactly `chartRef` (`repo/chart`) in the added repositories, newest first.
   * `helm search` matches substrings (`milvus` also finds `milvus-operator`): those are dropped.
   */
  async searchVersions(chartRef: string): Promise<ChartVersion[]> {
    const args = ['search', 'repo', chartRef, '--versions', '--output', 'json'];
    const entries = parseJson(await this.execOrThrow('search repo', args), 'search repo');
    if (!Array.isArray(entries)) return [];
    return entries
      .map(asRecord)
      .filter((entry) => entry.name === chartRef)
      .map((entry) => ({ version: str(entry.version), appVersion: str(entry.app_version) }));
  }

  /**
   * Runs a `helm upgrade` from `upgradeArgs` (never `--force`, `--atomic`, `--install`), with
   * Helm's output in the log. Never started once the run is being cancelled.
   */
  async upgrade(args: readonly string[]): Promise<void> {
    checkUpgradeArgs(args);
    if (args.some((arg) => arg.startsWith('--dry-run'))) throw new Error('use Helm.dryRun');
    const result = await run(this.binary, 'upgrade', args, this.env, {
      changes: true,
      onLine: (line) => core.info(line),
    });
    if (result.exitCode !== 0) throw new HelmError('upgrade', result.exitCode, result.stderr);
  }

  /**
   * Runs a `helm upgrade … --dry-run=server --output json` from `upgradeArgs`: Helm renders the
   * hop against the cluster, with its own value rules, and changes nothing. Output stays out of
   * the log (it holds the values and the manifest).
   */
  async dryRun(args: readonly string[]): Promise<DryRunRelease> {
    checkUpgradeArgs(args);
    if (!args.includes('--dry-run=server')) throw new Error('Helm.dryRun needs --dry-run=server');
    const result = await run(this.binary, 'upgrade', args, this.env);
    if (result.exitCode !== 0) throw new HelmError('upgrade', result.exitCode, result.stderr);
    return parseDryRun(result.stdout);
  }

  /** The command a user would run to return to `revision` (shown, never run by the action). */
  rollbackCommand(release: string, namespace: string, revision: number): string {
    return ['helm', 'rollback', release, String(revision), '--namespace', namespace]
      .map(shellQuote)
      .join(' ');
  }

  /** Runs a read command; undefined when Helm says the release does not exist. */
  private async exec(subcommand: string, args: string[]): Promise<string | undefined> {
    const result = await run(this.binary, subcommand, args, this.env);
    if (result.exitCode === 0) return result.stdout;
    if (NOT_FOUND.test(result.stderr)) return undefined;
    throw new HelmError(subcommand, result.exitCode, result.stderr);
  }

  private async execOrThrow(subcommand: string, args: string[], input?: string): Promise<string> {
    const result = await run(this.binary, subcommand, args, this.env, { input });
    if (result.exitCode !== 0) throw new HelmError(subcommand, result.exitCode, result.stderr);
    return result.stdout;
  }
}

async function run(
  binary: string,
  subcommand: string,
  args: readonly string[],
  env: Record<string, string>,
  options: Omit<RunOptions, 'env'> = {},
): Promise<Completed> {
  try {
    return await runProgram(binary, args, { env, ...options });
  } catch (error) {
    if (error instanceof Cancelled) throw error;
    throw new HelmError(
      subcommand,
      -1,
      `could not run ${binary}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

function parseJson(text: string, subcommand: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // Never quote the output: it may hold values.
    throw new HelmError(subcommand, 0, `Helm printed ${text.length} characters that are not JSON`);
  }
}

function asRecord(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function asValues(value: unknown): Values {
  return asRecord(value);
}

function str(value: unknown): string {
  return typeof value === 'string'
    ? value
    : value === undefined || value === null
      ? ''
      : String(value);
}

function optionalStr(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
