// `npm run bench`: the action against the manual procedure on a real Kubernetes control plane
// (test/control-plane), its start-up, its Helm set-up, its API requests, how it scales, and what
// the control plane itself costs in time and memory. Progress goes to stderr, the tables to
// stdout, every figure to bench/results.json.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { controlPlaneBinaries } from '../test/control-plane/build.ts';
import { buildChartRepository } from '../test/support/chart-repo.ts';
import { NODE } from '../test/support/harness.ts';
import { helmBinary } from '../test/support/helm-binaries.ts';
import { buildHelmMirror } from '../test/support/helm-mirror.ts';
import { ROOT } from '../test/support/paths.ts';
import { type Memory, type StartStop, startStop } from './control-plane.ts';
import { load, machine } from './machine.ts';
import {
  type Measurement,
  measure,
  type PhaseRequests,
  type Procedure,
  type Scenario,
} from './scenario.ts';
import { distBytes, installTimes, sdkChunkBytes, startupMs } from './setup-costs.ts';
import { describe, markdownTable, median, round, type Summary, summarize } from './stats.ts';

const HELM_VERSION = 'v3.18.0';
/** Helm 4 waits with watches instead of Helm 3's 2-second polling: compared once more with it. */
const HELM4_VERSION = 'v4.1.4';
/**
 * Repetitions and rollout delays. Every measured run starts its own control plane and installs
 * the release first (about 20 s on 2 cores, not timed), which dominates the benchmark's length.
 * BENCH_QUICK=1 runs each part once, for trying the benchmark itself; its figures go to a
 * temporary file, not over the committed ones.
 */
const QUICK = process.env.BENCH_QUICK === '1';
const RESULTS = QUICK
  ? join(tmpdir(), 'milvus-upgrade-bench-quick.json')
  : join(ROOT, 'bench', 'results.json');
const CONFIG = {
  rolloutMs: 2000,
  repetitions: QUICK ? 1 : 5,
  helm4Repetitions: QUICK ? 1 : 3,
  orderedRepetitions: QUICK ? 1 : 3,
  apiRolloutMs: [500, 2000, 6000],
  apiRepetitions: QUICK ? 1 : 2,
  scale: QUICK ? [1, 10] : [1, 10, 50],
  scaleRepetitions: QUICK ? 1 : 3,
  startupRuns: QUICK ? 5 : 15,
  toolCacheMisses: QUICK ? 1 : 3,
  toolCacheHits: QUICK ? 2 : 5,
  milvusRepetitions: QUICK ? 1 : 3,
  /** Bare starts and stops of the control plane, for its start time and idle memory. */
  controlPlaneStarts: QUICK ? 2 : 5,
};

const began = Date.now();
const progress = (text: string) =>
  process.stderr.write(`[${((Date.now() - began) / 1000).toFixed(0).padStart(3)} s] ${text}\n`);
const seconds = (ms: number) => ms / 1000;

const scratch = mkdtempSync(join(tmpdir(), 'milvus-upgrade-bench-'));
const toolCache = join(scratch, 'toolcache');

/** Every measured run with its scenario, for the control plane's costs across them. */
const everyRun: { scenario: Scenario; m: Measurement }[] = [];
async function measured(scenario: Scenario, procedure: Procedure): Promise<Measurement> {
  const m = await measure(scenario, procedure, toolCache);
  everyRun.push({ scenario, m });
  return m;
}

/** Both procedures `n` times on fresh clusters, alternating which goes first. */
async function compare(scenario: Scenario, n: number, label: string) {
  const runs: Record<Procedure, Measurement[]> = { manual: [], action: [] };
  for (let rep = 0; rep < n; rep++) {
    const order: Procedure[] = rep % 2 === 0 ? ['manual', 'action'] : ['action', 'manual'];
    for (const procedure of order) {
      const m = await measured(scenario, procedure);
      runs[procedure].push(m);
      progress(`${label} ${rep + 1}/${n}: ${procedure} ${seconds(m.wallMs).toFixed(2)} s`);
    }
  }
  return runs;
}

