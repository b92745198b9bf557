// The project's test cluster on its own, for trying the action by hand or from a script (CI runs
// the action itself against it). Starts a real Kubernetes control plane (test/control-plane), the
// local chart repository and Helm mirror, installs a Milvus release with real Helm, prints one
// JSON line on stdout when ready and serves until SIGINT or SIGTERM. Progress goes to stderr.
//
//   npm run sandbox -- --help
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ALL_COMPONENTS } from '../src/milvus.ts';
import { pinnedVersion } from '../test/control-plane/build.ts';
import type { UnreadyReason } from '../test/control-plane/cluster.ts';
import { parseLabelSelector } from '../test/control-plane/selectors.ts';
import { actionDefaults } from '../test/support/action-defaults.ts';
import { MILVUS_CHART_VERSIONS } from '../test/support/chart-repo.ts';
import { installMilvus, startWorld, type World } from '../test/support/harness.ts';
import { HELM_VERSIONS, type HelmVersion } from '../test/support/helm-binaries.ts';
import { type FixtureQueue, milvusInstallArgs } from '../test/support/milvus-release.ts';

const LAYOUTS = ['separate', 'mixcoord'] as const;
const QUEUES = ['pulsar', 'pulsarv3', 'kafka', 'woodpecker', 'external-pulsar', 'rocksmq'] as const;
const UNREADY_REASONS = ['CrashLoopBackOff', 'ImagePullBackOff', 'NotReady'] as const;
/** Namespaces the control plane always has. */
const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

/** The release the control plane runs, e.g. v1.35.8. */
const KUBERNETES = pinnedVersion('kubernetes');

export const USAGE = `Usage: npm run sandbox -- [options]

Starts a local Kubernetes ${KUBERNETES} control plane (etcd, kube-apiserver, controller-manager,
scheduler, with KWOK's fake nodes) with a Milvus release installed by real Helm, a chart repository
and a Helm mirror; prints one JSON line on stdout when ready (progress goes to stderr) and serves
until SIGINT (Ctrl-C) or SIGTERM. The first run builds the control plane from source into
~/.cache/milvus-upgrade-action (about 15 minutes on 2 cores).

Options:
  --milvus-version <tag>      Milvus image tag of the release (default v2.5.10)
  --chart-version <version>   fixture chart it is installed with: ${MILVUS_CHART_VERSIONS.join(', ')}
                              (default 4.2.20)
  --layout <layout>           ${LAYOUTS.join(' | ')}: separate coordinators or mixcoord
                              (default separate)
  --mq <queue>                ${QUEUES.slice(0, 5).join(' | ')}
                              (default pulsar; rocksmq with --standalone)
  --standalone                Milvus standalone instead of a cluster
  --release <name>            Helm release name (default my-milvus)
  --namespace <name>          namespace of the release, created if missing (default default)
  --k8s-version <version>     Kubernetes version /version and the Nodes report; the API stays
                              ${KUBERNETES}'s (default ${KUBERNETES})
  --rollout-ms <ms>           how long a new pod takes to become ready (default 100)
  --unready <component>       after the install, keep this Milvus component's pods unready (a
                              component such as querynode, or a label selector); repeatable
  --unready-reason <reason>   ${UNREADY_REASONS.join(' | ')} (default CrashLoopBackOff)
  --api-reset-rate <0..1>     after the install, reset (TCP RST) this share of the connections
                              clients open to the API server, Helm's and kubectl's included; the
                              real API server cannot answer chosen requests with 503 or 429
                              (default 0)
  --api-latency-ms <ms>       after the install, delay every answer to a client by this long
                              (default 0)
  --no-milvus                 no Milvus behind the pods' port 19530: the action then needs
                              verify-milvus: false, which the JSON line's inputs say (default:
                              Milvus Lite answers there, so verify-milvus can stay on; it is
                              installed from PyPI into ~/.cache/milvus-upgrade-action once)
  --helm-version <version>    Helm used for the install and advertised to the action: ${HELM_VERSIONS.join(', ')}
                              (default v3.18.0)
  -h, --help                  show this help
`;

export interface SandboxOptions {
  milvusVersion: string;
  chartVersion: string;
  layout: (typeof LAYOUTS)[number];
  mq: FixtureQueue;
  standalone: boolean;
  release: string;
  namespace: string;
  kubernetesVersion: string | undefined;
  rolloutMs: number | undefined;
  /** Label selectors of the pods kept unready. */
  unready: string[];
  unreadyReason: UnreadyReason;
  /** Share of client connections reset, from 0 to 1. */
  apiResetRate: number;
  apiLatencyMs: number;
  /** Milvus Lite behind every pod's port 19530, for the action's verify-milvus. */
  milvus: boolean;
  helmVersion: HelmVersion;
}

/** Invalid command-line options; the message lists every problem. */
export class UsageError extends Error {
  override name = 'UsageError';
}

const oneOf = <T extends string>(allowed: readonly T[], value: string): value is T =>
  (allowed as readonly string[]).includes(value);

