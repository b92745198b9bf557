// The steps of the procedure, each logging what it finds and returning what it produced.
import * as core from '@actions/core';
import semver from 'semver';
import { advisoryWarnings } from './advisories.ts';
import { type Assessment, assess } from './assess.ts';
import { inBackground } from './background.ts';
import { describeChanges } from './changes.ts';
import { checkChartVersions } from './charts.ts';
import { UNCHANGED, UpgradeError } from './errors.ts';
import { Helm } from './helm.ts';
import type { ChartVersion } from './helm-output.ts';
import { getInputs, type Inputs } from './inputs.ts';
import { inspectRelease } from './inspect.ts';
import { describeProblem, type Inventory } from './inventory.ts';
import { Kube } from './kube.ts';
import { expectationOf } from './landing.ts';
import { readManifest } from './manifest.ts';
import { type Component, type MessageQueue, MINIMUM_KUBERNETES_VERSION } from './milvus.ts';
import {
  checkPortForward,
  compareWithBefore,
  describeLosses,
  MilvusCheckFailed,
  type MilvusTarget,
  takeInventory,
  waitHealthy,
} from './milvus-check.ts';
import type { HopChoice, Plan, PlannedHop } from './planner.ts';
import { type PredictContext, predictPlan, type ReleaseView, recheckHop } from './predict.ts';
import type { After, HopRecord, MilvusFindings } from './progress.ts';
import { readQueue } from './queue.ts';
import { rollInOrder, type StepRecord } from './rollout.ts';
import { confirmLanding, type Landing, podProblemsNow } from './verify.ts';

/** The private repository name the chart is added under (in the action's own repository list). */
export const REPO = 'zilliztech';

export function readInputs(): Inputs {
  const i = getInputs();
  core.info(`Release ${i.releaseName} in namespace ${i.namespace}`);
  core.info(
    `Path: ${i.intermediateVersion} (chart ${i.intermediateChartVersion}) → ${i.targetVersion} (chart ${i.targetChartVersion}) from ${i.chartRepository} (${i.chartName})`,
  );
  core.info(`Helm ${i.helmVersion}, timeout ${i.timeout} per hop${i.dryRun ? ', dry run' : ''}`);
  if (i.valuesFiles.length > 0) {
    core.info(`Values files for the final hop: ${i.valuesFiles.map((f) => f.path).join(', ')}`);
  }
  return i;
}

/** The cluster as the action reaches it: the Kubernetes API, and Helm pointed at the same. */
export interface Session {
  kube: Kube;
  helm: Helm;
}

export async function connect(i: Inputs, helmPath: string): Promise<Session> {
  const kube = Kube.load({
    kubeconfig: i.kubeconfig,
    context: i.kubeContext,
    tempDir: process.env.RUNNER_TEMP || '/tmp',
  });
  const created = inBackground(
    Helm.create({ binary: helmPath, version: i.helmVersion, env: kube.helmEnv }),
  );
  try {
    const [gitVersion, namespace, helm] = await Promise.all([
      kube.serverVersion(),
      kube.namespaceExists(i.namespace),
      created,
    ]);
    core.info(`API server ${kube.server}: Kubernetes ${gitVersion}`);
    const version = semver.coerce(gitVersion);
    if (!version || semver.lt(version, MINIMUM_KUBERNETES_VERSION)) {
      throw new UpgradeError(
        `The cluster runs Kubernetes ${gitVersion}; Milvus 2.6 and its chart need ${MINIMUM_KUBERNETES_VERSION} or newer.`,
        UNCHANGED,
        'Upgrade Kubernetes first, then re-run.',
      );
    }
    if (namespace === false) {
      throw new UpgradeError(
        `The namespace ${i.namespace} does not exist in the cluster.`,
        UNCHANGED,
        'Check the namespace input and the kubeconfig/kube-context (is this the right cluster?).',
      );
    }
    if (namespace === undefined) {
      core.warning(`The credentials may not read the namespace ${i.namespace}; continuing.`);
    }
    return { kube, helm };
  } catch (error) {
    kube.dispose();
    await created.then((helm) => helm.dispose()).catch(() => undefined);
    throw error;
  }
}

/** Where Helm takes the chart from: the OCI registry path, or the repository added as REPO. */
export function chartRef(i: Inputs): string {
  return i.ociRegistry ? `${i.chartRepository}/${i.chartName}` : `${REPO}/${i.chartName}`;
}

/**
 * Adds the chart repository to the action's private list, or logs in to the OCI registry (in a
 * private registry config), and finds the chart's versions.
 */
