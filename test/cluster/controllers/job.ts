// The Job controller: runs pods until `completions` succeed (Complete) or more than `backoffLimit`
// fail (Failed), honours activeDeadlineSeconds and ttlSecondsAfterFinished.
import type { StoreEvent } from '../store.ts';
import type { Condition, Pod, Workload } from '../types.ts';
import { timestamp } from '../util.ts';
import { type Context, type Controller, controllerOf, keyOf, splitKey } from './manager.ts';
import { createPod, deletePod, isActive, isPodReady, omitZero, writeStatus } from './pods.ts';

interface JobSpec {
  completions?: number | null;
  parallelism?: number;
  backoffLimit?: number;
  activeDeadlineSeconds?: number;
  ttlSecondsAfterFinished?: number;
  suspend?: boolean;
}

const finished = (conditions: Condition[]) =>
  conditions.some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');

export class JobController implements Controller {
  readonly name = 'job';
  readonly #ctx: Context;
  readonly #timers = new Map<string, NodeJS.Timeout>();

  constructor(ctx: Context) {
    this.#ctx = ctx;
  }

  onEvent(event: StoreEvent, enqueue: (key: string) => void): void {
    if (event.rt.kind === 'Job') {
      if (event.type === 'DELETED')
        this.#ctx.cancel(this.#timers.get(event.object.metadata.uid ?? ''));
      else enqueue(keyOf(event.object));
    }
    if (event.rt.kind === 'Pod') {
      const owner = controllerOf(event.object);
      if (owner?.kind === 'Job') enqueue(`${event.object.metadata.namespace}/${owner.name}`);
    }
  }

  reconcile(key: string): void {
    const [namespace, name] = splitKey(key);
    const job = this.#ctx.get('jobs', namespace, name) as Workload | undefined;
    if (!job || job.metadata.deletionTimestamp) return;
    const spec = job.spec as unknown as JobSpec & Workload['spec'];
    const status = { ...(job.status ?? {}) } as Record<string, unknown> & {
      conditions?: Condition[];
    };
    const conditions = [...(status.conditions ?? [])];
    const uid = job.metadata.uid ?? '';
    if (finished(conditions)) {
      this.#expire(key, job, spec, status);
      return;
    }
    const pods = this.#ctx.owned('pods', job) as Pod[];
    const succeeded = pods.filter((p) => p.status?.phase === 'Succeeded').length;
    const failed = pods.filter((p) => p.status?.phase === 'Failed').length;
    let active = pods.filter(isActive);
    const now = timestamp();
    const startTime = (status.startTime as string | undefined) ?? now;
    const completions = spec.completions ?? 1;
    const deadline = spec.activeDeadlineSeconds;
    const overdue = deadline !== undefined && Date.parse(startTime) + deadline * 1000 <= Date.now();
    const condition = (type: string, reason?: string, message?: string): Condition => ({
      type,
      status: 'True',
      lastProbeTime: now,
      lastTransitionTime: now,
      ...(reason ? { reason, message } : {}),
    });
    if (failed > (spec.backoffLimit ?? 6) || overdue) {
      for (const pod of active) deletePod(this.#ctx, pod);
      active = [];
      conditions.push(
        overdue
          ? condition('Failed', 'DeadlineExceeded', 'Job was active longer than specified deadline')
          : condition(
              'Failed',
              'BackoffLimitExceeded',
              'Job has reached the specified backoff limit',
            ),
      );
    } else if (succeeded >= completions) {
      conditions.push(condition('Complete'));
      status.completionTime = now;
    } else if (!spec.suspend) {
      const wanted = Math.min(spec.parallelism ?? 1, completions - succeeded) - active.length;
      for (let i = 0; i < wanted; i++) {
        const pod = createPod(
          this.#ctx,
          job,
          spec.template,
          { generateName: `${name}-` },
          {},
          'job-controller',
        );
        if (pod) active.push(pod);
      }
      if (deadline !== undefined && !this.#timers.has(uid)) {
        const ms = Date.parse(startTime) + deadline * 1000 - Date.now();
        this.#timers.set(
          uid,
          this.#ctx.after(Math.max(0, ms), () => this.#ctx.enqueue(this.name, key)),
        );
      }
    }
    const next = {
      ...(conditions.length ? { conditions } : {}),
      startTime,
      ...(status.completionTime ? { completionTime: status.completionTime } : {}),
      ...omitZero({ active: active.length, succeeded, failed }, ['active', 'succeeded', 'failed']),
      terminating: pods.filter((p) => p.metadata.deletionTimestamp).length,
      uncountedTerminatedPods: {},
      ready: active.filter(isPodReady).length,
    };
    writeStatus(this.#ctx, 'jobs', job, next);
    if (finished(conditions)) this.#expire(key, job, spec, next);
  }

  /** ttlSecondsAfterFinished: the finished Job (and, by propagation, its pods) is deleted. */
  #expire(key: string, job: Workload, spec: JobSpec, status: Record<string, unknown>): void {
    const ttl = spec.ttlSecondsAfterFinished;
    const uid = job.metadata.uid ?? '';
    if (ttl === undefined || this.#timers.has(`ttl:${uid}`)) return;
    const finishedAt = Date.parse(String(status.completionTime ?? timestamp()));
    const ms = Math.max(0, finishedAt + ttl * 1000 - Date.now());
    this.#timers.set(
      `ttl:${uid}`,
      this.#ctx.after(ms, () => {
        const [namespace, name] = key.split('/');
        const current = this.#ctx.get('jobs', namespace, name ?? '');
        if (current?.metadata.uid !== uid) return;
        this.#ctx.objects.delete(this.#ctx.rt('jobs'), namespace, name ?? '', {
          propagationPolicy: 'Background',
        });
      }),
    );
  }
}