/** Wall time minus the time its `helm upgrade` commands took. */
const overheadMs = (m: Measurement) => m.wallMs - m.upgradeMs.reduce((a, b) => a + b, 0);

function comparison(runs: Record<Procedure, Measurement[]>) {
  const { manual, action } = runs;
  const s = (values: number[]) => summarize(values.map(seconds));
  return {
    manualSeconds: s(manual.map((m) => m.wallMs)),
    actionSeconds: s(action.map((m) => m.wallMs)),
    /** Per repetition: action / manual. */
    ratio: summarize(action.map((m, i) => m.wallMs / (manual[i] as Measurement).wallMs)),
    /** The action's wall time minus its own `helm upgrade` time. */
    overheadSeconds: s(action.map(overheadMs)),
    /** The manual script's wall time minus its `helm upgrade` time. */
    manualOverheadSeconds: s(manual.map(overheadMs)),
    /** The action's wall time minus the manual script's `helm upgrade` time (same repetition). */
    overheadOverManualUpgradesSeconds: s(
      action.map((m, i) => m.wallMs - (manual[i] as Measurement).upgradeMs.reduce((a, b) => a + b)),
    ),
    /** Time the cluster spent rolling out, during the action's runs. */
    rolloutSeconds: s(action.map((m) => m.rolloutMs)),
    manualRolloutSeconds: s(manual.map((m) => m.rolloutMs)),
    /** The action's wall time minus that rollout time. */
    actionAboveRolloutSeconds: s(action.map((m) => m.wallMs - m.rolloutMs)),
    manualAboveRolloutSeconds: s(manual.map((m) => m.wallMs - m.rolloutMs)),
    manualUpgradeSeconds: [0, 1].map((hop) => s(manual.map((m) => m.upgradeMs[hop] ?? 0))),
    actionUpgradeSeconds: [0, 1].map((hop) => s(action.map((m) => m.upgradeMs[hop] ?? 0))),
    /** Where the action's time before the first hop goes, per log group (ms, medians). */
    actionGroupsMs: Object.fromEntries(
      Object.keys(action[0]?.groupsMs ?? {}).map((g) => [
        g,
        round(median(action.map((m) => m.groupsMs?.[g] ?? 0)), 0),
      ]),
    ),
  };
}

/** Median requests per phase over repetitions. */
function requestsPerPhase(runs: Measurement[]) {
  const phases = Object.keys(runs[0]?.requests ?? {});
  return Object.fromEntries(
    phases.map((phase) => {
      const pick = (f: (r: PhaseRequests) => number) =>
        median(runs.map((m) => f(m.requests[phase] as PhaseRequests)));
      return [
        phase,
        {
          action: pick((r) => r.own),
          actionWatches: pick((r) => r.ownWatches),
          helm: pick((r) => r.helm),
          helmGets: pick((r) => r.helmByVerb.get ?? 0),
        },
      ];
    }),
  );
}

// Everything the runs share, built once before any timing.
progress('preparing Helm binaries, the Helm mirror and the chart repository');
const helm = helmBinary(HELM_VERSION);
const host = machine(NODE, helm);
if (host.loadAverage.start > 0.5 * host.cores) {
  progress(`note: load average ${host.loadAverage.start} on ${host.cores} cores skews the timings`);
}
await buildHelmMirror();
await buildChartRepository();
// Built from source once per machine (about 15 minutes), never inside a timed part.
await controlPlaneBinaries();

progress(`control plane: ${CONFIG.controlPlaneStarts} bare starts and stops`);
const startStops: StartStop[] = [];
for (let n = 0; n < CONFIG.controlPlaneStarts; n++) startStops.push(await startStop());

progress(`start-up: ${CONFIG.startupRuns} runs of node dist/index.js`);
const startup: number[] = [];
for (let n = 0; n < CONFIG.startupRuns; n++) startup.push(await startupMs());

