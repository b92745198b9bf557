// A thin wrapper around the Helm binary: argument arrays in (helm-args.ts), parsed output out
// (helm-output.ts). Output is captured, never echoed, so values and manifests stay out of the
// log; failures become HelmError (helm-errors.ts) with a short stderr.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as core from '@actions/core';
import semver from 'semver';
import { checkUpgradeArgs } from './helm-args.ts';
import { HelmError } from './helm-errors.ts';
import {
  asRecord,
  asValues,
  type ChartVersion,
  type DryRunRelease,
  parseChartMetadata,
  parseDryRun,
  parseHistory,
  parseJson,
  parseList,
  parseStatus,
  type ReleaseListEntry,
  type ReleaseStatus,
  type Revision,
  str,
} from './helm-output.ts';
import type { Credentials } from './inputs.ts';
import type { Values } from './observed.ts';
import { Cancelled, type Completed, type RunOptions, runProgram } from './process.ts';

/** Helm's message when a release does not exist (`status`, `get values`; Helm 3 and 4). */
const NOT_FOUND = /\brelease: not found\b/;

/** Helm's message when an OCI registry has no such chart version (`oci://…:5.0.0: not found`). */
const TAG_NOT_FOUND = /:\S+: not found\s*$/m;

/** `--ca-file`: a PEM bundle of the CAs a repository's or registry's certificate is checked against. */
function caArgs(caFile: string | undefined): string[] {
  return caFile ? ['--ca-file', caFile] : [];
}

export interface HelmOptions {
  /** Absolute path of the Helm binary. */
  binary: string;
  /** Its release, `v3.19.0`: validated with the inputs, and confirmed by the installer. */
  version: string;
  /** Path of the kubeconfig file, passed as KUBECONFIG. Unset: the inherited KUBECONFIG/~/.kube/config. */
  kubeconfig?: string;
  /** Kubeconfig context, passed as HELM_KUBECONTEXT. Unset: the current context. */
  kubeContext?: string;
  /** Variables laid over `process.env` (undefined removes one). */
  env?: Record<string, string | undefined>;
  /** A private directory for the repository list and cache; default a fresh temp dir. */
  repositoryDir?: string;
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
   * Repository config, cache and registry logins go to a private directory, so the user's own
   * Helm configuration is never edited and no credentials outlive the run.
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
        // `registry login` stores its credentials here, removed with the directory.
        HELM_REGISTRY_CONFIG: join(repositoryDir, 'registry.json'),
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
    const major = semver.major(options.version) === 4 ? 4 : 3;
    return new Helm(options.binary, options.version, major, env, ownedDir);
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
  async repoAdd(name: string, url: string, auth?: Credentials, caFile?: string): Promise<void> {
    const args = ['repo', 'add', name, url, '--force-update', ...caArgs(caFile)];
    if (auth) args.push('--username', auth.username, '--password-stdin');
    await this.execOrThrow('repo add', args, auth?.password);
  }

  /**
   * Logs in to an OCI registry (`host[:port]`) for the later pulls, in the action's private
   * registry config; the password goes on stdin.
   */
  async registryLogin(host: string, auth: Credentials, caFile?: string): Promise<void> {
    const args = ['registry', 'login', host, ...caArgs(caFile)];
    args.push('--username', auth.username, '--password-stdin');
    await this.execOrThrow('registry login', args, auth.password);
  }

  /**
   * The chart `version` of an OCI chart reference (`oci://host/path/chart`), or undefined when
   * the registry has no such tag.
   */
  async showChart(
    chartRef: string,
    version: string,
    caFile?: string,
  ): Promise<ChartVersion | undefined> {
    const args = ['show', 'chart', chartRef, '--version', version, ...caArgs(caFile)];
    const result = await run(this.binary, 'show chart', args, this.env);
    if (result.exitCode !== 0) {
      if (TAG_NOT_FOUND.test(result.stderr)) return undefined;
      throw new HelmError('show chart', result.exitCode, result.stderr);
    }
    return parseChartMetadata(result.stdout);
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
