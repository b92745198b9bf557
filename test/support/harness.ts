// Runs the bundled action the way a GitHub runner does, against the project's test cluster, a
// local chart repository and a local Helm mirror. Shared by the end-to-end tests, the sandbox,
// the demo and the benchmark.
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  type ControlPlane,
  type ControlPlaneOptions,
  startControlPlane,
} from '../control-plane/cluster.ts';
import { actionDefaults } from './action-defaults.ts';
import { type ChartRepository, startChartRepository } from './chart-repo.ts';
import type { Credentials } from './file-server.ts';
import { type HelmVersion, helmBinary } from './helm-binaries.ts';
import { type HelmMirror, startHelmMirror } from './helm-mirror.ts';
import { type MilvusLite, startMilvusLite } from './milvus-lite.ts';
import { type MilvusInstallOptions, milvusInstallArgs } from './milvus-release.ts';
import { ROOT } from './paths.ts';

const run = promisify(execFile);

/** Node 24, as the runner's `node24` runtime. */
export const NODE = join(ROOT, 'node_modules', '.bin', 'node');
export const DIST = join(ROOT, 'dist', 'index.js');
/** Milvus' gRPC port on its proxy pods. */
export const MILVUS_PORT = 19530;
/** Name the fixture repository is added under for installs made outside the action. */
export const FIXTURE_REPO = 'fixtures';

/** What the harness and the checks need of a cluster; both test clusters offer it. */
export interface Cluster {
  url: string;
  token: string;
  kubeconfigYaml: string;
  env(label?: string): Record<string, string>;
  requests: {
    filter(filter: { since?: number }): {
      method: string;
      path: string;
      query: Record<string, string>;
      userAgent: string;
      verb: string;
    }[];
  };
  stop(): Promise<void>;
}

export interface World<C extends Cluster = ControlPlane> {
  cluster: C;
  repo: ChartRepository;
  mirror: HelmMirror;
  helmVersion: HelmVersion;
  /** Helm binary for set-up commands (installs, fault set-up), not the one the action installs. */
  helm: string;
  /** Environment for set-up Helm commands: the cluster's kubeconfig and private Helm homes. */
  helmEnv: Record<string, string>;
  /** The Milvus that every pod's port 19530 leads to, when the world has one. */
  milvus: MilvusLite | undefined;
  /** Tool cache shared by the action runs of this world, so a second run is a cache hit. */
  toolCache: string;
  dir: string;
  stop(): Promise<void>;
}

export interface WorldOptions extends ControlPlaneOptions {
  helmVersion?: HelmVersion;
  /** The chart repository and the Helm mirror ask for these Basic credentials. */
  credentials?: Credentials;
  /**
   * Milvus Lite behind every pod's port 19530 (a port-forward to a proxy pod reaches it), and the
   * action's verify-milvus on; without it, verify-milvus is off.
   */
  milvus?: boolean;
}