progress(`Helm set-up: ${CONFIG.toolCacheMisses} tool-cache misses, ${CONFIG.toolCacheHits} hits`);
const install = await installTimes(
  HELM_VERSION,
  toolCache,
  CONFIG.toolCacheMisses,
  CONFIG.toolCacheHits,
);

const base: Scenario = {
  rolloutMs: CONFIG.rolloutMs,
  queryNodes: 1,
  helmVersion: HELM_VERSION,
  rolloutOrder: 'helm',
};
progress(`end to end: ${CONFIG.repetitions} repetitions, rollout ${CONFIG.rolloutMs} ms per pod`);
const e2eRuns = await compare(base, CONFIG.repetitions, 'end to end');
const e2e = comparison(e2eRuns);

progress(`end to end with Helm ${HELM4_VERSION}: ${CONFIG.helm4Repetitions} repetitions`);
await installTimes(HELM4_VERSION, toolCache, 1, 0);
const helm4 = comparison(
  await compare(
    { ...base, helmVersion: HELM4_VERSION },
    CONFIG.helm4Repetitions,
    `end to end, Helm ${HELM4_VERSION}`,
  ),
);

progress(`ordered rollout: ${CONFIG.orderedRepetitions} action runs with rollout-order milvus`);
const orderedRuns: Measurement[] = [];
for (let rep = 0; rep < CONFIG.orderedRepetitions; rep++) {
  orderedRuns.push(await measured({ ...base, rolloutOrder: 'milvus' }, 'action'));
}
progress(
  `verify-milvus: ${CONFIG.milvusRepetitions} action runs with Milvus Lite behind the proxies`,
);
const milvusRuns: Measurement[] = [];
for (let rep = 0; rep < CONFIG.milvusRepetitions; rep++) {
  milvusRuns.push(await measured({ ...base, milvus: true }, 'action'));
}
/** What asking Milvus costs: each of its log groups, and the whole run against one without. */
const milvusChecks = {
  groupSeconds: Object.fromEntries(
    Object.keys(milvusRuns[0]?.milvusMs ?? {}).map((group) => [
      group,
      summarize(milvusRuns.map((m) => seconds(m.milvusMs?.[group] ?? Number.NaN))),
    ]),
  ),
  wallSeconds: summarize(milvusRuns.map((m) => seconds(m.wallMs))),
  withoutSeconds: e2e.actionSeconds,
  sdkChunkBytes: sdkChunkBytes(),
};

/** Wall time over the physical limit of an ordered rollout: its components' rollout times. */
const ordered = {
  wallSeconds: summarize(orderedRuns.map((m) => seconds(m.wallMs))),
  stepsSeconds: summarize(orderedRuns.map((m) => seconds(m.orderedStepsMs ?? Number.NaN))),
  ratio: summarize(
    orderedRuns.map((m) => m.wallMs / (m.orderedStepsMs ?? Number.NaN)),
    3,
  ),
};

const apiRuns: Record<number, Measurement[]> = { [CONFIG.rolloutMs]: e2eRuns.action };
for (const rolloutMs of CONFIG.apiRolloutMs.filter((ms) => !apiRuns[ms])) {
  progress(`API requests: ${CONFIG.apiRepetitions} action runs, rollout ${rolloutMs} ms`);
  apiRuns[rolloutMs] = [];
  for (let rep = 0; rep < CONFIG.apiRepetitions; rep++) {
    apiRuns[rolloutMs].push(await measured({ ...base, rolloutMs }, 'action'));
  }
}
const api = Object.fromEntries(
  CONFIG.apiRolloutMs.map((ms) => [String(ms), requestsPerPhase(apiRuns[ms] ?? [])]),
);
const ownPerHop = (ms: number) =>
  ['hop1', 'hop2'].map((hop) => api[String(ms)]?.[hop]?.action ?? Number.NaN);
