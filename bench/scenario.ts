// One repetition of the end-to-end comparison: a fresh control plane with the same 2.5 release,
// upgraded either by bench/manual.sh or by dist/index.js, with the same Helm binary, chart
// repository and timeout. Times come from when the output lines arrive; API requests from the
// API server's audit log; the control plane's own costs from its start and /proc.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditRecord } from '../test/control-plane/cluster.ts';
import { helm, runAction, startWorld, type World } from '../test/support/harness.ts';
import type { HelmVersion } from '../test/support/helm-binaries.ts';
import { sampleCollections, seed } from '../test/support/milvus-lite.ts';
import { milvusInstallArgs } from '../test/support/milvus-release.ts';
import { ROOT } from '../test/support/paths.ts';
import { type ControlPlaneMemory, controlPlaneMemory } from './control-plane.ts';
import { observeRollouts, settled } from './rollout.ts';

export const MANUAL_SCRIPT = join(ROOT, 'bench', 'manual.sh');
const RELEASE = 'my-milvus';
const NAMESPACE = 'default';
/** What verify-milvus finds in Milvus: 5,000 rows loaded and indexed, 1,000 not loaded. */
const COLLECTIONS = sampleCollections(5000, 1000);
/** The `--timeout` of each hop, for both. */
const TIMEOUT = '5m';

export interface Scenario {
  /** How long a new pod takes to become ready during the upgrade. */
  rolloutMs: number;
  queryNodes: number;
  /** Helm for both procedures (the action installs the same version from the mirror). */
  helmVersion: HelmVersion;
  /** The action's `rollout-order`; `helm` (all at once) compares like with like against manual. */
  rolloutOrder: 'helm' | 'milvus';
  /** Milvus Lite behind the proxy pods, seeded, and the action's verify-milvus on. */
  milvus?: boolean;
}

export type Procedure = 'manual' | 'action';

/** API requests of one phase, split into the action's own (client-node) and Helm's. */
export interface PhaseRequests {
  own: number;
  ownWatches: number;
  helm: number;
  helmByVerb: Record<string, number>;
}

export interface Measurement {
  procedure: Procedure;
  wallMs: number;
  /** Duration of each `helm upgrade`, hop by hop. */
  upgradeMs: number[];
  /** Time the release spent rolling out (not settled), summed over the run. */
  rolloutMs: number;
  /** API requests per phase: `before` the first hop, `hop1`, `hop2`, `after` the last. */
  requests: Record<string, PhaseRequests>;
  /** Action only: duration of each log group before the first hop. */
  groupsMs?: Record<string, number>;
  /** verify-milvus only: the duration of each log group that asks Milvus. */
  milvusMs?: Record<string, number>;
  /** Ordered rollouts only: the components' rollout times summed over both hops. */
  orderedStepsMs?: number;
  /** The control plane under this run (not timed with it). */
  controlPlane: ControlPlaneCosts;
}

export interface ControlPlaneCosts {
  /** startWorld: the control plane, with the chart repository and Helm mirror started alongside. */
  worldStartMs: number;
  /** Helm's install of the starting release until it settled. */
  installMs: number;
  /** Settled after the install, before the clock starts. */
  afterInstall: ControlPlaneMemory;
  /** After the upgrade; its `peak` is each process's peak over the whole world. */
  end: ControlPlaneMemory;
}

interface Line {
  at: number;
  text: string;
}

/**
 * startWorld and how long it took, once more after a failed start: the control plane picks free
 * ports before its processes bind them, and other work on the machine can take one in between.
 */
async function startTimed(scenario: Scenario): Promise<{ world: World; worldStartMs: number }> {
  for (let attempt = 1; ; attempt++) {
    const started = performance.now();
    try {
      const world = await startWorld({
        rolloutMs: 100,
        helmVersion: scenario.helmVersion,
        milvus: scenario.milvus,
      });
      return { world, worldStartMs: performance.now() - started };
    } catch (error) {
      if (attempt === 2) throw error;
      process.stderr.write(`world did not start, once more: ${(error as Error).message}\n`);
    }
  }
}

