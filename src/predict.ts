// Helm decides, the action checks: before anything changes, every hop is run as a server-side
// dry run of its exact arguments, and what Helm would record and apply is read back. The pins
// that keep the message queue come from that answer, and a second dry run with the pins must
// show the same queue and every non-Milvus workload still there before a hop may run.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { dependencyImageChanges, imagePins, isMilvusWorkload, workloadChanges } from './changes.ts';
import { refusal } from './errors.ts';
import type { Helm } from './helm.ts';
import { upgradeArgs } from './helm-args.ts';
import type { DryRunRelease } from './helm-output.ts';
import { describeQueue, type Rendered, readManifest, type Workload } from './manifest.ts';
import type { Values } from './observed.ts';
import {
  type ArgsContext,
  type HopChoice,
  hopLabel,
  hopSets,
  type Plan,
  type PlannedHop,
  planHop,
} from './planner.ts';
import { keepQueue, readQueue } from './queue.ts';
import { mergeValues, valuesFromSets } from './values.ts';

/** A release as Helm has it or would have it: its computed values and what it renders. */
export interface ReleaseView {
  values: Values;
  rendered: Rendered;
}

export interface PredictContext extends ArgsContext {
  /** The user's values files (final hop only), with their parsed contents. */
  valuesFiles: { path: string; values: Values }[];
  /** The chart's `app.kubernetes.io/name` of the Milvus workloads (the rest are dependencies). */
  milvusName: string;
  /** Take the new chart's dependency images instead of keeping the ones that run. */
  upgradeDependencies: boolean;
  /** The API server's reason to refuse an update of a StatefulSet to `spec`, if it would. */
  refusedStatefulSetUpdate(
    name: string,
    spec: Record<string, unknown>,
  ): Promise<string | undefined>;
  /** The API server's report of a conflict that Helm's server-side apply of `object` would hit. */
  applyConflict(object: Record<string, unknown>): Promise<string | undefined>;
}

/** The release a dry run describes: Helm's recorded user values over the chart's defaults. */
export function viewOf(release: DryRunRelease): ReleaseView {
  return {
    values: mergeValues(release.chartValues, release.userValues),
    rendered: readManifest(release.manifest),
  };
}

/**
 * Refuses a hop whose dry run moves Milvus to another queue or drops a workload that is not
 * Milvus' own (etcd, MinIO, Pulsar, Kafka…): Helm would delete it and orphan its volumes.
 */
export function confirmKept(
  label: string,
  before: ReleaseView,
  after: ReleaseView,
  milvusName: string,
): void {
  const was = readQueue(before.values);
  const will = readQueue(after.values);
  if (was.queue !== will.queue) {
    throw refusal(
      `Helm's dry run of ${label} switches the message queue from ${was.queue ?? 'none'} to ${will.queue ?? 'none'} (${will.basis}), and pinning the chart switches cannot prevent it.`,
      'Check extraConfigFiles (mq.type) and the queue settings in your values; the queue must stay the same across the upgrade.',
    );
  }
  const wasQueue = before.rendered.queue;
  const willQueue = after.rendered.queue;
  if (wasQueue && willQueue && describeQueue(wasQueue) !== describeQueue(willQueue)) {
    throw refusal(
      `Helm's dry run of ${label} renders a Milvus config that points at ${describeQueue(willQueue)}, but the release points at ${describeQueue(wasQueue)}: the hop would switch Milvus to another message queue.`,
      'Check the queue settings in the release values and values-files (helm get values); the queue must stay the same across the upgrade.',
    );
  }
  const kept = new Set(after.rendered.workloads.map((w) => `${w.kind}/${w.name}`));
  // Helm deletes what the new manifest lacks: a dependency's workload, or a data volume's claim.
  const dropped = before.rendered.workloads
    .filter((w) => !isMilvusWorkload(w, milvusName) && !kept.has(`${w.kind}/${w.name}`))
    .map((w) => `${w.kind}/${w.name}`);
  const rendered = new Set(after.rendered.objects);
  const claims = before.rendered.objects.filter(
    (object) => object.startsWith('PersistentVolumeClaim/') && !rendered.has(object),
  );
  if (claims.length > 0) {
    throw refusal(
      `Helm's dry run of ${label} would delete ${claims.join(', ')}, and the data on ${claims.length > 1 ? 'them' : 'it'}.`,
      'Check the persistence settings in the release values and values-files; keep every volume across the upgrade.',
    );
  }
  if (dropped.length > 0) {
    throw refusal(
      `Helm's dry run of ${label} would delete ${dropped.join(', ')}, which ${dropped.length > 1 ? 'are' : 'is'} not part of Milvus; their data volumes would be orphaned.`,
      'Check the dependency settings (etcd, minio, pulsar, pulsarv3, kafka) in the release values and values-files; keep every dependency enabled across the upgrade.',
    );
  }
}