const independent = CONFIG.apiRolloutMs.every(
  (ms) => JSON.stringify(ownPerHop(ms)) === JSON.stringify(ownPerHop(CONFIG.apiRolloutMs[0] ?? 0)),
);

const scale = [];
for (const queryNodes of CONFIG.scale) {
  const runs =
    queryNodes === base.queryNodes
      ? e2eRuns
      : await compare(
          { ...base, queryNodes },
          CONFIG.scaleRepetitions,
          `scale ${queryNodes} query nodes`,
        );
  const c = comparison(runs);
  scale.push({
    queryNodes,
    repetitions: runs.action.length,
    manualSeconds: c.manualSeconds,
    actionSeconds: c.actionSeconds,
    ratio: c.ratio,
    overheadSeconds: c.overheadSeconds,
    rolloutSeconds: c.rolloutSeconds,
    actionRequests: requestsPerPhase(runs.action),
  });
}

/** Median MiB per component. */
const byComponent = (memories: Memory[]) =>
  Object.fromEntries(
    Object.keys(memories[0]?.byComponent ?? {}).map((name) => [
      name,
      round(median(memories.map((m) => m.byComponent[name] ?? 0)), 1),
    ]),
  );
/** The control plane's memory over the runs with `queryNodes` query nodes. */
function memoryAt(queryNodes: number) {
  const costs = everyRun
    .filter((r) => r.scenario.queryNodes === queryNodes)
    .map((r) => r.m.controlPlane);
  return {
    queryNodes,
    runs: costs.length,
    installSeconds: summarize(
      costs.map((c) => seconds(c.installMs)),
      2,
    ),
    afterInstallMiB: summarize(
      costs.map((c) => c.afterInstall.rss.totalMiB),
      1,
    ),
    endMiB: summarize(
      costs.map((c) => c.end.rss.totalMiB),
      1,
    ),
    peakMiB: summarize(
      costs.map((c) => c.end.peak.totalMiB),
      1,
    ),
    endByComponentMiB: byComponent(costs.map((c) => c.end.rss)),
    peakByComponentMiB: byComponent(costs.map((c) => c.end.peak)),
  };
}
const controlPlane = {
  kubernetesVersion: startStops[0]?.kubernetesVersion ?? '',
  startMs: summarize(
    startStops.map((s) => s.startMs),
    0,
  ),
  stopMs: summarize(
    startStops.map((s) => s.stopMs),
    0,
  ),
  idleMiB: summarize(
    startStops.map((s) => s.idle.rss.totalMiB),
    1,
  ),
  idleByComponentMiB: byComponent(startStops.map((s) => s.idle.rss)),
  /** startWorld before every measured run: the control plane, chart repository and Helm mirror. */
  worldStartMs: summarize(
    everyRun.map((r) => r.m.controlPlane.worldStartMs),
    0,
  ),
  memory: CONFIG.scale.map(memoryAt),
};

const startupSummary = summarize(startup, 1);
const hit = summarize(install.hitMs, 1);
const miss = summarize(install.missMs, 1);
/** The median over repetitions of action / manual, each pair on identical fresh clusters. */
const ratio = e2e.ratio.median;
const targets = [
  { name: 'action / manual', target: '≤ 1.0', value: round(ratio), met: ratio <= 1 },
  {
    name: 'overhead above rollout (s)',
    target: '≤ 3',
    value: e2e.overheadSeconds.median,
    met: e2e.overheadSeconds.median <= 3,
  },
  {
    name: 'start-up (ms)',
    target: '≤ 300',
    value: startupSummary.median,
    met: startupSummary.median <= 300,
  },
  { name: 'tool-cache hit (ms)', target: '≤ 500', value: hit.median, met: hit.median <= 500 },
  {
    name: 'ordered rollout / its components',
    target: '≤ 1.05',
    value: ordered.ratio.median,
    met: ordered.ratio.median <= 1.05,
  },
  {
    name: 'API requests per hop',
    target: 'independent of rollout',
    value: CONFIG.apiRolloutMs.map((ms) => `${ms} ms: ${ownPerHop(ms).join('+')}`).join(', '),
    met: independent,
  },
];

