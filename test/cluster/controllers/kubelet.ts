// A kubelet for one simulated node: binds pods to it, "pulls and starts" their containers after
// `rolloutMs`, makes them Ready, or keeps them unready when a fault selects them (crash loop,
// image pull back-off, failing readiness probe), runs Job pods to completion, and removes
// terminating pods after `terminationMs`.
import { createHash, randomBytes } from 'node:crypto';
import type { StoreEvent } from '../store.ts';
import type { Condition, Container, ContainerStatus, Pod } from '../types.ts';
import { timestamp } from '../util.ts';
import { type Context, type Controller, keyOf, splitKey } from './manager.ts';

export const NODE_NAME = 'test-node';
export const NODE_IP = '172.18.0.2';

/** What the pod's containers are doing, as its status shows it. */
type State =
  | 'creating'
  | 'running'
  | 'notReady'
  | 'crashing'
  | 'pullBackOff'
  | 'completed'
  | 'failed';
type Step = 'transition' | 'crash' | 'complete' | 'terminate';

function imageId(image: string | undefined): string {
  const name = (image ?? '').replace(/[:@].*$/, '');
  const repository = name.includes('/') ? name : `library/${name}`;
  const digest = createHash('sha256')
    .update(image ?? '')
    .digest('hex');
  return `docker.io/${repository}@sha256:${digest}`;
}

function setCondition(
  conditions: Condition[],
  type: string,
  status: boolean,
  reason?: string,
  message?: string,
): void {
  const value = status ? 'True' : 'False';
  const existing = conditions.find((c) => c.type === type);
  const next: Condition = {
    type,
    status: value,
    lastProbeTime: null,
    lastTransitionTime: existing?.status === value ? existing.lastTransitionTime : timestamp(),
    ...(reason ? { reason } : {}),
    ...(message ? { message } : {}),
  };
  if (existing) conditions.splice(conditions.indexOf(existing), 1, next);
  else conditions.push(next);
}