/** A world on a real Kubernetes control plane (test/control-plane). */
export async function startWorld(options: WorldOptions = {}): Promise<World> {
  const helmVersion = options.helmVersion ?? 'v3.18.0';
  const parts = await Promise.allSettled([
    startControlPlane(options),
    startChartRepository({ credentials: options.credentials }),
    startHelmMirror({ credentials: options.credentials }),
    options.milvus ? startMilvusLite() : undefined,
  ]);
  const failed = parts.find((part) => part.status === 'rejected');
  if (failed) {
    // Stop what did start, so a failed start leaves no server keeping the process alive.
    await Promise.all(
      parts.map((part) => (part.status === 'fulfilled' ? part.value?.stop() : undefined)),
    );
    throw failed.reason;
  }
  const [cluster, repo, mirror, milvus] = parts.map(
    (part) => (part as PromiseFulfilledResult<unknown>).value,
  ) as [ControlPlane, ChartRepository, HelmMirror, MilvusLite | undefined];
  if (milvus) {
    const [address = '', port = ''] = milvus.address.split(':');
    await cluster.forwardPort({ port: MILVUS_PORT, target: { address, port: Number(port) } });
  }
  const dir = mkdtempSync(join(tmpdir(), 'milvus-upgrade-world-'));
  const toolCache = join(dir, 'toolcache');
  const helm = helmBinary(helmVersion);
  const helmEnv = { ...process.env, ...cluster.env('setup') } as Record<string, string>;
  const auth = options.credentials
    ? ['--username', options.credentials.username, '--password', options.credentials.password]
    : [];
  await run(helm, ['repo', 'add', FIXTURE_REPO, repo.url, ...auth], { env: helmEnv });
  return {
    cluster,
    repo,
    mirror,
    milvus,
    helmVersion,
    helm,
    helmEnv,
    toolCache,
    dir,
    async stop() {
      await Promise.all([cluster.stop(), repo.stop(), mirror.stop(), milvus?.stop()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs a set-up Helm command against the world's cluster; rejects with Helm's stderr. */
export async function helm(world: World<Cluster>, args: string[]): Promise<string> {
  try {
    return (await run(world.helm, args, { env: world.helmEnv })).stdout;
  } catch (error) {
    const { stderr } = error as { stderr?: string };
    throw new Error(`helm ${args.slice(0, 2).join(' ')} failed: ${stderr ?? error}`);
  }
}

/** Installs a fixture Milvus release with real Helm and waits until it is ready. */
export async function installMilvus(
  world: World<Cluster>,
  options: Omit<MilvusInstallOptions, 'chartRef' | 'namespace' | 'release'> &
    Partial<Pick<MilvusInstallOptions, 'namespace' | 'release'>>,
): Promise<void> {
  const args = milvusInstallArgs({
    release: 'my-milvus',
    namespace: 'default',
    chartRef: `${FIXTURE_REPO}/milvus`,
    ...options,
  });
  await helm(world, [...args, '--wait', '--timeout', '2m']);
}

export interface ActionRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  /** The job summary markdown the action wrote. */
  summary: string;
  durationMs: number;
  /** The signals a cancelled run was sent before it exited. */
  signalsSent: NodeJS.Signals[];
}

/** Parses a `GITHUB_OUTPUT` file (`name<<delimiter` blocks, or `name=value` lines). */
export function parseOutputs(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const [, name, delimiter] = heredoc;
      const end = lines.indexOf(delimiter as string, i + 1);
      outputs[name as string] = lines.slice(i + 1, end).join('\n');
      i = end;
    } else if (line.includes('=')) {
      outputs[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1);
    }
  }
  return outputs;
}

/** The `with:` inputs that point the action at this world, before a test's own. */
export function worldInputs(world: World<Cluster>): Record<string, string> {
  return {
    ...actionDefaults(),
    'release-name': 'my-milvus',
    kubeconfig: world.cluster.kubeconfigYaml,
    'chart-repository': world.repo.url,
    'helm-version': world.helmVersion,
    'helm-download-base-url': world.mirror.baseUrl,
    'helm-sha256': world.mirror.sha256[world.helmVersion],
    timeout: '1m',
    'verify-milvus': String(world.milvus !== undefined),
  };
}

export interface RunOptions {
  /** Extra environment (for example KUBECONFIG when the kubeconfig input is empty). */
  env?: Record<string, string>;
  /** Called with each chunk of the action's stdout as it arrives. */
  onStdout?: (chunk: string) => void;
  /**
   * Cancels the job as a runner does, `afterMs` after stdout matches `output`: SIGINT to the
   * action's process, SIGTERM 7.5 s later, SIGKILL 2.5 s after that; or with `signals`, those.
   */
  cancelWhen?: { output: RegExp; afterMs: number; signals?: [NodeJS.Signals, number][] };
}

/** A runner's cancellation: each signal and how long after the previous one it is sent. */
const CANCEL_SEQUENCE: [NodeJS.Signals, number][] = [
  ['SIGINT', 0],
  ['SIGTERM', 7500],
  ['SIGKILL', 2500],
];

/**
 * Runs `dist/index.js` on Node 24 as a runner does: inputs as `INPUT_*` variables, and
 * `GITHUB_OUTPUT`, `GITHUB_STEP_SUMMARY`, `RUNNER_TEMP` and `RUNNER_TOOL_CACHE` files and folders.
 */
export async function runAction(
  world: World<Cluster>,
  inputs: Record<string, string> = {},
  options: RunOptions = {},
): Promise<ActionRun> {
  const job = mkdtempSync(join(world.dir, 'job-'));
  const files = {
    output: join(job, 'output'),
    summary: join(job, 'summary'),
    path: join(job, 'path'),
  };
  for (const file of Object.values(files)) writeFileSync(file, '');
  const home = join(job, 'home');
  const temp = join(job, 'temp');
  mkdirSync(home);
  mkdirSync(temp);
  const all = { ...worldInputs(world), ...inputs };
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    GITHUB_ACTIONS: 'true',
    GITHUB_WORKSPACE: job,
    GITHUB_OUTPUT: files.output,
    GITHUB_STEP_SUMMARY: files.summary,
    GITHUB_PATH: files.path,
    RUNNER_TEMP: temp,
    RUNNER_TOOL_CACHE: world.toolCache,
    KUBECACHEDIR: join(job, 'kube-cache'),
    ...Object.fromEntries(
      Object.entries(all).map(([name, value]) => [`INPUT_${name.toUpperCase()}`, value]),
    ),
    ...options.env,
  };
  const started = Date.now();
  const child = spawn(NODE, [DIST], { env, cwd: job, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const signalsSent: NodeJS.Signals[] = [];
  const timers: NodeJS.Timeout[] = [];
  const cancel = () => {
    let at = options.cancelWhen?.afterMs ?? 0;
    for (const [signal, delay] of options.cancelWhen?.signals ?? CANCEL_SEQUENCE) {
      at += delay;
      timers.push(
        setTimeout(() => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          signalsSent.push(signal);
          child.kill(signal);
        }, at),
      );
    }
  };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    options.onStdout?.(chunk);
    if (options.cancelWhen && timers.length === 0 && options.cancelWhen.output.test(stdout)) {
      cancel();
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exitCode = await new Promise<number>((resolve) =>
    child.on('close', (code) => resolve(code ?? -1)),
  );
  for (const timer of timers) clearTimeout(timer);
  return {
    exitCode,
    stdout,
    stderr,
    outputs: parseOutputs(readFileSync(files.output, 'utf8')),
    summary: readFileSync(files.summary, 'utf8'),
    durationMs: Date.now() - started,
    signalsSent,
  };
}