/** Starts a world with the benchmark's starting release installed and settled. */
async function prepare(
  scenario: Scenario,
): Promise<{ world: World; costs: Omit<ControlPlaneCosts, 'end'> }> {
  const { world, worldStartMs } = await startTimed(scenario);
  try {
    const args = milvusInstallArgs({
      release: RELEASE,
      namespace: NAMESPACE,
      chartRef: 'fixtures/milvus',
      chartVersion: '4.2.30',
      milvusVersion: 'v2.5.6',
      layout: 'separate',
      mq: 'pulsarv3',
      queryNodeReplicas: scenario.queryNodes,
    });
    const installing = performance.now();
    if (world.milvus) await seed(world.milvus.address, { create: COLLECTIONS });
    await helm(world, args);
    await world.cluster.waitFor(() => settled(world.cluster, RELEASE, NAMESPACE), 120_000);
    const installMs = performance.now() - installing;
    const afterInstall = controlPlaneMemory(world.cluster);
    await world.cluster.setRolloutMs(scenario.rolloutMs);
    world.cluster.requests.clear();
    return { world, costs: { worldStartMs, installMs, afterInstall } };
  } catch (error) {
    await world.stop();
    throw error;
  }
}

/** Runs a program, noting when each output line arrived. */
function runTimed(
  command: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; lines: Line[]; stderr: string; startedAt: number; endedAt: number }> {
  const lines: Line[] = [];
  let stderr = '';
  let partial = '';
  const startedAt = Date.now();
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const at = Date.now();
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const text of parts) lines.push({ at, text });
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      if (partial) lines.push({ at: Date.now(), text: partial });
      resolve({ code: code ?? -1, lines, stderr, startedAt, endedAt: Date.now() });
    });
  });
}

const UPGRADED = /^Release ".*" has been upgraded/;

function find(lines: Line[], pattern: RegExp, from = 0): number {
  const index = lines.findIndex((line, i) => i >= from && pattern.test(line.text));
  if (index < 0) throw new Error(`no output line matches ${pattern}`);
  return index;
}

const at = (lines: Line[], index: number) => (lines[index] as Line).at;

/** Counts requests per phase; `bounds` are the phase start times in order, then the end. */
function countRequests(
  entries: readonly AuditRecord[],
  phases: readonly string[],
  bounds: readonly number[],
): Record<string, PhaseRequests> {
  const out: Record<string, PhaseRequests> = {};
  for (const [n, phase] of phases.entries()) {
    const from = n === 0 ? 0 : (bounds[n] as number);
    const to = n === phases.length - 1 ? Number.POSITIVE_INFINITY : (bounds[n + 1] as number);
    const inPhase = entries.filter((r) => r.time >= from && r.time < to);
    const own = inPhase.filter((r) => /^(kubernetes-client-javascript|undici)/.test(r.userAgent));
    const helm = inPhase.filter((r) => r.userAgent.startsWith('Helm/'));
    const helmByVerb: Record<string, number> = {};
    for (const r of helm) helmByVerb[r.verb] = (helmByVerb[r.verb] ?? 0) + 1;
    out[phase] = {
      own: own.length,
      ownWatches: own.filter((r) => r.watch).length,
      helm: helm.length,
      helmByVerb,
    };
  }
  return out;
}

const PHASES = ['before', 'hop1', 'hop2', 'after'];

type Run = Omit<Measurement, 'rolloutMs' | 'controlPlane'>;

async function runManual(world: World): Promise<Run> {
  const home = mkdtempSync(join(world.dir, 'manual-'));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    ...world.cluster.env('manual'),
    HELM: world.helm,
    RELEASE,
    NAMESPACE,
    CHART_REPOSITORY: world.repo.url,
    TIMEOUT,
  };
  const run = await runTimed('bash', [MANUAL_SCRIPT], env);
  if (run.code !== 0) throw new Error(`bench/manual.sh failed (${run.code}): ${run.stderr}`);
  const { lines } = run;
  const updated = find(lines, /Update Complete/);
  const hop1 = find(lines, UPGRADED);
  const hop2 = find(lines, UPGRADED, hop1 + 1);
  const bounds = [run.startedAt, at(lines, updated), at(lines, hop1), at(lines, hop2)];
  return {
    procedure: 'manual',
    wallMs: run.endedAt - run.startedAt,
    upgradeMs: [at(lines, hop1) - at(lines, updated), at(lines, hop2) - at(lines, hop1)],
    requests: countRequests(world.cluster.requests.entries, PHASES, bounds),
  };
}