export function isPodReady(pod: Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

function stateOf(pod: Pod): State {
  const phase = pod.status?.phase;
  if (phase === 'Succeeded') return 'completed';
  if (phase === 'Failed') return 'failed';
  const container = pod.status?.containerStatuses?.[0];
  const waiting = (container?.state.waiting as { reason?: string } | undefined)?.reason;
  if (waiting === 'CrashLoopBackOff') return 'crashing';
  if (waiting === 'ImagePullBackOff') return 'pullBackOff';
  if (container?.state.running) return isPodReady(pod) ? 'running' : 'notReady';
  return 'creating';
}

export class Kubelet implements Controller {
  readonly name = 'kubelet';
  readonly #ctx: Context;
  readonly #steps = new Map<string, { step: Step; timer: NodeJS.Timeout }>();
  readonly #terminated = new Set<string>();
  #nextIp = 10;

  constructor(ctx: Context) {
    this.#ctx = ctx;
    ctx.faults.onUnreadyChange(() => {
      for (const pod of ctx.list('pods')) ctx.enqueue(this.name, keyOf(pod));
    });
  }

  onEvent(event: StoreEvent, enqueue: (key: string) => void): void {
    if (event.rt.kind !== 'Pod') return;
    const uid = event.object.metadata.uid ?? '';
    if (event.type === 'DELETED') {
      this.#ctx.cancel(this.#steps.get(uid)?.timer);
      this.#steps.delete(uid);
      this.#terminated.delete(uid);
      return;
    }
    enqueue(keyOf(event.object));
  }

  /** The state the pod is heading for, given the faults in force. */
  #target(pod: Pod): State {
    const reason = this.#ctx.faults.unreadyReason(pod.metadata.labels);
    if (reason === 'ImagePullBackOff') return 'pullBackOff';
    if (reason === 'NotReady') return 'notReady';
    if (reason === 'CrashLoopBackOff')
      return pod.spec.restartPolicy === 'Never' ? 'failed' : 'crashing';
    return 'running';
  }

  reconcile(key: string): void {
    const [namespace, name] = splitKey(key);
    const pod = this.#ctx.get('pods', namespace, name) as Pod | undefined;
    if (!pod) return;
    const uid = pod.metadata.uid ?? '';
    if (pod.metadata.deletionTimestamp) {
      if (this.#terminated.has(uid)) this.#remove(pod);
      else {
        const grace =
          pod.metadata.deletionGracePeriodSeconds === 0 ? 0 : this.#ctx.settings.terminationMs;
        this.#schedule(pod, 'terminate', grace);
      }
      return;
    }
    if (!pod.spec.nodeName) {
      this.#bind(pod);
      return;
    }
    const current = stateOf(pod);
    if (current === 'completed' || current === 'failed') return;
    const target = this.#target(pod);
    const { rolloutMs, crashLoopMs } = this.#ctx.settings;
    if (current === target) {
      if (target === 'crashing') this.#schedule(pod, 'crash', crashLoopMs);
      else if (target === 'running' && pod.spec.restartPolicy !== 'Always')
        this.#schedule(pod, 'complete', rolloutMs);
      else this.#cancel(uid);
    } else if (current === 'running' && target === 'pullBackOff') {
      this.#cancel(uid); // A running container has its image already.
    } else if (current === 'running' && (target === 'crashing' || target === 'notReady')) {
      this.#writeStatus(pod, target); // A running container starts failing at once.
    } else {
      this.#schedule(pod, 'transition', rolloutMs);
    }
  }

  #cancel(uid: string): void {
    this.#ctx.cancel(this.#steps.get(uid)?.timer);
    this.#steps.delete(uid);
  }

  /** Runs `step` after `ms`, unless that step is already pending for this pod. */
  #schedule(pod: Pod, step: Step, ms: number): void {
    const uid = pod.metadata.uid ?? '';
    const pending = this.#steps.get(uid);
    if (pending?.step === step) return;
    this.#ctx.cancel(pending?.timer);
    const timer = this.#ctx.after(ms, () => {
      this.#steps.delete(uid);
      const current = this.#ctx.get('pods', pod.metadata.namespace, pod.metadata.name ?? '') as
        | Pod
        | undefined;
      if (current?.metadata.uid === uid) this.#run(current, step);
    });
    this.#steps.set(uid, { step, timer });
  }

  #run(pod: Pod, step: Step): void {
    if (step === 'terminate') {
      this.#terminated.add(pod.metadata.uid ?? '');
      this.#remove(pod);
    } else if (step === 'complete') {
      this.#writeStatus(pod, 'completed');
    } else if (!pod.metadata.deletionTimestamp) {
      const target = this.#target(pod);
      if (step === 'transition' || target === 'crashing') this.#writeStatus(pod, target);
    }
  }

  #remove(pod: Pod): void {
    if (pod.metadata.finalizers?.length) return;
    this.#ctx.objects.store.remove(
      this.#ctx.rt('pods'),
      pod.metadata.namespace,
      pod.metadata.name ?? '',
    );
  }

  #bind(pod: Pod): void {
    pod.spec.nodeName = NODE_NAME;
    const conditions: Condition[] = [];
    setCondition(conditions, 'PodScheduled', true);
    pod.status = {
      ...pod.status,
      phase: 'Pending',
      conditions,
      hostIP: NODE_IP,
      hostIPs: [{ ip: NODE_IP }],
      startTime: timestamp(),
      containerStatuses: pod.spec.containers.map((c) =>
        this.#containerStatus(pod, c, undefined, 'creating'),
      ),
    };
    this.#ctx.objects.writeInternal(this.#ctx.rt('pods'), pod);
  }

  #containerStatus(
    pod: Pod,
    container: Container,
    previous: ContainerStatus | undefined,
    state: State,
  ): ContainerStatus {
    const now = timestamp();
    const startedAt =
      (previous?.state.running as { startedAt?: string } | undefined)?.startedAt ?? now;
    const pulled = state !== 'creating' && state !== 'pullBackOff';
    const base: ContainerStatus = {
      name: container.name,
      image: container.image ?? '',
      imageID: pulled ? imageId(container.image) : '',
      ready: state === 'running',
      started: state === 'running' || state === 'notReady',
      restartCount: previous?.restartCount ?? 0,
      state: {},
      lastState: previous?.lastState ?? {},
    };
    if (pulled)
      base.containerID = previous?.containerID ?? `containerd://${randomBytes(32).toString('hex')}`;
    switch (state) {
      case 'creating':
        base.state = { waiting: { reason: 'ContainerCreating' } };
        break;
      case 'pullBackOff':
        base.state = {
          waiting: {
            reason: 'ImagePullBackOff',
            message: `Back-off pulling image "${container.image}"`,
          },
        };
        break;
      case 'running':
      case 'notReady':
        base.state = { running: { startedAt } };
        break;
      case 'crashing':
        base.restartCount += 1;
        base.lastState = {
          terminated: {
            exitCode: 1,
            reason: 'Error',
            startedAt,
            finishedAt: now,
            containerID: base.containerID,
          },
        };
        base.state = {
          waiting: {
            reason: 'CrashLoopBackOff',
            message: `back-off 10s restarting failed container=${container.name} pod=${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})`,
          },
        };
        break;
      case 'completed':
      case 'failed':
        base.state = {
          terminated: {
            exitCode: state === 'completed' ? 0 : 1,
            reason: state === 'completed' ? 'Completed' : 'Error',
            startedAt,
            finishedAt: now,
            containerID: base.containerID,
          },
        };
        break;
    }
    return base;
  }

  #writeStatus(pod: Pod, state: State): void {
    const status = { ...pod.status };
    const previous = status.containerStatuses ?? [];
    status.containerStatuses = pod.spec.containers.map((c) =>
      this.#containerStatus(
        pod,
        c,
        previous.find((s) => s.name === c.name),
        state,
      ),
    );
    if (pod.spec.initContainers?.length && state !== 'pullBackOff') {
      status.initContainerStatuses = pod.spec.initContainers.map((c) => ({
        ...this.#containerStatus(pod, c, undefined, 'completed'),
        ready: true,
      }));
    }
    // Pods created already bound (DaemonSet pods) skip the scheduling step.
    status.hostIP ??= NODE_IP;
    status.hostIPs ??= [{ ip: NODE_IP }];
    status.startTime ??= timestamp();
    const finished = state === 'completed' || state === 'failed';
    const phases: Partial<Record<State, string>> = {
      completed: 'Succeeded',
      failed: 'Failed',
      pullBackOff: 'Pending',
    };
    status.phase = phases[state] ?? 'Running';
    if (!status.podIP && state !== 'pullBackOff') {
      const ip = `10.244.0.${(this.#nextIp++ % 240) + 10}`;
      status.podIP = ip;
      status.podIPs = [{ ip }];
    }
    const conditions = [...(status.conditions ?? [])];
    const ready = state === 'running';
    const names = pod.spec.containers.map((c) => c.name).join(' ');
    const reason = ready ? undefined : finished ? 'PodCompleted' : 'ContainersNotReady';
    const message = ready || finished ? undefined : `containers with unready status: [${names}]`;
    setCondition(conditions, 'PodReadyToStartContainers', !finished);
    setCondition(conditions, 'Initialized', true);
    setCondition(conditions, 'Ready', ready, reason, message);
    setCondition(conditions, 'ContainersReady', ready, reason, message);
    setCondition(conditions, 'PodScheduled', true);
    const order = [
      'PodReadyToStartContainers',
      'Initialized',
      'Ready',
      'ContainersReady',
      'PodScheduled',
    ];
    status.conditions = conditions.sort((a, b) => order.indexOf(a.type) - order.indexOf(b.type));
    this.#ctx.objects.update(
      this.#ctx.rt('pods'),
      pod.metadata.namespace,
      pod.metadata.name ?? '',
      { ...pod, status },
      { subresource: 'status' },
    );
    const first = pod.spec.containers[0];
    if (state === 'crashing') {
      this.#ctx.event(
        pod,
        'Warning',
        'BackOff',
        `Back-off restarting failed container ${first?.name} in pod ${pod.metadata.name}`,
        'kubelet',
      );
    } else if (state === 'pullBackOff') {
      this.#ctx.event(
        pod,
        'Warning',
        'Failed',
        `Error: ImagePullBackOff (image "${first?.image}")`,
        'kubelet',
      );
    } else if (state === 'notReady') {
      this.#ctx.event(
        pod,
        'Warning',
        'Unhealthy',
        'Readiness probe failed: HTTP probe failed with statuscode: 503',
        'kubelet',
      );
    }
  }
}
