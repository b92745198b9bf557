// What the run did, as the step's outputs and the job summary: pure functions of the progress.
// Only versions, names, revisions and booleans go in here: never values or credentials.
import * as core from '@actions/core';
import { describeChanges } from './changes.ts';
import { describeProblem, inventoryJson, inventoryTable } from './inventory.ts';
import type { Progress } from './progress.ts';

export function setOutputs(p: Progress): void {
  const before = p.before;
  if (p.helmVersion) core.setOutput('helm-version', p.helmVersion);
  if (p.milvus?.before) core.setOutput('inventory', inventoryJson(p.milvus.before, p.milvus.after));
  if (!before) return;
  core.setOutput('previous-version', before.lowest);
  core.setOutput('message-queue', before.queue.queue);
  core.setOutput('milvus-version', p.after?.version ?? before.lowest);
  const release = p.failedAt ?? p.after?.release ?? before.release;
  core.setOutput('chart-version', release.chartVersion);
  core.setOutput('revision', String(release.revision));
  core.setOutput('upgraded', String(p.hops.length > 0));
  core.setOutput(
    'hops',
    JSON.stringify(
      p.hops.map(({ from, to, chartVersion, revision, seconds, order }) => ({
        from,
        to,
        chartVersion,
        revision,
        seconds,
        ...(order ? { order } : {}),
      })),
    ),
  );
  if (p.plan) {
    core.setOutput(
      'plan',
      JSON.stringify(
        p.plan.hops.map((h) => ({
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

export function headline(p: Progress): string {
  const before = p.before;
  if (p.failure) return `❌ Upgrade of ${p.release} failed`;
  if (!before) return `Upgrade of ${p.release}`;
  if (p.dryRun) {
    const hops = p.plan?.hops.length ?? 0;
    return hops === 0
      ? `🔎 Dry run: ${p.release} is already at ${before.lowest}; nothing to do`
      : `🔎 Dry run: ${hops} hop(s) planned for ${p.release}; nothing was changed`;
  }
  if (p.hops.length === 0) return `✅ ${p.release} is already at ${before.lowest}; nothing to do`;
  const seconds = p.hops.reduce((sum, h) => sum + h.seconds, 0);
  if (p.plan?.hops[0]?.resume) {
    return `✅ ${p.release} finished an interrupted upgrade: now on ${p.after?.version} after ${p.hops.length} hop(s), ${seconds} s`;
  }
  return `✅ ${p.release} upgraded ${before.lowest} → ${p.after?.version} in ${p.hops.length} hop(s), ${seconds} s`;
}

export async function writeSummary(p: Progress): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return;
  const s = core.summary.addHeading(headline(p), 2);
  s.addRaw(
    `Release \`${p.release}\` in namespace \`${p.namespace}\`, Helm ${p.helmVersion || 'not installed'}.`,
    true,
  );
  if (p.failure) s.addCodeBlock(escapeHtml(p.failure));
  const before = p.before;
  if (before) {
    const after = p.after;
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
  if (p.hops.length > 0) {
    s.addHeading('Hops', 3);
    s.addTable([
      ['Hop', 'From → to', 'Chart', 'Revision', 'Seconds', 'Components', 'Queue pins', 'Order'].map(
        (data) => ({ data, header: true }),
      ),
      ...p.hops.map((h) => [
        String(h.number),
        `${h.from} → ${h.to}`,
        h.chartVersion,
        String(h.revision),
        String(h.seconds),
        [...h.added.map((c) => `+${c}`), ...h.removed.map((c) => `−${c}`)].join(' ') || 'unchanged',
        h.pins.map(([k, v]) => `${k}=${v}`).join(', ') || 'none',
        h.order?.map((step) => `${step.component} (${step.seconds} s)`).join(' → ') ||
          'all at once (Helm)',
      ]),
    ]);
  } else if (p.plan && p.plan.hops.length > 0) {
    s.addHeading('Plan', 3);
    s.addList(
      p.plan.hops.map(
        (h) => `Hop ${h.number}: ${h.from} → ${h.to} with chart ${h.chartVersion}: ${h.reason}`,
      ),
    );
  }
  if (p.dryRun && p.plan && p.plan.hops.length > 0) {
    s.addRaw(
      `Helm's server-side dry run rendered ${p.plan.hops.map((h) => `hop ${h.number}: ${h.objects.length} objects`).join(', ')}; each keeps the message queue and every dependency workload.`,
      true,
    );
  }
  if (p.plan && p.plan.hops.length > 0) {
    s.addHeading("What each hop changes (Helm's dry run)", 3);
    s.addTable([
      ['Hop', 'Part', 'Changes'].map((data) => ({ data, header: true })),
      ...p.plan.hops.flatMap((h) =>
        [true, false].map((milvus) => [
          String(h.number),
          milvus ? 'Milvus' : 'Dependencies',
          escapeHtml(
            describeChanges(h.changes.filter((c) => c.milvus === milvus)).join('<br>') || 'nothing',
          ).replace(/&lt;br&gt;/g, '<br>'),
        ]),
      ),
    ]);
  }
  if (p.milvus?.before) {
    const { before: was, after: is, problems, unconfirmed } = p.milvus;
    s.addHeading(is ? 'Milvus data, before and after' : 'Milvus data before', 3);
    const [header = [], ...rows] = inventoryTable(was, is, problems);
    s.addTable([
      header.map((data) => ({ data, header: true })),
      ...rows.map((row) => row.map(escapeHtml)),
    ]);
    if (unconfirmed.length > 0) {
      s.addList(
        unconfirmed.map(
          (u) => `⚠️ ${describeProblem(u)}: not loaded, so count(*) cannot confirm a loss`,
        ),
      );
    }
  }
  if (p.notes.length > 0) {
    s.addHeading('Notes', 3);
    s.addList(p.notes);
  }
  await s.write();
}

/** The summary is HTML: a message quoting `<…>` must show, not vanish into a tag. */
function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