/**
 * Kubernetes forbids changing most of a StatefulSet's spec (its volume claim templates among
 * them): Helm would fail half-way through the hop. The API server judges every StatefulSet whose
 * rendered spec the hop changes, in a dry run, before anything changes.
 */
async function confirmUpdatable(
  label: string,
  before: ReleaseView,
  after: ReleaseView,
  ctx: PredictContext,
): Promise<void> {
  const spec = (w: Workload) => w.object.spec as Record<string, unknown>;
  const was = new Map(before.rendered.workloads.map((w) => [`${w.kind}/${w.name}`, spec(w)]));
  const changed = after.rendered.workloads.filter(
    (w) =>
      w.kind === 'StatefulSet' &&
      was.has(`${w.kind}/${w.name}`) &&
      JSON.stringify(spec(w)) !== JSON.stringify(was.get(`${w.kind}/${w.name}`)),
  );
  const refused = await Promise.all(
    changed.map(async (w) => {
      const reason = await ctx.refusedStatefulSetUpdate(w.name, spec(w) ?? {});
      return reason ? `StatefulSet/${w.name}: ${reason}` : undefined;
    }),
  );
  const reasons = refused.filter((r): r is string => r !== undefined);
  if (reasons.length > 0) {
    throw refusal(
      `${label} would change StatefulSet fields that Kubernetes forbids changing, so Helm would fail half-way: ${reasons.join('; ')}`,
      'Remove the change from values-files (volume claim templates, selectors and service names of StatefulSets cannot change in place), then re-run.',
    );
  }
}

/**
 * Helm 4 applies a release it installed server-side, and stops half-way at the first field
 * another manager owns with another value (a replica count set with `kubectl scale`). The API
 * server judges every Deployment and StatefulSet of the hop in a dry run, before anything changes.
 */
async function confirmApplicable(label: string, after: ReleaseView, ctx: PredictContext) {
  const workloads = after.rendered.workloads.filter((w) =>
    ['Deployment', 'StatefulSet'].includes(w.kind),
  );
  const conflicts = await Promise.all(
    workloads.map(async (w) => {
      const reason = await ctx.applyConflict(w.object);
      return reason ? `${w.kind}/${w.name}: ${reason}` : undefined;
    }),
  );
  const found = conflicts.filter((c): c is string => c !== undefined);
  if (found.length > 0) {
    throw refusal(
      `Helm applies this release server-side, and ${label} would stop half-way at fields changed outside Helm: ${found.join('; ')}`,
      'Set each such field to its current value in a values file (for a replica count changed with kubectl scale, for example queryNode.replicas), so Helm applies the same value, then re-run.',
    );
  }
}

/**
 * Asks Helm what one hop does with its arguments and the `--set`s of earlier hops of this run
 * (passed as a values file, where Helm layers them as the real hop's reused values would be),
 * pins the queue where Helm's answer moves it, and proves the pinned hop keeps it.
 */