export async function openRepository(helm: Helm, i: Inputs): Promise<ChartVersion[]> {
  if (!i.ociRegistry) {
    // `repo add` downloads the index into the private cache: no `repo update` needed after it.
    await helm.repoAdd(REPO, i.chartRepository, i.chartRepositoryAuth, i.chartCaFile);
    return helm.searchVersions(chartRef(i));
  }
  if (i.chartRepositoryAuth) {
    const host = new URL(i.chartRepository).host;
    await helm.registryLogin(host, i.chartRepositoryAuth, i.chartCaFile);
  }
  // A registry has no index to search: ask for the versions the hops use.
  const versions = [...new Set([i.intermediateChartVersion, i.targetChartVersion])];
  const found = await Promise.all(
    versions.map((version) => helm.showChart(chartRef(i), version, i.chartCaFile)),
  );
  return found.filter((chart) => chart !== undefined);
}

export interface ReleaseRead {
  assessment: Assessment;
  /** What the next hop reuses: the last deployed revision's values and manifest. */
  view: ReleaseView;
}

export async function readRelease({ helm, kube }: Session, i: Inputs): Promise<ReleaseRead> {
  const observed = await inspectRelease(helm, kube, i.releaseName, i.namespace, i.chartName);
  const a = assess(observed, i);
  core.info(
    `Chart ${a.release.chartName}-${a.release.chartVersion}, revision ${a.release.revision}, ${a.release.status}`,
  );
  core.info(
    `Milvus ${a.versions.join(', ')}; ${{ separate: 'separate coordinators', mixcoord: 'mixcoord', standalone: 'standalone' }[a.layout]}`,
  );
  core.info(`Components: ${a.components.join(', ')}`);
  core.info(`Message queue: ${a.queue.queue} (${a.queue.basis})`);
  core.info(`Pods: ${observed.pods.length}, ${a.unready.length} not ready`);
  if (a.stoppedHop) {
    const why = a.release.description ? ` (Helm: "${a.release.description}")` : '';
    core.warning(`An earlier run stopped during hop ${a.stoppedHop}${why}; it will run again.`);
    if (a.deployedRevision !== undefined && a.deployedRevision !== a.release.revision) {
      core.info(
        `Helm reuses the values of revision ${a.deployedRevision}, the last deployed one; the plan is made from it.`,
      );
    }
  }
  for (const warning of a.warnings) core.warning(warning);
  return {
    assessment: a,
    view: { values: observed.baseline.values, rendered: readManifest(observed.baseline.manifest) },
  };
}

export function checkCharts(
  i: Inputs,
  available: ChartVersion[],
  hops: readonly HopChoice[],
): void {
  // A registry is asked for the hops' versions only: a count would say nothing.
  if (!i.ociRegistry) {
    core.info(`${i.chartRepository}: ${available.length} versions of ${i.chartName}`);
  }
  checkChartVersions({ repository: i.chartRepository, chartName: i.chartName }, available, hops);
  for (const hop of hops) {
    const chart = available.find((c) => c.version === hop.chartVersion);
    core.info(`Chart ${i.chartName} ${hop.chartVersion}: found, Milvus ${chart?.appVersion}`);
  }
}

/** Lists, for a dry run, the objects Helm rendered for each hop. */
export function showDryRun(plan: Plan): void {
  for (const hop of plan.hops) {
    core.info(`Helm's dry run of hop ${hop.number} renders ${hop.objects.length} objects:`);
    for (const object of hop.objects) core.info(`  ${object}`);
  }
  core.info('Dry run: nothing was changed.');
}

export async function makePlan(
  helm: Helm,
  ctx: PredictContext,
  now: ReleaseView,
  choices: HopChoice[],
): Promise<{ plan: Plan; views: ReleaseView[] }> {
  const predicted = await predictPlan(helm, choices, ctx, now);
  const { plan } = predicted;
  for (const hop of plan.hops) {
    core.info(
      `Hop ${hop.number}: ${hop.from} → ${hop.to} with chart ${hop.chartVersion}, because ${hop.reason}.`,
    );
    for (const note of hop.notes) core.warning(note);
    core.info(`  helm ${hop.args.join(' ')}`);
    core.info(
      `  Helm's dry run renders ${hop.objects.length} objects and keeps the message queue and every dependency workload. What changes:`,
    );
    for (const milvus of [true, false]) {
      const changes = hop.changes.filter((c) => c.milvus === milvus);
      core.info(
        `    ${milvus ? 'Milvus' : 'Dependencies'}: ${changes.length === 0 ? 'nothing' : ''}`,
      );
      for (const line of describeChanges(changes)) core.info(`      ${line}`);
    }
  }
  const landings = plan.hops.map((hop) => ({
    version: hop.to,
    input: hop.number === 1 ? 'intermediate-version' : 'target-version',
  }));
  for (const warning of advisoryWarnings(landings)) {
    core.warning(warning);
    plan.advisories.push(warning);
  }
  return predicted;
}

