// The upgrade, step by step, as the official procedure describes it; one log group per step.
import * as core from '@actions/core';
import semver from 'semver';
import { advisoryWarnings } from './advisories.ts';
import { type Assessment, assess } from './assess.ts';
import { describeChanges } from './changes.ts';
import { checkChartVersions } from './charts.ts';
import { getInputs, InputError, type Inputs } from './context.ts';
import { UNCHANGED, UpgradeError } from './errors.ts';
import { Helm } from './helm.ts';
import { rollbackCommand } from './helm-args.ts';
import { HelmError } from './helm-errors.ts';
import type { ChartVersion } from './helm-output.ts';
import { findRelease, inspectRelease, milvusName } from './inspect.ts';
import { installHelm } from './installer.ts';
import { Kube } from './kube.ts';
import { readManifest } from './manifest.ts';
import { type MessageQueue, MINIMUM_KUBERNETES_VERSION } from './milvus.ts';
import { chooseHops, type HopChoice, type Plan, type PlannedHop } from './planner.ts';
import { type PredictContext, predictPlan, type ReleaseView, recheckHop } from './predict.ts';
import { Cancelled, watchSignals } from './process.ts';
import { readQueue } from './queue.ts';
import { Report } from './report.ts';
import { rollInOrder, type StepRecord } from './rollout.ts';
import { settle } from './settle.ts';
import { confirmLanding, type Landing, podProblemsNow } from './verify.ts';

/** The private repository name the chart is added under (in the action's own repository list). */
const REPO = 'zilliztech';

/**
 * How long a cancelled run lets Helm finish recording its operation: a runner sends SIGTERM
 * 7.5 s after SIGINT and kills 2.5 s later, and the report needs a moment after Helm.
 */
const CANCEL_GRACE_MS = 5000;