/** The sandbox's options from its arguments, or 'help'; throws a UsageError naming each problem. */
export function parseSandboxArgs(args: string[]): SandboxOptions | 'help' {
  const read = () =>
    parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      allowNegative: true,
      options: {
        'milvus-version': { type: 'string', default: 'v2.5.10' },
        'chart-version': { type: 'string', default: '4.2.20' },
        layout: { type: 'string', default: 'separate' },
        mq: { type: 'string', default: 'pulsar' },
        standalone: { type: 'boolean', default: false },
        release: { type: 'string', default: 'my-milvus' },
        namespace: { type: 'string', default: 'default' },
        'k8s-version': { type: 'string' },
        'rollout-ms': { type: 'string' },
        unready: { type: 'string', multiple: true, default: [] },
        'unready-reason': { type: 'string', default: 'CrashLoopBackOff' },
        'api-reset-rate': { type: 'string', default: '0' },
        'api-latency-ms': { type: 'string', default: '0' },
        // Gone with the in-process test cluster; still parsed to say what replaces it.
        'api-error-rate': { type: 'string' },
        milvus: { type: 'boolean', default: true },
        'helm-version': { type: 'string', default: 'v3.18.0' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  let values: ReturnType<typeof read>['values'];
  try {
    ({ values } = read());
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return 'help';

  const problems: string[] = [];
  const bad = (option: string, value: string, expected: string) =>
    problems.push(`--${option} '${value}': expected ${expected}`);

  const milvusVersion = values['milvus-version'];
  if (!/^v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(milvusVersion)) {
    bad('milvus-version', milvusVersion, 'a Milvus image tag such as v2.5.10');
  }
  const chartVersion = values['chart-version'];
  if (!MILVUS_CHART_VERSIONS.includes(chartVersion)) {
    bad('chart-version', chartVersion, `a fixture chart: ${MILVUS_CHART_VERSIONS.join(', ')}`);
  }
  const { layout, mq, release, namespace } = values;
  if (!oneOf(LAYOUTS, layout)) bad('layout', layout, LAYOUTS.join(' or '));
  if (!oneOf(QUEUES, mq)) bad('mq', mq, QUEUES.join(', '));
  if (release.length > 53 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(release)) {
    bad('release', release, 'a Helm release name: up to 53 lowercase letters, digits and -');
  }
  if (namespace.length > 63 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace)) {
    bad('namespace', namespace, 'a namespace: up to 63 lowercase letters, digits and -');
  }
  const kubernetesVersion = values['k8s-version'];
  if (kubernetesVersion !== undefined && !/^v?\d+\.\d+\.\d+$/.test(kubernetesVersion)) {
    bad('k8s-version', kubernetesVersion, 'a Kubernetes version such as 1.31.2');
  }
  const milliseconds = (option: string, raw: string) => {
    const ok = /^\d+$/.test(raw) && Number(raw) <= 600_000;
    if (!ok) bad(option, raw, 'whole milliseconds from 0 to 600000');
    return Number(raw);
  };
  const rolloutRaw = values['rollout-ms'];
  const rolloutMs = rolloutRaw === undefined ? undefined : milliseconds('rollout-ms', rolloutRaw);
  const unready = values.unready.map((target) => {
    if (target.includes('=') || target.startsWith('!')) {
      try {
        parseLabelSelector(target);
      } catch (error) {
        bad('unready', target, `a label selector (${(error as Error).message})`);
      }
      return target;
    }
    if (!oneOf(ALL_COMPONENTS, target)) {
      bad('unready', target, `a Milvus component (${ALL_COMPONENTS.join(', ')}) or a selector`);
    }
    return `app.kubernetes.io/name=milvus,app.kubernetes.io/instance=${release},component=${target}`;
  });
  const unreadyReason = values['unready-reason'];
  if (!oneOf(UNREADY_REASONS, unreadyReason)) {
    bad('unready-reason', unreadyReason, UNREADY_REASONS.join(', '));
  }
  const rateRaw = values['api-reset-rate'];
  const apiResetRate = Number(rateRaw);
  if (!/^\d*\.?\d+$/.test(rateRaw) || apiResetRate > 1) {
    bad('api-reset-rate', rateRaw, 'a share from 0 to 1, such as 0.2');
  }
  const apiLatencyMs = milliseconds('api-latency-ms', values['api-latency-ms']);
  if (values['api-error-rate'] !== undefined) {
    problems.push(
      '--api-error-rate is no longer offered: the sandbox runs a real API server, which cannot answer chosen requests with 503; use --api-reset-rate (connection resets) or --api-latency-ms',
    );
  }
  const helmVersion = values['helm-version'];
  if (!oneOf(HELM_VERSIONS, helmVersion)) {
    bad('helm-version', helmVersion, `a Helm the mirror carries: ${HELM_VERSIONS.join(', ')}`);
  }

  const options = {
    milvusVersion,
    chartVersion,
    layout,
    mq,
    standalone: values.standalone,
    release,
    namespace,
    kubernetesVersion,
    rolloutMs,
    unready,
    unreadyReason,
    apiResetRate,
    apiLatencyMs,
    milvus: values.milvus,
    helmVersion,
  } as SandboxOptions;
  if (problems.length === 0) {
    // Combinations the chart cannot install (pulsarv3 before chart 4.2.21, for example).
    try {
      milvusInstallArgs({ ...options, chartRef: 'fixtures/milvus' });
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  return options;
}

/** What the JSON line says: how to reach the sandbox and run the action against it. */
export function readyLine(world: World, options: SandboxOptions, runnerTemp: string) {
  const { cluster, repo, mirror, helmVersion } = world;
  const helmSha256 = mirror.sha256[helmVersion];
  return {
    kubeconfig: cluster.kubeconfigPath,
    kubeContext: 'test',
    server: cluster.url,
    kubernetesVersion: cluster.kubernetesVersion,
    chartRepository: repo.url,
    helmDownloadBaseUrl: mirror.baseUrl,
    helmVersion,
    helmSha256,
    release: options.release,
    namespace: options.namespace,
    milvusVersion: options.milvusVersion,
    chartVersion: options.chartVersion,
    layout: options.layout,
    mq: options.mq,
    standalone: options.standalone,
    /** For RUNNER_TEMP and RUNNER_TOOL_CACHE when the action is run by hand; removed on stop. */
    runnerTemp,
    toolCache: world.toolCache,
    /** Milvus Lite, which a port-forward to any pod's port 19530 reaches; null with --no-milvus. */
    milvus: world.milvus?.address ?? null,
    /** Every input as a runner would pass it (action.yml defaults first); KUBECONFIG for the rest. */
    inputs: {
      ...actionDefaults(),
      'release-name': options.release,
      namespace: options.namespace,
      'chart-repository': repo.url,
      'helm-version': helmVersion,
      'helm-download-base-url': mirror.baseUrl,
      'helm-sha256': helmSha256,
      'verify-milvus': String(world.milvus !== undefined),
    },
    pid: process.pid,
  };
}

const log = (message: string) => process.stderr.write(`sandbox: ${message}\n`);

async function main(): Promise<number> {
  let options: SandboxOptions | 'help';
  try {
    options = parseSandboxArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`sandbox: ${error.message}\nRun with --help to see the options.\n`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }

  let stopping = false;
  let wake = () => {};
  const stopRequested = new Promise<void>((resolve) => {
    wake = resolve;
  });
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    log(`${why}; stopping`);
    wake();
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop(signal));
  // `npm run` does not pass SIGTERM on: when npm is killed alone, stop rather than linger.
  const parent = process.ppid;
  const orphanCheck = setInterval(() => {
    if (process.ppid !== parent) stop('the parent process exited');
  }, 1000);

  const started = Date.now();
  let world: World | undefined;
  try {
    log(
      `starting the Kubernetes control plane, the chart repository and the Helm mirror${options.milvus ? ', and Milvus Lite' : ''}`,
    );
    world = await startWorld({
      helmVersion: options.helmVersion,
      kubernetesVersion: options.kubernetesVersion,
      rolloutMs: options.rolloutMs,
      milvus: options.milvus,
      namespaces: SYSTEM_NAMESPACES.includes(options.namespace) ? [] : [options.namespace],
    });
    log(
      `installing ${options.release} in namespace ${options.namespace}: Milvus ${options.milvusVersion}, chart ${options.chartVersion}, ${options.standalone ? 'standalone' : `${options.layout} coordinators`}, ${options.mq}, with Helm ${options.helmVersion}`,
    );
    await installMilvus(world, options);
    for (const selector of options.unready) {
      await world.cluster.faults.unready(selector, options.unreadyReason);
      log(`pods matching ${selector} are kept unready (${options.unreadyReason})`);
    }
    if (options.apiResetRate > 0) {
      await world.cluster.faults.resets({ rate: options.apiResetRate });
      log(`${options.apiResetRate * 100}% of client connections to the API server are reset`);
    }
    if (options.apiLatencyMs > 0) {
      await world.cluster.faults.latency(options.apiLatencyMs);
      log(`every answer to a client is delayed by ${options.apiLatencyMs} ms`);
    }
    const runnerTemp = join(world.dir, 'runner-temp');
    mkdirSync(runnerTemp);
    if (!stopping) {
      process.stdout.write(`${JSON.stringify(readyLine(world, options, runnerTemp))}\n`);
      log(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s; stop with Ctrl-C or SIGTERM`);
    }
    await stopRequested;
    return 0;
  } catch (error) {
    // A signal during start-up also reaches Helm (same process group): that is not a failure.
    if (stopping) return 0;
    log(`failed: ${(error as Error).message}`);
    return 1;
  } finally {
    clearInterval(orphanCheck);
    await world?.stop();
    log('stopped');
  }
}

if (import.meta.main) process.exitCode = await main();
