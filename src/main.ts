// The upgrade, step by step, as the official procedure describes it; one log group per step.
import * as core from '@actions/core';
import { inBackground } from './background.ts';
import { failureMessage } from './failure.ts';
import type { Helm } from './helm.ts';
import type { ChartVersion } from './helm-output.ts';
import type { Inputs } from './inputs.ts';
import { milvusName } from './inspect.ts';
import { installHelm } from './installer.ts';
import type { Kube } from './kube.ts';
import { chooseHops } from './planner.ts';
import { watchSignals } from './process.ts';
import { newProgress } from './progress.ts';
import { setOutputs, writeSummary } from './report.ts';
import {
  askMilvus,
  checkCharts,
  compareMilvus,
  confirmMilvusServes,
  confirmNothingLost,
  connect,
  MILVUS_OFF,
  makePlan,
  milvusTarget,
  openRepository,
  predictContext,
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
    const input = await core.group('Inputs', async () => readInputs());
    inputs = input;
    progress.release = input.releaseName;
    progress.namespace = input.namespace;
    progress.dryRun = input.dryRun;

    const installed = await core.group('Helm', () =>
      installHelm({
        version: input.helmVersion,
        baseUrl: input.helmDownloadBaseUrl,
        sha256: input.helmSha256,
        auth: input.helmDownloadAuth,
      }),
    );
    progress.helmVersion = installed.version;

    const session = await core.group('Cluster', () => connect(input, installed.path));
    ({ kube, helm } = session);
    // Adding the repository needs nothing from the cluster: let it run while the release is read.
    const available = inBackground(openRepository(session.helm, input));
    repository = available;

    const before = await core.group('Release', () => readRelease(session, input));
    progress.before = before.assessment;
    const choices = chooseHops(before.assessment, input);
    const ctx = predictContext(session, input, milvusName(before.view.values, input.chartName));

    const milvus = milvusTarget(input, ctx.milvusName);
    const asked = milvus
      ? await core.group('Milvus (health and inventory)', () =>
          askMilvus(session.kube, milvus, choices[0]?.resume ?? false),
        )
      : { inventory: undefined, notes: [MILVUS_OFF] };
    const inventory = asked.inventory;
    progress.milvus = inventory && {
      before: inventory,
      after: undefined,
      problems: [],
      unconfirmed: [],
    };
    progress.notes.push(...asked.notes);

    if (choices.length === 0) {
      core.info(`Already at ${input.targetVersion} with the 2.6 components: nothing to do.`);
    } else {
      await core.group('Chart repository', async () =>
        checkCharts(input, await available, choices),
      );
    }
    const { plan, views } =
      choices.length === 0
        ? { plan: { hops: [], advisories: [] }, views: [] }
        : await core.group('Plan (Helm dry run of every hop)', async () =>
            makePlan(session.helm, ctx, before.view, choices),
          );
    progress.plan = plan;
    progress.notes.push(...plan.hops.flatMap((hop) => hop.notes), ...plan.advisories);

    if (input.dryRun) {
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
        () => runHop(session, input, ctx, hop, previous, now),
      );
      progress.hops.push(done.record);
      progress.after = done.after;
      progress.current = undefined;
      // The next hop, and the final check, start only on a Milvus that serves.
      if (milvus) {
        await core.group(`Milvus after hop ${hop.number}`, () =>
          confirmMilvusServes(session.kube, milvus, input.timeoutMs, hop.to),
        );
      }
    }
    const lastHop = progress.after;
    progress.after = await core.group('Verify', () =>
      verify(session, input, ctx.milvusName, before.assessment, plan, lastHop),
    );
    if (milvus && inventory) {
      progress.milvus = await core.group('Milvus (what it holds now)', () =>
        compareMilvus(session.kube, milvus, inventory, input.timeoutMs),
      );
      confirmNothingLost(progress.milvus);
    }
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