export async function run(): Promise<void> {
  const report = new Report();
  const signals = watchSignals(CANCEL_GRACE_MS);
  let kube: Kube | undefined;
  let helm: Helm | undefined;
  let inputs: Inputs | undefined;
  /** Adds the chart repository in the background; awaited before Helm's directory is removed. */
  let repository: Promise<ChartVersion[]> | undefined;
  const upgrade = async () => {
    inputs = await core.group('Inputs', async () => readInputs());
    const i = inputs;
    report.release = i.releaseName;
    report.namespace = i.namespace;
    report.dryRun = i.dryRun;

    const installed = await core.group('Helm', () =>
      installHelm({
        version: i.helmVersion,
        baseUrl: i.helmDownloadBaseUrl,
        sha256: i.helmSha256,
        auth: i.helmDownloadAuth,
      }),
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
    if (choices.length === 0) {
      core.info(`Already at ${i.targetVersion} with the 2.6 components: nothing to do.`);
    } else {
      await core.group('Chart repository', async () => checkCharts(i, await available, choices));
    }

    const ctx: PredictContext = {
      release: i.releaseName,
      namespace: i.namespace,
      chartRef: `${REPO}/${i.chartName}`,
      helmMajor: h.major,
      timeout: i.timeout,
      valuesFiles: i.valuesFiles,
      milvusName: milvusName(before.view.values, i.chartName),
      upgradeDependencies: i.upgradeDependencies,
      refusedStatefulSetUpdate: (name, spec) => k.refusedStatefulSetUpdate(i.namespace, name, spec),
    };
    const { plan, views } =
      choices.length === 0
        ? { plan: { hops: [], advisories: [] }, views: [] }
        : await core.group('Plan (Helm dry run of every hop)', async () =>
            makePlan(h, ctx, before.view, choices),
          );
    report.plan = plan;
    report.notes.push(...plan.hops.flatMap((hop) => hop.notes), ...plan.advisories);

    if (i.dryRun) {
      await core.group('Dry run', async () => {
        for (const hop of plan.hops) {
          core.info(`Helm's dry run of hop ${hop.number} renders ${hop.objects.length} objects:`);
          for (const object of hop.objects) core.info(`  ${object}`);
        }
        core.info('Dry run: nothing was changed.');
      });
      return;
    }
    for (const [index, hop] of plan.hops.entries()) {
      // A hop after another of this run is rendered again with its exact arguments first.
      const previous = index > 0 ? views[index - 1] : undefined;
      await core.group(
        `Hop ${hop.number}: ${hop.from} → ${hop.to} (chart ${hop.chartVersion})`,
        () => runHop(h, k, i, ctx, hop, previous, report),
      );
    }
    await core.group('Verify', () =>
      verify(h, k, i, ctx.milvusName, before.assessment, plan, report),
    );
  };
  try {
    await Promise.race([upgrade(), signals.cancelled]);
    report.setOutputs();
    await report.writeSummary();
  } catch (error) {
    // Inputs that failed validation still name the release the user meant, as given.
    report.release ||= core.getInput('release-name').trim() || '(release-name not given)';
    report.namespace ||= core.getInput('namespace').trim() || 'default';
    const message = await failureMessage(error, report, helm, inputs);
    report.failure = message;
    report.setOutputs();
    await report.writeSummary().catch(() => undefined);
    core.setFailed(message);
  } finally {
    signals.dispose();
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

/** Adds the chart repository to the action's private list and lists the chart's versions. */
async function addRepository(helm: Helm, i: Inputs): Promise<ChartVersion[]> {
  // `repo add` downloads the index into the private cache: no `repo update` needed after it.
  await helm.repoAdd(REPO, i.chartRepository, i.chartRepositoryAuth);
  return helm.searchVersions(`${REPO}/${i.chartName}`);
}

interface ReleaseRead {
  assessment: Assessment;
  /** What the next hop reuses: the last deployed revision's values and manifest. */
  view: ReleaseView;
}

async function readRelease(helm: Helm, kube: Kube, i: Inputs): Promise<ReleaseRead> {
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

function checkCharts(i: Inputs, available: ChartVersion[], hops: readonly HopChoice[]): void {
  core.info(`${i.chartRepository}: ${available.length} versions of ${i.chartName}`);
  checkChartVersions({ repository: i.chartRepository, chartName: i.chartName }, available, hops);
  for (const hop of hops) {
    const chart = available.find((c) => c.version === hop.chartVersion);
    core.info(`Chart ${i.chartName} ${hop.chartVersion}: found, Milvus ${chart?.appVersion}`);
  }
}

async function makePlan(
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

async function runHop(
  helm: Helm,
  kube: Kube,
  i: Inputs,
  ctx: PredictContext,
  hop: PlannedHop,
  previous: ReleaseView | undefined,
  report: Report,
): Promise<void> {
  report.current = hop;
  const before = report.after?.components ?? report.before?.components ?? [];
  if (hop.resume) core.info(`Resuming: ${hop.reason}.`);
  const started = Date.now();
  if (previous) {
    await recheckHop(helm, hop, ctx, previous);
    core.info("Helm's dry run of the exact arguments confirms the plan.");
  }
  core.info(`helm ${hop.args.join(' ')}`);
  const target = { release: i.releaseName, namespace: i.namespace, name: ctx.milvusName };
  const expect = { version: hop.to, components: hop.components, removes: hop.removes };
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
    order,
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

/** Helm's words when another operation holds the release (a second run, a person, a CD tool). */
const BUSY = /another operation \(install\/upgrade\/rollback\) is in progress|already exists/;

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
    const next =
      error instanceof Cancelled
        ? 'Nothing was changed: re-run the workflow when you are ready.'
        : 'Fix the cause above and re-run.';
    return new UpgradeError(what, UNCHANGED, next).message;
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
  const failed = `Hop ${hop.number} (${hop.from} → ${hop.to}) failed: ${what}`;
  if (error instanceof HelmError && BUSY.test(error.stderr)) {
    return new UpgradeError(
      failed,
      state,
      'Another operation holds the release (a second run of this workflow, or someone else): do not roll back. Wait for it to finish (helm status shows its progress), then re-run this workflow with the same inputs.',
    ).message;
  }
  const resume = `${error instanceof Cancelled ? 'When you are ready, re-run' : 'Fix the cause above and re-run'} this workflow with the same inputs: it resumes at hop ${hop.number}.`;
  const start = report.before?.deployedRevision;
  const next =
    hop.number === 1 && report.hops.length === 0 && start !== undefined
      ? `${resume} To return to where you started instead: \`${rollbackCommand(i.releaseName, i.namespace, start)} --wait\`.`
      : hop.number === 1
        ? resume
        : `${resume} Do not roll back across the 2.6 boundary: Milvus 2.6 records its streaming state in etcd, and a rollback to 2.5 is not supported.`;
  return new UpgradeError(failed, state, next).message;
}
