// What the run did, as the step's outputs, the job summary, and the state named in a failure.
// Only versions, names, revisions and booleans go in here: never values or credentials.
import * as core from '@actions/core';
import type { Assessment } from './assess.ts';
import { describeChanges } from './changes.ts';
import type { Component, MessageQueue } from './milvus.ts';
import type { Plan } from './planner.ts';
import type { StepRecord } from './rollout.ts';
import type { ReleaseInfo } from './state.ts';
import type { Landing } from './verify.ts';

export interface HopRecord {
  number: 1 | 2;
  from: string;
  to: string;
  chartVersion: string;
  revision: number;
  seconds: number;
  pins: [string, string][];
  /** The components in the order they rolled, with their rollout times (rollout-order: milvus). */
  order: StepRecord[] | undefined;
  added: Component[];
  removed: Component[];
}

export class Report {
  release = '';
  namespace = '';
  helmVersion = '';
  dryRun = false;
  before: Assessment | undefined;
  plan: Plan | undefined;
  hops: HopRecord[] = [];
  /** The hop under way, for the failure state. */
  current: Plan['hops'][number] | undefined;
  after: (Landing & { version: string; queue: MessageQueue }) | undefined;
  /** The release as Helm reported it when the run failed, for the outputs. */
  failedAt: ReleaseInfo | undefined;
  notes: string[] = [];
  failure: string | undefined;

  /** The state of the cluster in words, for a failure message: what is done and where it stands. */
  state(release: ReleaseInfo | undefined): string {
    const where = release
      ? `release at revision ${release.revision} (${release.status}, chart ${release.chartVersion})`
      : 'release state unknown (Helm could not be asked)';
    if (this.hops.length === 0 && !this.current) return `unchanged; ${where}.`;
    const done = this.hops.map((h) => `hop ${h.number} done (${h.to}, revision ${h.revision})`);
    const failed = this.current ? [`hop ${this.current.number} to ${this.current.to} failed`] : [];
    return `${[...done, ...failed].join('; ')}; ${where}.`;
  }

  setOutputs(): void {
    const before = this.before;
    if (this.helmVersion) core.setOutput('helm-version', this.helmVersion);
    if (!before) return;
    core.setOutput('previous-version', before.lowest);
    core.setOutput('message-queue', before.queue.queue);
    core.setOutput('milvus-version', this.after?.version ?? before.lowest);
    const release = this.failedAt ?? this.after?.release ?? before.release;
    core.setOutput('chart-version', release.chartVersion);
    core.setOutput('revision', String(release.revision));
    core.setOutput('upgraded', String(this.hops.length > 0));
    core.setOutput(
      'hops',
      JSON.stringify(
        this.hops.map(({ from, to, chartVersion, revision, seconds, order }) => ({
          from,
          to,
          chartVersion,
          revision,
          seconds,
          ...(order ? { order } : {}),
        })),
      ),
    );
    if (this.plan) {
      core.setOutput(
        'plan',
        JSON.stringify(
          this.plan.hops.map((h) => ({
            hop: h.number,
            from: h.from,
            to: h.to,
            chartVersion: h.chartVersion,
            resume: h.resume,
            reason: h.reason,
            pins: h.pins.map(([k, v]) => `${k}=${v}`),
            imagePins: h.imagePins.map(([k, v]) => `${k}=${v}`),
            args: ['helm', ...h.args],
            changes: h.changes,
          })),
        ),
      );
    }
  }

  headline(): string {
    const before = this.before;
    if (this.failure) return `❌ Upgrade of ${this.release} failed`;
    if (!before) return `Upgrade of ${this.release}`;
    if (this.dryRun) {
      const hops = this.plan?.hops.length ?? 0;
      return hops === 0
        ? `🔎 Dry run: ${this.release} is already at ${before.lowest}; nothing to do`
        : `🔎 Dry run: ${hops} hop(s) planned for ${this.release}; nothing was changed`;
    }
    if (this.hops.length === 0)
      return `✅ ${this.release} is already at ${before.lowest}; nothing to do`;
    const seconds = this.hops.reduce((sum, h) => sum + h.seconds, 0);
    if (this.plan?.hops[0]?.resume) {
      return `✅ ${this.release} finished an interrupted upgrade: now on ${this.after?.version} after ${this.hops.length} hop(s), ${seconds} s`;
    }
    return `✅ ${this.release} upgraded ${before.lowest} → ${this.after?.version} in ${this.hops.length} hop(s), ${seconds} s`;
  }

