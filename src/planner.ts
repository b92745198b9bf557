// The pure planner: from the assessed cluster to the hops of the official procedure, each with
// its exact `helm upgrade` arguments and the `--set`s that keep the message queue.
import type { Assessment, Targets } from './assess.ts';
import { upgradeArgs } from './helm.ts';
import {
  ALL_COMPONENTS,
  type Component,
  HOP_TO_MIXCOORD,
  HOP_TO_STREAMING,
  type HopSpec,
  LEGACY_COORDINATORS,
} from './milvus.ts';
import { keepQueue } from './queue.ts';
import type { Values } from './state.ts';
import { mergeValues, valuesFromSets } from './values.ts';
import { compareVersions, series } from './versions.ts';

export interface HopChoice {
  number: 1 | 2;
  from: string;
  to: string;
  chartVersion: string;
  spec: HopSpec;
  /** An earlier run stopped during this hop; it runs again. */
  resume: boolean;
  reason: string;
}

export interface PlannedHop extends HopChoice {
  /** Every `--set`, in order: the image tag, the hop's own, then the queue pins. */
  sets: [string, string][];
  pins: [string, string][];
  valuesFiles: string[];
  /** The exact `helm upgrade` arguments. */
  args: string[];
  /** Milvus components a healthy cluster has after the hop, and those it must no longer have. */
  components: readonly Component[];
  removes: Component[];
  notes: string[];
}

export interface Plan {
  hops: PlannedHop[];
}

/** The hops the cluster still needs, and why; none when it is already at the target. */
export function chooseHops(a: Assessment, t: Targets): HopChoice[] {
  const hops: HopChoice[] = [];
  let from = a.lowest;
  const separate = a.layout === 'separate';
  const below = compareVersions(a.lowest, t.intermediateVersion) < 0;
  if (series(a.lowest) === '2.5' && (below || separate || a.stoppedHop === 1)) {
    // Never downgrade: a cluster past the intermediate version keeps its version on hop 1.
    const to = below ? t.intermediateVersion : a.highest;
    const why =
      a.stoppedHop === 1
        ? `an earlier run stopped during hop 1 (release ${a.release.status} at revision ${a.release.revision}); running it again`
        : [
            below ? `runs ${a.lowest}, below ${t.intermediateVersion}` : '',
            separate
              ? `still runs separate coordinators (${a.components.filter((c) => LEGACY_COORDINATORS.some((l) => l.component === c)).join(', ')})`
              : '',
          ]
            .filter(Boolean)
            .join(' and ');
    hops.push({
      number: 1,
      from,
      to,
      chartVersion: t.intermediateChartVersion,
      spec: HOP_TO_MIXCOORD,
      resume: a.stoppedHop === 1,
      reason: `the cluster ${why}`,
    });
    from = to;
  }
  if (!a.atTarget) {
    hops.push({
      number: 2,
      from,
      to: t.targetVersion,
      chartVersion: t.targetChartVersion,
      spec: HOP_TO_STREAMING,
      resume: a.stoppedHop === 2,
      reason:
        a.stoppedHop === 2
          ? `an earlier run stopped during hop 2 (release ${a.release.status} at revision ${a.release.revision}); running it again`
          : `the cluster is not yet on ${t.targetVersion} with the 2.6 components`,
    });
  }
  return hops;
}

export interface PlanContext {
  release: string;
  namespace: string;
  /** `<repo>/<chart>` as added to the private Helm repository config. */
  chartRef: string;
  helmMajor: 3 | 4;
  timeout: string;
  /** The user's values files (final hop only), with their parsed contents. */
  valuesFiles: { path: string; values: Values }[];
  /** `helm get values` and `helm get values --all` of the release now. */
  userValues: Values;
  computedValues: Values;
  /** `helm show values` of each chart version a hop uses. */
  chartDefaults: Readonly<Record<string, Values>>;
}

/**
 * Turns the chosen hops into exact Helm invocations. Each hop's outcome is predicted the way
 * `--reset-then-reuse-values` computes it (new chart defaults, then the user values the release
 * carries, then values files, then `--set`s), and the message queue is pinned where it would move.
 */
export function buildPlan(choices: readonly HopChoice[], ctx: PlanContext): Plan {
  let userValues = ctx.userValues;
  let current = ctx.computedValues;
  const hops = choices.map((choice, index): PlannedHop => {
    const final = index === choices.length - 1;
    const files = final ? ctx.valuesFiles : [];
    const fileValues = mergeValues(...files.map((file) => file.values));
    const defaults = ctx.chartDefaults[choice.chartVersion];
    if (!defaults) throw new Error(`No chart defaults for chart ${choice.chartVersion}`);
    const baseSets: [string, string][] = [
      ['image.all.tag', choice.to],
      ...choice.spec.sets.map(([key, value]): [string, string] => [key, value]),
    ];
    const predicted = mergeValues(defaults, userValues, fileValues, valuesFromSets(baseSets));
    const label = `hop ${choice.number} (${choice.to}, chart ${choice.chartVersion})`;
    const { pins, notes } = keepQueue({
      hop: label,
      current,
      predicted,
      chartDefaults: defaults,
      valuesFiles: fileValues,
    });
    const sets = [...baseSets, ...pins];
    userValues = mergeValues(userValues, valuesFromSets(sets));
    current = mergeValues(predicted, valuesFromSets(pins));
    return {
      ...choice,
      sets,
      pins,
      valuesFiles: files.map((file) => file.path),
      args: upgradeArgs({
        release: ctx.release,
        chartRef: ctx.chartRef,
        namespace: ctx.namespace,
        chartVersion: choice.chartVersion,
        valuesFiles: files.map((file) => file.path),
        sets,
        helmMajor: ctx.helmMajor,
        timeout: ctx.timeout,
        dryRun: false,
      }),
      components: choice.spec.components,
      removes: ALL_COMPONENTS.filter(
        (c) => c !== 'standalone' && !choice.spec.components.includes(c),
      ),
      notes,
    };
  });
  return { hops };
}
