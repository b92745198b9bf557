// The pure planner: from the assessed cluster to the hops of the official procedure, each with
// its exact `helm upgrade` arguments. Which `--set`s keep the message queue is Helm's to say
// (predict.ts asks it with a dry run); the planner only lays the arguments out.
import type { Assessment, Targets } from './assess.ts';
import type { WorkloadChange } from './changes.ts';
import { upgradeArgs } from './helm-args.ts';
import { expectationOf } from './landing.ts';
import { type Component, type HopSpec, hopSpecs, LEGACY_COORDINATORS } from './milvus.ts';
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
  /** Every `--set`, in order: the image tag, the hop's own, the queue pins, the image pins. */
  sets: [string, string][];
  pins: [string, string][];
  valuesFiles: string[];
  /** The exact `helm upgrade` arguments. */
  args: string[];
  /** Milvus components a healthy cluster has after the hop, and those it must no longer have. */
  components: readonly Component[];
  removes: Component[];
  notes: string[];
  /** `Kind/name` of every object Helm's dry run of the hop rendered. */
  objects: string[];
  /** `--set`s that keep dependencies on the images they run (unless upgrade-dependencies). */
  imagePins: [string, string][];
  /** What the hop changes, workload by workload, as Helm's dry run renders it. */
  changes: WorkloadChange[];
}

export interface Plan {
  hops: PlannedHop[];
  /** Known problems of the versions the hops land on (warnings, never refusals). */
  advisories: string[];
}

/** The hops the cluster still needs, and why; none when it is already at the target. */
export function chooseHops(a: Assessment, t: Targets): HopChoice[] {
  const hops: HopChoice[] = [];
  let from = a.lowest;
  const separate = a.layout === 'separate';
  const standalone = a.layout === 'standalone';
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
      spec: hopSpecs(standalone)[1],
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
      spec: hopSpecs(standalone)[2],
      resume: a.stoppedHop === 2,
      reason:
        a.stoppedHop === 2
          ? `an earlier run stopped during hop 2 (release ${a.release.status} at revision ${a.release.revision}); running it again`
          : `the cluster is not yet on ${t.targetVersion} with the 2.6 components`,
    });
  }
  return hops;
}

/** What every hop's arguments share. */
export interface ArgsContext {
  release: string;
  namespace: string;
  /** `<repo>/<chart>` as added to the private Helm repository config, or `oci://…/<chart>`. */
  chartRef: string;
  /** The chart-ca-file input. */
  caFile?: string | undefined;
  helmMajor: 3 | 4;
  timeout: string;
}

/** The `--set`s a hop always carries: the image tag, then the hop's own flags. */
export function hopSets(choice: HopChoice): [string, string][] {
  return [
    ['image.all.tag', choice.to],
    ...choice.spec.sets.map(([key, value]): [string, string] => [key, value]),
  ];
}

/** The label of a hop in messages: `hop 1 (v2.5.16, chart 4.2.58)`. */
export function hopLabel(choice: HopChoice): string {
  return `hop ${choice.number} (${choice.to}, chart ${choice.chartVersion})`;
}

/** The exact `helm upgrade` arguments of a hop, with the pins Helm's dry run called for. */
export function planHop(
  choice: HopChoice,
  ctx: ArgsContext,
  keeping: Pick<PlannedHop, 'valuesFiles' | 'pins' | 'imagePins' | 'notes' | 'objects' | 'changes'>,
): PlannedHop {
  const sets = [...hopSets(choice), ...keeping.pins, ...keeping.imagePins];
  return {
    ...choice,
    sets,
    pins: keeping.pins,
    valuesFiles: keeping.valuesFiles,
    args: upgradeArgs({
      ...ctx,
      chartVersion: choice.chartVersion,
      valuesFiles: keeping.valuesFiles,
      sets,
      dryRun: false,
    }),
    components: choice.spec.components,
    removes: [...expectationOf(choice.spec, choice.to).removes],
    notes: keeping.notes,
    objects: keeping.objects,
    imagePins: keeping.imagePins,
    changes: keeping.changes,
  };
}