async function runTheAction(world: World, toolCache: string, scenario: Scenario): Promise<Run> {
  const lines: Line[] = [];
  let partial = '';
  const startedAt = Date.now();
  const run = await runAction(
    world,
    { timeout: TIMEOUT, 'rollout-order': scenario.rolloutOrder },
    {
      env: { RUNNER_TOOL_CACHE: toolCache },
      onStdout: (chunk) => {
        const now = Date.now();
        const parts = (partial + chunk).split('\n');
        partial = parts.pop() ?? '';
        for (const text of parts) lines.push({ at: now, text });
      },
    },
  );
  if (run.exitCode !== 0) throw new Error(`the action failed (${run.exitCode}):\n${run.stdout}`);
  const endedAt = startedAt + run.durationMs;
  const group1 = find(lines, /^::group::Hop 1/);
  const start1 = find(lines, /^helm upgrade /, group1);
  const end1 = find(lines, UPGRADED, start1);
  const group2 = find(lines, /^::group::Hop 2/, end1);
  const start2 = find(lines, /^helm upgrade /, group2);
  const end2 = find(lines, UPGRADED, start2);
  const verify = find(lines, /^::group::Verify/, end2);
  const groupsMs: Record<string, number> = {};
  const groups = lines
    .map((line, index) => ({ index, name: /^::group::(.*)$/.exec(line.text)?.[1] }))
    .filter((g) => g.name !== undefined);
  for (const [n, group] of groups.entries()) {
    if (group.index >= group1) break;
    const next = groups[n + 1];
    groupsMs[group.name as string] =
      (next ? at(lines, next.index) : endedAt) - at(lines, group.index);
  }
  groupsMs['first line'] = at(lines, 0) - startedAt;
  const milvusMs: Record<string, number> = {};
  for (const [n, group] of groups.entries()) {
    if (!group.name?.startsWith('Milvus')) continue;
    const next = groups[n + 1];
    milvusMs[group.name] = (next ? at(lines, next.index) : endedAt) - at(lines, group.index);
  }
  const bounds = [startedAt, at(lines, group1), at(lines, group2), at(lines, verify)];
  const hops = JSON.parse(run.outputs.hops ?? '[]') as { order?: { seconds: number }[] }[];
  const steps = hops.flatMap((hop) => hop.order ?? []);
  return {
    procedure: 'action',
    wallMs: run.durationMs,
    upgradeMs: [at(lines, end1) - at(lines, start1), at(lines, end2) - at(lines, start2)],
    requests: countRequests(world.cluster.requests.entries, PHASES, bounds),
    groupsMs,
    ...(scenario.milvus ? { milvusMs } : {}),
    ...(steps.length > 0
      ? { orderedStepsMs: steps.reduce((sum, step) => sum + step.seconds * 1000, 0) }
      : {}),
  };
}

/** One upgrade of a fresh cluster by `procedure`; the set-up is not timed. */
export async function measure(
  scenario: Scenario,
  procedure: Procedure,
  toolCache: string,
): Promise<Measurement> {
  const { world, costs } = await prepare(scenario);
  try {
    mkdirSync(toolCache, { recursive: true });
    const observer = observeRollouts(world.cluster, RELEASE, NAMESPACE);
    const result =
      procedure === 'manual'
        ? await runManual(world)
        : await runTheAction(world, toolCache, scenario);
    const intervals = await observer.stop();
    const rolloutMs = intervals.reduce((sum, [from, to]) => sum + (to - from), 0);
    return {
      ...result,
      rolloutMs,
      controlPlane: { ...costs, end: controlPlaneMemory(world.cluster) },
    };
  } finally {
    await world.stop();
  }
}
