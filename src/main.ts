// The upgrade, step by step, as the official procedure describes it; one log group per step.
import * as core from '@actions/core';
import type { Inputs } from './context.ts';
import { failureMessage } from './failure.ts';
import type { Helm } from './helm.ts';
import type { ChartVersion } from './helm-output.ts';
import { milvusName } from './inspect.ts';
import { installHelm } from './installer.ts';
import type { Kube } from './kube.ts';
import { chooseHops } from './planner.ts';
import type { PredictContext } from './predict.ts';
import { watchSignals } from './process.ts';
import { newProgress } from './progress.ts';
import { setOutputs, writeSummary } from './report.ts';
import { settle } from './settle.ts';
import {
  addRepository,
  checkCharts,
  connect,
  makePlan,
  REPO,
  readInputs,
  readRelease,
  runHop,
  showDryRun,
  verify,
} from './steps.ts';

/**
 * How long a cancelled run lets Helm finish recording its operation: a runner sends SIGTERM
 * 7.5 s after SIGINT and kills 2.5 s later, and the report needs a moment after Helm.
 */
const CANCEL_GRACE_MS = 5000;

export async function run(): Promise<void> {
  const progress = newProgress();
  const signals = watchSignals(CANCEL_GRACE_MS);
  let kube: Kube | undefined;
  let helm: Helm | undefined;
  let inputs: Inputs | undefined;
  /** Adds the chart repository in the background; awaited before Helm's directory is removed. */
  let repository: Promise<ChartVersion[]> | undefined;
  const upgrade = async () => {
    inputs = await core.group('Inputs', async () => readInputs());
    const i = inputs;
    progress.release = i.releaseName;
    progress.namespace = i.namespace;
    progress.dryRun = i.dryRun;

    const installed = await core.group('Helm', () =>
      installHelm({
        version: i.helmVersion,
        baseUrl: i.helmDownloadBaseUrl,
        sha256: i.helmSha256,
        auth: i.helmDownloadAuth,
      }),
    );
    progress.helmVersion = installed.version;

    ({ kube, helm } = await core.group('Cluster', () => connect(i, installed.path)));
    const h = helm;
    const k = kube;
    // Adding the repository needs nothing from the cluster: let it run while the release is read.
    const available = settle(addRepository(h, i));
    repository = available;

    const before = await core.group('Release', () => readRelease(h, k, i));
    progress.before = before.assessment;

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
      applyConflict: (object) => k.applyConflict(i.namespace, object),
    };
    const { plan, views } =
      choices.length === 0
        ? { plan: { hops: [], advisories: [] }, views: [] }
        : await core.group('Plan (Helm dry run of every hop)', async () =>
            makePlan(h, ctx, before.view, choices),
          );
    progress.plan = plan;
    progress.notes.push(...plan.hops.flatMap((hop) => hop.notes), ...plan.advisories);

    if (i.dryRun) {
      await core.group('Dry run', async () => showDryRun(plan));
      return;
    }
    for (const [index, hop] of plan.hops.entries()) {
      progress.current = hop;
      // A hop after another of this run is rendered again with its exact arguments first.
      const previous = index > 0 ? views[index - 1] : undefined;
      const now = {
        components: progress.after?.components ?? before.assessment.components,
        queue: before.assessment.queue.queue,
      };
      const done = await core.group(
        `Hop ${hop.number}: ${hop.from} → ${hop.to} (chart ${hop.chartVersion})`,
        () => runHop(h, k, i, ctx, hop, previous, now),
      );
      progress.hops.push(done.record);
      progress.after = done.after;
      progress.current = undefined;
    }
    const lastHop = progress.after;
    progress.after = await core.group('Verify', () =>
      verify(h, k, i, ctx.milvusName, before.assessment, plan, lastHop),
    );
  };
  try {
    await Promise.race([upgrade(), signals.cancelled]);
    setOutputs(progress);
    await writeSummary(progress);
  } catch (error) {
    // Inputs that failed validation still name the release the user meant, as given.
    progress.release ||= core.getInput('release-name').trim() || '(release-name not given)';
    progress.namespace ||= core.getInput('namespace').trim() || 'default';
    const message = await failureMessage(error, progress, helm, inputs);
    progress.failure = message;
    setOutputs(progress);
    await writeSummary(progress).catch(() => undefined);
    core.setFailed(message);
  } finally {
    signals.dispose();
    kube?.dispose();
    // A refusal can come while Helm still writes the repository list: let it finish first.
    await repository?.catch(() => undefined);
    await helm?.dispose();
  }
}
