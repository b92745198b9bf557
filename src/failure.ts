// Failure policy: what failed, the state the cluster is left in, and the next step, from the
// progress of the run: resume, a rollback before 2.6 only, or waiting for another operation.

import { UNCHANGED, UpgradeError } from './errors.ts';
import type { Helm } from './helm.ts';
import { rollbackCommand } from './helm-args.ts';
import { isBusy } from './helm-errors.ts';
import type { Inputs } from './inputs.ts';
import { InputError } from './inputs.ts';
import { findRelease } from './inspect.ts';
import { MilvusCheckFailed } from './milvus-check.ts';
import { Cancelled } from './process.ts';
import { describeState, type Progress } from './progress.ts';

/** Turns any failure into what failed, the cluster's state now, and the next step. */
export async function failureMessage(
  error: unknown,
  p: Progress,
  helm: Helm | undefined,
  i: Inputs | undefined,
): Promise<string> {
  if (error instanceof UpgradeError || error instanceof InputError) return error.message;
  const what = error instanceof Error ? error.message : String(error);
  const hop = p.current;
  if ((!hop && p.hops.length === 0) || !helm || !i) {
    const next =
      error instanceof Cancelled
        ? 'Nothing was changed: re-run the workflow when you are ready.'
        : 'Fix the cause above and re-run.';
    return new UpgradeError(what, UNCHANGED, next).message;
  }
  const release = await findRelease(helm, i.releaseName, i.namespace).catch(() => undefined);
  p.failedAt = release;
  const state = describeState(p, release);
  const noRollback =
    'Do not roll back across the 2.6 boundary: Milvus 2.6 records its streaming state in etcd, and a rollback to 2.5 is not supported.';
  if (error instanceof MilvusCheckFailed) {
    const crossed = p.hops.some((h) => h.number === 2);
    const next =
      error.kind === 'unhealthy'
        ? "Look at the Milvus pods' logs for the reasons above and fix the cause, then re-run this workflow with the same inputs: it asks Milvus first and goes on from where it stands."
        : 'Nothing was rolled back. Check the collections named above with your Milvus client; where data is really gone, restore it from your backup (for example with milvus-backup).';
    return new UpgradeError(what, state, crossed ? `${next} ${noRollback}` : next).message;
  }
  if (!hop) {
    return new UpgradeError(
      `The final check failed: ${what}`,
      state,
      'Look at the pods named above (kubectl get pods), fix the cause, and re-run: a cluster already at the target is only checked again.',
    ).message;
  }
  const failed = `Hop ${hop.number} (${hop.from} → ${hop.to}) failed: ${what}`;
  if (isBusy(error)) {
    return new UpgradeError(
      failed,
      state,
      'Another operation holds the release (a second run of this workflow, or someone else): do not roll back. Wait for it to finish (helm status shows its progress), then re-run this workflow with the same inputs.',
    ).message;
  }
  const resume = `${error instanceof Cancelled ? 'When you are ready, re-run' : 'Fix the cause above and re-run'} this workflow with the same inputs: it resumes at hop ${hop.number}.`;
  const start = p.before?.deployedRevision;
  const next =
    hop.number === 1 && p.hops.length === 0 && start !== undefined
      ? `${resume} To return to where you started instead: \`${rollbackCommand(i.releaseName, i.namespace, start)} --wait\`.`
      : hop.number === 1
        ? resume
        : `${resume} ${noRollback}`;
  return new UpgradeError(failed, state, next).message;
}
