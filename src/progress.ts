// The run's progress: a value main owns, filled in from what each step returns; the outputs, the
// summary and a failure's message are read from it.
import type { Assessment } from './assess.ts';
import type { Inventory, Problem } from './inventory.ts';
import type { Component, MessageQueue } from './milvus.ts';
import type { ReleaseInfo } from './observed.ts';
import type { Plan, PlannedHop } from './planner.ts';
import type { StepRecord } from './rollout.ts';
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

/** What Milvus itself answered (verify-milvus). */
export interface MilvusFindings {
  before: Inventory | undefined;
  after: Inventory | undefined;
  /** What it lost or broke: the run fails on any. */
  problems: Problem[];
  /** Statistics lower on a collection that is not loaded, which count(*) cannot confirm. */
  unconfirmed: Problem[];
}

/** The release as the last check found it. */
export type After = Landing & { version: string; queue: MessageQueue };

export interface Progress {
  release: string;
  namespace: string;
  helmVersion: string;
  dryRun: boolean;
  before: Assessment | undefined;
  plan: Plan | undefined;
  /** The hops this run completed, in order. */
  hops: HopRecord[];
  /** The hop under way. */
  current: PlannedHop | undefined;
  after: After | undefined;
  /** Undefined when verify-milvus is off. */
  milvus: MilvusFindings | undefined;
  /** The release as Helm reported it when the run failed, for the outputs. */
  failedAt: ReleaseInfo | undefined;
  notes: string[];
  failure: string | undefined;
}

export function newProgress(): Progress {
  return {
    release: '',
    namespace: '',
    helmVersion: '',
    dryRun: false,
    before: undefined,
    plan: undefined,
    hops: [],
    current: undefined,
    after: undefined,
    milvus: undefined,
    failedAt: undefined,
    notes: [],
    failure: undefined,
  };
}

/** The state of the cluster in words, for a failure message: what is done and where it stands. */
export function describeState(p: Progress, release: ReleaseInfo | undefined): string {
  const where = release
    ? `release at revision ${release.revision} (${release.status}, chart ${release.chartVersion})`
    : 'release state unknown (Helm could not be asked)';
  if (p.hops.length === 0 && !p.current) return `unchanged; ${where}.`;
  const done = p.hops.map((h) => `hop ${h.number} done (${h.to}, revision ${h.revision})`);
  const failed = p.current ? [`hop ${p.current.number} to ${p.current.to} failed`] : [];
  return `${[...done, ...failed].join('; ')}; ${where}.`;
}