/**
 * Runs one hop: Helm's dry run again when an earlier hop of this run came first, the upgrade (in
 * Milvus' order or Helm's), and the checks that it landed and kept the queue.
 */
export async function runHop(
  { helm, kube }: Session,
  i: Inputs,
  ctx: PredictContext,
  hop: PlannedHop,
  previous: ReleaseView | undefined,
  now: { components: readonly Component[]; queue: MessageQueue },
): Promise<{ record: HopRecord; after: After }> {
  const before = now.components;
  if (hop.resume) core.info(`Resuming: ${hop.reason}.`);
  const started = Date.now();
  if (previous) {
    await recheckHop(helm, hop, ctx, previous);
    core.info("Helm's dry run of the exact arguments confirms the plan.");
  }
  core.info(`helm ${hop.args.join(' ')}`);
  const target = { release: i.releaseName, namespace: i.namespace, name: ctx.milvusName };
  const expect = expectationOf(hop.spec, hop.to);
  let order: StepRecord[] | undefined;
  try {
    if (i.rolloutOrder === 'milvus') {
      const where = { namespace: i.namespace, release: i.releaseName, milvusName: ctx.milvusName };
      order = await rollInOrder(helm, kube, where, hop, i.timeoutMs, (line) => core.info(line));
    } else {
      await helm.upgrade(hop.args);
    }
  } catch (error) {
    // Helm says only that it timed out: name the pods that held the hop up.
    const problems = await podProblemsNow(kube, target, expect);
    if (error instanceof Error && problems.length > 0) {
      error.message += `\nPods now: ${problems.join('; ')}.`;
    }
    throw error;
  }
  const [landing, queue] = await Promise.all([
    confirmLanding(helm, kube, target, expect, i.timeoutMs),
    confirmQueue(helm, i, now.queue),
  ]);
  const record: HopRecord = {
    number: hop.number,
    from: hop.from,
    to: hop.to,
    chartVersion: hop.chartVersion,
    revision: landing.release.revision,
    seconds: Math.round((Date.now() - started) / 1000),
    pins: hop.pins,
    order,
    added: landing.components.filter((c) => !before.includes(c)),
    removed: before.filter((c) => !landing.components.includes(c)),
  };
  logLanding(landing, record.added, record.removed);
  return { record, after: { ...landing, version: hop.to, queue } };
}

function logLanding(landing: Landing, added: string[], removed: string[]): void {
  core.info(
    `Release at revision ${landing.release.revision} (${landing.release.status}), chart ${landing.release.chartVersion}`,
  );
  core.info(
    `Components added: ${added.join(', ') || 'none'}; removed: ${removed.join(', ') || 'none'}`,
  );
  for (const [component, image] of Object.entries(landing.images))
    core.info(`  ${component}: ${image}`);
}

/** The final check of the release, after the last hop or when there was nothing to do. */
export async function verify(
  { helm, kube }: Session,
  i: Inputs,
  name: string,
  before: Assessment,
  plan: Plan,
  lastHop: After | undefined,
): Promise<After> {
  const last = plan.hops[plan.hops.length - 1];
  const [landing, queue] = await Promise.all([
    confirmLanding(
      helm,
      kube,
      { release: i.releaseName, namespace: i.namespace, name },
      last
        ? expectationOf(last.spec, last.to)
        : { version: before.lowest, components: before.components, removes: [] },
      i.timeoutMs,
    ),
    // The last hop of this run has just read the queue; otherwise read it now.
    lastHop?.queue ?? confirmQueue(helm, i, before.queue.queue),
  ]);
  const after = { ...landing, version: last?.to ?? before.lowest, queue };
  core.info(
    `${i.releaseName}: Milvus ${after.version}, chart ${landing.release.chartName}-${landing.release.chartVersion}, revision ${landing.release.revision}, ${landing.release.status}`,
  );
  core.info(
    `Components: ${landing.components.join(', ')}; message queue kept: ${queue} (${before.queue.basis})`,
  );
  return after;
}

/** Reads the queue the release renders now and fails when it is not the one it started on. */
export async function confirmQueue(
  helm: Helm,
  i: Inputs,
  expected: MessageQueue,
): Promise<MessageQueue> {
  const now = readQueue(await helm.getValues(i.releaseName, i.namespace, { all: true }));
  if (!now.queue || now.queue !== expected) {
    throw new Error(
      `the release now renders the message queue ${now.queue ?? 'none'} (${now.basis}), not ${expected}`,
    );
  }
  return now.queue;
}