const results = {
  machine: { ...host, loadAverage: { ...host.loadAverage, end: load() } },
  config: { ...CONFIG, helmVersion: HELM_VERSION, helm4Version: HELM4_VERSION },
  actionOverManualRatio: round(ratio),
  overheadSeconds: e2e.overheadSeconds.median,
  startupMs: startupSummary.median,
  distBytes: distBytes(),
  toolCacheHitMs: hit.median,
  toolCacheMissMs: miss.median,
  apiRequestsPerHop: { byRolloutMs: api, actionRequestsIndependentOfRollout: independent },
  scale,
  endToEnd: e2e,
  endToEndHelm4: helm4,
  orderedRollout: ordered,
  milvusChecks,
  startup: startupSummary,
  toolCache: { hit, miss },
  controlPlane,
  targets,
  benchSeconds: 0,
};
results.benchSeconds = round((Date.now() - began) / 1000, 0);
writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
rmSync(scratch, { recursive: true, force: true });

// The tables.
const sec = (s: Summary) => describe(s, 2, ' s');

/** Rows of the end-to-end table: label, manual, action. */
function endToEndRows(c: ReturnType<typeof comparison>): string[][] {
  const hop = (n: number) => [
    `hop ${n + 1} helm upgrade`,
    sec(c.manualUpgradeSeconds[n] as Summary),
    sec(c.actionUpgradeSeconds[n] as Summary),
  ];
  return [
    ['wall time', sec(c.manualSeconds), sec(c.actionSeconds)],
    hop(0),
    hop(1),
    ['wall − helm upgrades', sec(c.manualOverheadSeconds), sec(c.overheadSeconds)],
    ['cluster rolling out', sec(c.manualRolloutSeconds), sec(c.rolloutSeconds)],
    ['wall − rolling out', sec(c.manualAboveRolloutSeconds), sec(c.actionAboveRolloutSeconds)],
    ['action / manual', '', describe(c.ratio, 3)],
  ];
}
const out: string[] = [];
out.push(
  `Milvus upgrade action benchmark, ${results.machine.date.slice(0, 10)}: ${results.machine.cpu}, ${results.machine.cores} cores, ${results.machine.memoryGiB} GiB, ${results.machine.os}, Node ${results.machine.node}, Helm ${results.machine.helm}`,
  '',
  `End to end (2.5.6 → 2.6.4, two hops, rollout ${CONFIG.rolloutMs} ms per pod; ${CONFIG.repetitions} repetitions with Helm ${HELM_VERSION}, ${CONFIG.helm4Repetitions} with ${HELM4_VERSION}; median (min–max))`,
  '',
  markdownTable(
    [
      '',
      `manual, Helm ${HELM_VERSION}`,
      `action, Helm ${HELM_VERSION}`,
      `manual, Helm ${HELM4_VERSION}`,
      `action, Helm ${HELM4_VERSION}`,
    ],
    endToEndRows(e2e).map((row, n) => [...row, ...(endToEndRows(helm4)[n] ?? []).slice(1)]),
  ),
  '',
  `Action before the first hop, per log group (ms, median): ${Object.entries(e2e.actionGroupsMs)
    .map(([g, ms]) => `${g} ${ms}`)
    .join(', ')}`,
  '',
  'Set-up',
  '',
  markdownTable(
    ['', 'median (min–max)'],
    [
      ['start-up to first log line', describe(startupSummary, 0, ' ms')],
      ['dist/ size', `${(results.distBytes / 2 ** 20).toFixed(2)} MiB`],
      ['Helm, tool-cache miss', describe(miss, 0, ' ms')],
      ['Helm, tool-cache hit', describe(hit, 0, ' ms')],
    ],
  ),
  '',
  `Control plane (Kubernetes v${controlPlane.kubernetesVersion}, etcd, kube-controller-manager, kube-scheduler, KWOK, Toxiproxy; memory = the sum of its processes' resident memory, VmRSS; peak = the sum of each process's VmHWM)`,
  '',
  markdownTable(
    ['', 'median (min–max)'],
    [
      [`start, bare (${controlPlane.startMs.n} runs)`, describe(controlPlane.startMs, 0, ' ms')],
      ['stop', describe(controlPlane.stopMs, 0, ' ms')],
      [
        `start with chart repository and Helm mirror (${controlPlane.worldStartMs.n} runs)`,
        describe(controlPlane.worldStartMs, 0, ' ms'),
      ],
      ['memory after start, no release', describe(controlPlane.idleMiB, 0, ' MiB')],
    ],
  ),
  '',
  markdownTable(
    [
      'query nodes',
      'runs',
      'install until settled',
      'memory after install',
      'memory at end',
      'peak',
    ],
    controlPlane.memory.map((m) => [
      String(m.queryNodes),
      String(m.runs),
      describe(m.installSeconds, 1, ' s'),
      describe(m.afterInstallMiB, 0, ' MiB'),
      describe(m.endMiB, 0, ' MiB'),
      describe(m.peakMiB, 0, ' MiB'),
    ]),
  ),
  '',
  `At the end, by process (1 query node, MiB, median): ${Object.entries(
    controlPlane.memory[0]?.endByComponentMiB ?? {},
  )
    .map(([name, value]) => `${name} ${Math.round(value)}`)
    .join(', ')}`,
  '',
  'API requests per phase (median; action = client-node incl. watches, helm = Helm/…)',
  '',
  markdownTable(
    ['rollout', 'phase', 'action', 'action watches', 'helm', 'helm gets'],
    CONFIG.apiRolloutMs.flatMap((ms) =>
      Object.entries(api[String(ms)] ?? {}).map(([phase, r]) => [
        `${ms} ms`,
        phase,
        String(r.action),
        String(r.actionWatches),
        String(r.helm),
        String(r.helmGets),
      ]),
    ),
  ),
  '',
  `Scale (query node replicas; rollout ${CONFIG.rolloutMs} ms per pod)`,
  '',
  markdownTable(
    [
      'query nodes',
      'reps',
      'manual',
      'action',
      'action / manual',
      'wall − helm upgrades',
      'action requests hop 1 + hop 2',
    ],
    scale.map((s) => [
      String(s.queryNodes),
      String(s.repetitions),
      sec(s.manualSeconds),
      sec(s.actionSeconds),
      describe(s.ratio, 3),
      sec(s.overheadSeconds),
      `${s.actionRequests.hop1?.action} + ${s.actionRequests.hop2?.action}`,
    ]),
  ),
  '',
  `verify-milvus: asking Milvus (Milvus Lite through a port-forward; ${milvusRuns.length} runs, median; the SDK chunk, loaded only for these checks, is ${(milvusChecks.sdkChunkBytes / 1048576).toFixed(2)} MiB)`,
  '',
  markdownTable(
    ['log group', 'seconds'],
    [
      ...Object.entries(milvusChecks.groupSeconds).map(([group, s]) => [group, sec(s)]),
      ['whole run, verify-milvus on', sec(milvusChecks.wallSeconds)],
      ['whole run, verify-milvus off (end to end above)', sec(milvusChecks.withoutSeconds)],
    ],
  ),
  '',
  'Targets',
  '',
  markdownTable(
    ['', 'target', 'measured', ''],
    targets.map((t) => [t.name, t.target, String(t.value), t.met ? 'met' : 'missed']),
  ),
  '',
  `${QUICK ? RESULTS : 'bench/results.json'} written; the benchmark took ${results.benchSeconds} s.`,
);
process.stdout.write(`${out.join('\n')}\n`);