async function predictHop(
  helm: Helm,
  choice: HopChoice,
  ctx: PredictContext,
  files: PredictContext['valuesFiles'],
  before: ReleaseView,
  earlier: string | undefined,
): Promise<{ hop: PlannedHop; after: ReleaseView }> {
  const label = hopLabel(choice);
  const paths = files.map((file) => file.path);
  const render = (pins: [string, string][]) =>
    helm.dryRun(
      upgradeArgs({
        ...ctx,
        chartVersion: choice.chartVersion,
        valuesFiles: earlier ? [earlier, ...paths] : paths,
        sets: [...hopSets(choice), ...pins],
        dryRun: true,
      }),
    );
  let release = await render([]);
  let after = viewOf(release);
  const { pins, notes } = keepQueue({
    hop: label,
    current: before.values,
    predicted: after.values,
    chartDefaults: release.chartValues,
    valuesFiles: mergeValues(...files.map((file) => file.values)),
  });
  const kept = ctx.upgradeDependencies
    ? { pins: [], unpinned: [] }
    : imagePins(
        dependencyImageChanges(workloadChanges(before.rendered, after.rendered, ctx.milvusName)),
      );
  if (kept.pins.length > 0) {
    notes.push(
      `${label}: keeping the dependencies on the images they run (${kept.pins.map(([k, v]) => `${k}=${v}`).join(', ')}); upgrade-dependencies: true takes the new chart's images.`,
    );
  }
  if (pins.length > 0 || kept.pins.length > 0) {
    release = await render([...pins, ...kept.pins]);
    after = viewOf(release);
  }
  confirmKept(label, before, after, ctx.milvusName);
  await confirmUpdatable(label, before, after, ctx);
  if (release.applyMethod === 'ssa') await confirmApplicable(label, after, ctx);
  const changes = workloadChanges(before.rendered, after.rendered, ctx.milvusName);
  const moved = ctx.upgradeDependencies ? [] : dependencyImageChanges(changes);
  if (moved.length > 0) {
    throw refusal(
      `Helm's dry run of ${label} changes the image of ${moved.map((m) => `${m.workload} (container ${m.container}: ${m.before} → ${m.after})`).join(', ')}, which the action cannot pin back.`,
      'Pin the image in a values file (values-files), or set upgrade-dependencies: true to take the new chart image on purpose.',
    );
  }
  const hop = planHop(choice, ctx, {
    valuesFiles: paths,
    pins,
    imagePins: kept.pins,
    notes,
    objects: after.rendered.objects,
    changes,
  });
  return { hop, after };
}

/**
 * Every hop, predicted by Helm before the first one runs. A later hop is rendered on top of the
 * earlier hops' `--set`s, which `--reset-then-reuse-values` will find recorded by then.
 */
export async function predictPlan(
  helm: Helm,
  choices: readonly HopChoice[],
  ctx: PredictContext,
  now: ReleaseView,
): Promise<{ plan: Plan; views: ReleaseView[] }> {
  const dir = await mkdtemp(join(process.env.RUNNER_TEMP || tmpdir(), 'milvus-upgrade-plan-'));
  try {
    const hops: PlannedHop[] = [];
    /** The release as Helm says it will be after each hop. */
    const views: ReleaseView[] = [];
    let before = now;
    let earlier: string | undefined;
    for (const [index, choice] of choices.entries()) {
      const files = index === choices.length - 1 ? ctx.valuesFiles : [];
      const predicted = await predictHop(helm, choice, ctx, files, before, earlier);
      hops.push(predicted.hop);
      views.push(predicted.after);
      before = predicted.after;
      earlier = join(dir, `after-hop-${choice.number}.yaml`);
      const sets = hops.flatMap((hop) => hop.sets);
      await writeFile(earlier, stringify(valuesFromSets(sets)), { mode: 0o600 });
    }
    return { plan: { hops, advisories: [] }, views };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Right before a hop that follows another of this run: Helm's dry run of its exact arguments
 * must need the very pins the plan has, or the cluster changed under the plan.
 */
export async function recheckHop(
  helm: Helm,
  hop: PlannedHop,
  ctx: PredictContext,
  now: ReleaseView,
): Promise<void> {
  const files = ctx.valuesFiles.filter((file) => hop.valuesFiles.includes(file.path));
  const { hop: again } = await predictHop(helm, hop, ctx, files, now, undefined);
  const planned = JSON.stringify([...hop.pins, ...hop.imagePins]);
  const needed = JSON.stringify([...again.pins, ...again.imagePins]);
  if (needed !== planned) {
    throw new Error(
      `Helm's dry run of ${hopLabel(hop)} now needs the pins ${needed}, not the planned ${planned}: the release changed while this run was upgrading it`,
    );
  }
}