/** What Helm's dry runs of the hops need to know, and the API checks they make. */
export function predictContext(
  { helm, kube }: Session,
  i: Inputs,
  milvusName: string,
): PredictContext {
  return {
    release: i.releaseName,
    namespace: i.namespace,
    chartRef: chartRef(i),
    caFile: i.chartCaFile,
    helmMajor: helm.major,
    timeout: i.timeout,
    valuesFiles: i.valuesFiles,
    milvusName,
    upgradeDependencies: i.upgradeDependencies,
    refusedStatefulSetUpdate: (name, spec) =>
      kube.refusedStatefulSetUpdate(i.namespace, name, spec),
    applyConflict: (object) => kube.applyConflict(i.namespace, object),
  };
}

/** Where Milvus is asked; undefined when verify-milvus is off. */
export function milvusTarget(i: Inputs, name: string): MilvusTarget | undefined {
  return i.verifyMilvus
    ? { namespace: i.namespace, release: i.releaseName, name, token: i.milvusToken }
    : undefined;
}

export const MILVUS_OFF =
  'verify-milvus is off: Milvus itself was not asked whether it serves and what it holds.';

/** How long Milvus has to answer healthy before the first hop: it is meant to be serving. */
const HEALTHY_BEFORE_MS = 30_000;

/**
 * Milvus' answer before anything changes: its health (a refusal when it does not serve, unless an
 * earlier run stopped mid-upgrade and this run must finish it) and what it holds.
 */
export async function askMilvus(
  kube: Kube,
  target: MilvusTarget,
  resuming: boolean,
): Promise<{ inventory: Inventory | undefined; notes: string[] }> {
  await checkPortForward(kube, target.namespace);
  const next = resuming
    ? ''
    : "Fix Milvus first (its pods' logs say more), then re-run; or set verify-milvus: false to upgrade without asking Milvus.";
  const health = await waitHealthy(kube, target, HEALTHY_BEFORE_MS).catch((error: Error) => {
    if (resuming) return { healthy: false, reasons: [error.message] };
    throw new UpgradeError(`Milvus could not be asked: ${error.message}.`, UNCHANGED, next);
  });
  const reasons = health.reasons.join('; ') || 'no reason given';
  if (!health.healthy && !resuming) {
    throw new UpgradeError(`Milvus reports itself unhealthy: ${reasons}.`, UNCHANGED, next);
  }
  if (!health.healthy) {
    // An interrupted upgrade is why it may not serve: finishing it comes first.
    const note = `Milvus did not answer healthy before this run finished an interrupted upgrade (${reasons}); its data was not inventoried before.`;
    core.warning(note);
    return { inventory: undefined, notes: [note] };
  }
  core.info('Milvus answers healthy.');
  const inventory = await takeInventory(kube, target, HEALTHY_BEFORE_MS);
  logInventory(inventory);
  return { inventory, notes: [] };
}

function logInventory(inventory: Inventory): void {
  core.info(
    `Databases: ${inventory.databases.join(', ')}; ${inventory.collections.length} collection(s)`,
  );
  for (const c of inventory.collections) {
    core.info(
      `  ${c.database}/${c.name}: ${c.exactRows ?? c.rows} rows, ${c.load}, ${c.indexes.length} index(es)`,
    );
  }
}

/** After a hop: Milvus answers healthy within the timeout, or the run stops before the next hop. */
export async function confirmMilvusServes(
  kube: Kube,
  target: MilvusTarget,
  timeoutMs: number,
  version: string,
): Promise<void> {
  const health = await waitHealthy(kube, target, timeoutMs).catch((error: Error) => ({
    healthy: false,
    reasons: [error.message],
  }));
  if (!health.healthy) {
    throw new MilvusCheckFailed(
      `Milvus ${version} did not answer healthy within the timeout: ${health.reasons.join('; ') || 'no reason given'}`,
      'unhealthy',
    );
  }
  core.info(`Milvus ${version} answers healthy.`);
}

/** After the last hop: the same databases, collections and indexes, loaded again, no rows lost. */
export async function compareMilvus(
  kube: Kube,
  target: MilvusTarget,
  before: Inventory,
  timeoutMs: number,
): Promise<MilvusFindings> {
  const { after, problems, unconfirmed } = await compareWithBefore(kube, target, before, timeoutMs);
  logInventory(after);
  for (const p of unconfirmed) {
    core.warning(`${describeProblem(p)}; not loaded, so count(*) cannot confirm a loss`);
  }
  if (problems.length === 0) {
    core.info('Milvus holds every database, collection, index and row it held before.');
  }
  return { before, after, problems, unconfirmed };
}

/** Fails the run when Milvus lost or broke anything it held before. */
export function confirmNothingLost(findings: MilvusFindings): void {
  if (findings.problems.length > 0) {
    throw new MilvusCheckFailed(describeLosses(findings.problems), 'lost');
  }
}
