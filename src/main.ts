// The upgrade, step by step, as the official procedure describes it; one log group per step.
import * as core from '@actions/core';
import semver from 'semver';
import { type Assessment, assess } from './assess.ts';
import { getInputs, InputError, type Inputs } from './context.ts';
import { UNCHANGED, UpgradeError } from './errors.ts';
import { Helm, upgradeArgs } from './helm.ts';
import { findRelease, inspectRelease, milvusName } from './inspect.ts';
import { installHelm } from './installer.ts';
import { Kube } from './kube.ts';
import { type MessageQueue, MINIMUM_KUBERNETES_VERSION } from './milvus.ts';
import { buildPlan, chooseHops, type HopChoice, type Plan, type PlannedHop } from './planner.ts';
import { readQueue } from './queue.ts';
import { Report } from './report.ts';
import { settle } from './settle.ts';
import type { Values } from './state.ts';
import { confirmLanding, type Landing, podProblemsNow } from './verify.ts';

/** The private repository name the chart is added under (in the action's own repository list). */
const REPO = 'zilliztech';

export async function run(): Promise<void> {
  const report = new Report();
  let kube: Kube | undefined;
  let helm: Helm | undefined;
  let inputs: Inputs | undefined;
  /** Adds the chart repository in the background; awaited before Helm's directory is removed. */
  let repository: Promise<Repository> | undefined;
  try {
    inputs = await core.group('Inputs', async () => readInputs());
    const i = inputs;
    report.release = i.releaseName;
    report.namespace = i.namespace;
    report.dryRun = i.dryRun;

    const installed = await core.group('Helm', () =>
      installHelm({ version: i.helmVersion, baseUrl: i.helmDownloadBaseUrl, sha256: i.helmSha256 }),
    );
    report.helmVersion = installed.version;

    ({ kube, helm } = await core.group('Cluster', () => connect(i, installed.path)));
    const h = helm;
    const k = kube;
    // Adding the repository needs nothing from the cluster: let it run while the release is read.
    const available = settle(addRepository(h, i));
    repository = available;

    const before = await core.group('Release', () => readRelease(h, k, i));
    report.before = before.assessment;

    const choices = chooseHops(before.assessment, i);
    const chartDefaults =
      choices.length === 0
        ? {}
        : await core.group('Chart repository', async () =>
            checkCharts(i, await available, choices),
          );

    const plan = await core.group('Plan', async () =>
      makePlan(h, i, before, choices, chartDefaults),
    );
    report.plan = plan;
    report.notes.push(...plan.hops.flatMap((hop) => hop.notes));

    if (i.dryRun) {
      await core.group('Dry run', async () => dryRun(h, i, plan, report));
    } else {
      const name = milvusName(before.computedValues, i.chartName);
      for (const hop of plan.hops) {
        await core.group(
          `Hop ${hop.number}: ${hop.from} → ${hop.to} (chart ${hop.chartVersion})`,
          () => runHop(h, k, i, name, hop, report),
        );
      }
      await core.group('Verify', () => verify(h, k, i, name, before.assessment, plan, report));
    }
    report.setOutputs();
    await report.writeSummary();
  } catch (error) {
    const message = await failureMessage(error, report, helm, inputs);
    report.failure = message;
    report.setOutputs();
    await report.writeSummary().catch(() => undefined);
    core.setFailed(message);
  } finally {
    kube?.dispose();
    // A refusal can come while Helm still writes the repository list: let it finish first.
    await repository?.catch(() => undefined);
    await helm?.dispose();
  }
}