  async writeSummary(): Promise<void> {
    if (!process.env.GITHUB_STEP_SUMMARY) return;
    const s = core.summary.addHeading(this.headline(), 2);
    s.addRaw(
      `Release \`${this.release}\` in namespace \`${this.namespace}\`, Helm ${this.helmVersion || 'not installed'}.`,
      true,
    );
    if (this.failure) s.addCodeBlock(escapeHtml(this.failure));
    const before = this.before;
    if (before) {
      const after = this.after;
      const row = (name: string, was: string, now: string | undefined) => [name, was, now ?? '–'];
      s.addTable([
        [
          { data: '', header: true },
          { data: 'Before', header: true },
          { data: 'After', header: true },
        ],
        row('Milvus', before.versions.join(', '), after?.version),
        row('Chart', before.release.chartVersion, after?.release.chartVersion),
        row(
          'Revision',
          String(before.release.revision),
          after ? String(after.release.revision) : undefined,
        ),
        row('Status', before.release.status, after?.release.status),
        row('Components', before.components.join(', '), after?.components.join(', ')),
        row('Message queue', before.queue.queue, after?.queue),
      ]);
    }
    if (this.hops.length > 0) {
      s.addHeading('Hops', 3);
      s.addTable([
        [
          'Hop',
          'From → to',
          'Chart',
          'Revision',
          'Seconds',
          'Components',
          'Queue pins',
          'Order',
        ].map((data) => ({ data, header: true })),
        ...this.hops.map((h) => [
          String(h.number),
          `${h.from} → ${h.to}`,
          h.chartVersion,
          String(h.revision),
          String(h.seconds),
          [...h.added.map((c) => `+${c}`), ...h.removed.map((c) => `−${c}`)].join(' ') ||
            'unchanged',
          h.pins.map(([k, v]) => `${k}=${v}`).join(', ') || 'none',
          h.order?.map((step) => `${step.component} (${step.seconds} s)`).join(' → ') ||
            'all at once (Helm)',
        ]),
      ]);
    } else if (this.plan && this.plan.hops.length > 0) {
      s.addHeading('Plan', 3);
      s.addList(
        this.plan.hops.map(
          (h) => `Hop ${h.number}: ${h.from} → ${h.to} with chart ${h.chartVersion}: ${h.reason}`,
        ),
      );
    }
    if (this.dryRun && this.plan && this.plan.hops.length > 0) {
      s.addRaw(
        `Helm's server-side dry run rendered ${this.plan.hops.map((h) => `hop ${h.number}: ${h.objects.length} objects`).join(', ')}; each keeps the message queue and every dependency workload.`,
        true,
      );
    }
    if (this.plan && this.plan.hops.length > 0) {
      s.addHeading("What each hop changes (Helm's dry run)", 3);
      s.addTable([
        ['Hop', 'Part', 'Changes'].map((data) => ({ data, header: true })),
        ...this.plan.hops.flatMap((h) =>
          [true, false].map((milvus) => [
            String(h.number),
            milvus ? 'Milvus' : 'Dependencies',
            escapeHtml(
              describeChanges(h.changes.filter((c) => c.milvus === milvus)).join('<br>') ||
                'nothing',
            ).replace(/&lt;br&gt;/g, '<br>'),
          ]),
        ),
      ]);
    }
    if (this.notes.length > 0) {
      s.addHeading('Notes', 3);
      s.addList(this.notes);
    }
    await s.write();
  }
}

/** The summary is HTML: a message quoting `<…>` must show, not vanish into a tag. */
function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