function readInputs(): Inputs {
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

async function connect(i: Inputs, helmPath: string): Promise<{ kube: Kube; helm: Helm }> {
  const kube = Kube.load({
    kubeconfig: i.kubeconfig,
    context: i.kubeContext,
    tempDir: process.env.RUNNER_TEMP || '/tmp',
  });
  const created = settle(Helm.create({ binary: helmPath, env: kube.helmEnv }));
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

/** The chart's versions in the repository, and the defaults of the chart versions the inputs name. */
interface Repository {
  versions: string[];
  /** Settled before `addRepository` returns; a version the repository lacks is a rejection. */
  defaults: Record<string, Promise<Values>>;
}

async function addRepository(helm: Helm, i: Inputs): Promise<Repository> {
  // `repo add` downloads the index into the private cache: no `repo update` needed after it.
  await helm.repoAdd(REPO, i.chartRepository);
  const chart = `${REPO}/${i.chartName}`;
  // The plan needs the defaults of the hops' charts: read them while searching, not after.
  const defaults = Object.fromEntries(
    [i.intermediateChartVersion, i.targetChartVersion].map((version) => [
      version,
      settle(helm.showValues(chart, version)),
    ]),
  );
  try {
    const versions = (await helm.searchVersions(chart)).map((v) => v.version);
    return { versions, defaults };
  } finally {
    // Settle every Helm command before returning, so cleanup never races one.
    await Promise.allSettled(Object.values(defaults));
  }
}

interface ReleaseRead {
  assessment: Assessment;
  userValues: Values;
  computedValues: Values;
}

async function readRelease(helm: Helm, kube: Kube, i: Inputs): Promise<ReleaseRead> {
  const observed = await inspectRelease(helm, kube, i.releaseName, i.namespace, i.chartName);
  const a = assess(observed, i);
  core.info(
    `Chart ${a.release.chartName}-${a.release.chartVersion}, revision ${a.release.revision}, ${a.release.status}`,
  );
  core.info(
    `Milvus ${a.versions.join(', ')}; ${a.layout === 'separate' ? 'separate coordinators' : 'mixcoord'}`,
  );
  core.info(`Components: ${a.components.join(', ')}`);
  core.info(`Message queue: ${a.queue.queue} (${a.queue.basis})`);
  core.info(`Pods: ${observed.pods.length}, ${a.unready.length} not ready`);
  if (a.stoppedHop) {
    const why = a.release.description ? ` (Helm: "${a.release.description}")` : '';
    core.warning(`An earlier run stopped during hop ${a.stoppedHop}${why}; it will run again.`);
  }
  for (const warning of a.warnings) core.warning(warning);
  return {
    assessment: a,
    userValues: observed.userValues,
    computedValues: observed.computedValues,
  };
}

async function checkCharts(
  i: Inputs,
  repository: Repository,
  hops: readonly { chartVersion: string }[],
): Promise<Record<string, Values>> {
  const available = repository.versions;
  core.info(`${i.chartRepository}: ${available.length} versions of ${i.chartName}`);
  const needed = [...new Set(hops.map((hop) => hop.chartVersion))];
  const missing = needed.filter((version) => !available.includes(version));
  if (missing.length > 0) {
    throw new UpgradeError(
      `The chart repository ${i.chartRepository} has no ${i.chartName} chart version ${missing.join(', ')}.`,
      UNCHANGED,
      'Check chart-repository (a mirror must carry both chart versions) and the chart version inputs.',
    );
  }
  const defaults = await Promise.all(needed.map((version) => repository.defaults[version]));
  for (const version of needed) core.info(`Chart ${i.chartName} ${version}: found`);
  return Object.fromEntries(needed.map((version, n) => [version, defaults[n] as Values]));
}

function makePlan(
  helm: Helm,
  i: Inputs,
  before: ReleaseRead,
  choices: HopChoice[],
  chartDefaults: Record<string, Values>,
): Plan {
  const plan = buildPlan(choices, {
    release: i.releaseName,
    namespace: i.namespace,
    chartRef: `${REPO}/${i.chartName}`,
    helmMajor: helm.major,
    timeout: i.timeout,
    valuesFiles: i.valuesFiles,
    userValues: before.userValues,
    computedValues: before.computedValues,
    chartDefaults,
  });
  if (plan.hops.length === 0) {
    core.info(`Already at ${i.targetVersion} with the 2.6 components: nothing to do.`);
  }
  for (const hop of plan.hops) {
    core.info(
      `Hop ${hop.number}: ${hop.from} → ${hop.to} with chart ${hop.chartVersion}, because ${hop.reason}.`,
    );
    for (const note of hop.notes) core.warning(note);
    core.info(`  helm ${hop.args.join(' ')}`);
  }
  return plan;
}

async function dryRun(helm: Helm, i: Inputs, plan: Plan, report: Report): Promise<void> {
  const first = plan.hops[0];
  if (!first) return;
  const result = await helm.upgrade(
    upgradeArgs({
      release: i.releaseName,
      namespace: i.namespace,
      chartRef: `${REPO}/${i.chartName}`,
      chartVersion: first.chartVersion,
      valuesFiles: first.valuesFiles,
      sets: first.sets,
      helmMajor: helm.major,
      timeout: i.timeout,
      dryRun: true,
    }),
  );
  report.dryRunObjects = result.objects;
  core.info(
    `Helm rendered hop ${first.number} against the cluster (--dry-run=server): it would apply ${result.objects?.length} objects:`,
  );
  for (const object of result.objects ?? []) core.info(`  ${object}`);
  core.info('Dry run: nothing was changed.');
}

async function runHop(
  helm: Helm,
  kube: Kube,
  i: Inputs,
  name: string,
  hop: PlannedHop,
  report: Report,
): Promise<void> {
  report.current = hop;
  const before = report.after?.components ?? report.before?.components ?? [];
  if (hop.resume) core.info(`Resuming: ${hop.reason}.`);
  core.info(`helm ${hop.args.join(' ')}`);
  const started = Date.now();
  const target = { release: i.releaseName, namespace: i.namespace, name };
  const expect = { version: hop.to, components: hop.components, removes: hop.removes };
  try {
    await helm.upgrade(hop.args);
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
    confirmQueue(helm, i, report),
  ]);
  const record = {
    number: hop.number,
    from: hop.from,
    to: hop.to,
    chartVersion: hop.chartVersion,
    revision: landing.release.revision,
    seconds: Math.round((Date.now() - started) / 1000),
    pins: hop.pins,
    added: landing.components.filter((c) => !before.includes(c)),
    removed: before.filter((c) => !landing.components.includes(c)),
  };
  report.hops.push(record);
  report.after = { ...landing, version: hop.to, queue };
  report.current = undefined;
  logLanding(landing, record.added, record.removed);
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

async function verify(
  helm: Helm,
  kube: Kube,
  i: Inputs,
  name: string,
  before: Assessment,
  plan: Plan,
  report: Report,
): Promise<void> {
  const last = plan.hops[plan.hops.length - 1];
  const [landing, queue] = await Promise.all([
    confirmLanding(
      helm,
      kube,
      { release: i.releaseName, namespace: i.namespace, name },
      last
        ? { version: last.to, components: last.components, removes: last.removes }
        : { version: before.lowest, components: before.components, removes: [] },
      i.timeoutMs,
    ),
    // The last hop of this run has just read the queue; otherwise read it now.
    report.after?.queue ?? confirmQueue(helm, i, report),
  ]);
  report.after = { ...landing, version: last?.to ?? before.lowest, queue };
  core.info(
    `${i.releaseName}: Milvus ${report.after.version}, chart ${landing.release.chartName}-${landing.release.chartVersion}, revision ${landing.release.revision}, ${landing.release.status}`,
  );
  core.info(
    `Components: ${landing.components.join(', ')}; message queue kept: ${queue} (${before.queue.basis})`,
  );
}

/** Reads the queue the release renders now and fails when it is not the one it started on. */
async function confirmQueue(helm: Helm, i: Inputs, report: Report): Promise<MessageQueue> {
  const expected = report.before?.queue.queue;
  const now = readQueue(await helm.getValues(i.releaseName, i.namespace, { all: true }));
  if (!now.queue || now.queue !== expected) {
    throw new Error(
      `the release now renders the message queue ${now.queue ?? 'none'} (${now.basis}), not ${expected}`,
    );
  }
  return now.queue;
}

/** Turns any failure into what failed, the cluster's state now, and the next step. */
async function failureMessage(
  error: unknown,
  report: Report,
  helm: Helm | undefined,
  i: Inputs | undefined,
): Promise<string> {
  if (error instanceof UpgradeError || error instanceof InputError) return error.message;
  const what = error instanceof Error ? error.message : String(error);
  const hop = report.current;
  if ((!hop && report.hops.length === 0) || !helm || !i) {
    return new UpgradeError(what, UNCHANGED, 'Fix the cause above and re-run.').message;
  }
  const release = await findRelease(helm, i.releaseName, i.namespace).catch(() => undefined);
  report.failedAt = release;
  const state = report.state(release);
  if (!hop) {
    return new UpgradeError(
      `The final check failed: ${what}`,
      state,
      'Look at the pods named above (kubectl get pods), fix the cause, and re-run: a cluster already at the target is only checked again.',
    ).message;
  }
  const resume = `Fix the cause above and re-run this workflow with the same inputs: it resumes at hop ${hop.number}.`;
  const start = report.before?.release.revision;
  const next =
    hop.number === 1 && report.hops.length === 0 && start !== undefined
      ? `${resume} To return to where you started instead: \`${helm.rollbackCommand(i.releaseName, i.namespace, start)} --wait\`.`
      : `${resume} Do not roll back across the 2.6 boundary: Milvus 2.6 records its streaming state in etcd, and a rollback to 2.5 is not supported.`;
  return new UpgradeError(
    `Hop ${hop.number} (${hop.from} → ${hop.to}) failed: ${what}`,
    state,
    next,
  ).message;
}
