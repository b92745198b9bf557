// KWOK Stages: what a kubelet and a storage provisioner would do, played against the real API
// server for the fake Nodes of a test cluster. KWOK applies a Stage to every object its selector
// matches, after its delay; the templates are Go templates with sprig. The Stages are Stage
// objects in the cluster (KWOK runs with --enable-crds=Stage), so tests change them at run time:
// pod timings, and faults that keep the pods of a label selector from becoming ready.
// Check a new selector by hand: KWOK 0.8 logs an expression that does not compile once, then
// panics on the next event.
import { parseLabelSelector } from './selectors.ts';

/** Annotation that marks a Node as KWOK's. */
export const FAKE_NODE_ANNOTATION = 'kwok.x-k8s.io/node';
/** StorageClass whose claims the Stages below provision. */
export const STORAGE_CLASS = 'kwok';
export const PROVISIONER = 'kwok.x-k8s.io/volume';

export type UnreadyReason = 'CrashLoopBackOff' | 'ImagePullBackOff' | 'NotReady';

export interface UnreadyFault {
  labelSelector: string;
  reason: UnreadyReason;
}

export interface StageOptions {
  /** Reported as the Nodes' kubelet version. */
  kubeVersion: string;
  /** How long a scheduled pod takes to become Ready (and a Job's pod to complete). */
  rolloutMs: number;
  /** Interval between the restarts of a crash-looping pod. */
  crashLoopMs: number;
  /** Remove terminating pods when their grace period ends (true) or at once (false). */
  honorGracePeriod: boolean;
  /** In force, first match wins. */
  faults: UnreadyFault[];
}

export interface Stage {
  apiVersion: 'kwok.x-k8s.io/v1alpha1';
  kind: 'Stage';
  metadata: { name: string };
  spec: Record<string, unknown>;
}

interface JqRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

/** CEL strings for scalar fields; JQ for list elements, whose types KWOK's CEL cannot resolve. */
function stage(
  name: string,
  kind: string,
  match: (string | JqRequirement)[],
  spec: Record<string, unknown>,
): Stage {
  const matchExpressions = match.map((m) =>
    typeof m === 'string' ? { cel: { expression: m } } : { jq: m },
  );
  return {
    apiVersion: 'kwok.x-k8s.io/v1alpha1',
    kind: 'Stage',
    metadata: { name },
    spec: { resourceRef: { apiGroup: 'v1', kind }, selector: { matchExpressions }, ...spec },
  };
}

/** A JQ boolean expression as a requirement. */
const holds = (expression: string): JqRequirement => ({
  key: expression,
  operator: 'In',
  values: ['true'],
});

const READY_STATUS = '.status.conditions.[] | select(.type == "Ready") | .status';
const READY: JqRequirement = { key: READY_STATUS, operator: 'In', values: ['True'] };
const NOT_READY: JqRequirement = { key: READY_STATUS, operator: 'NotIn', values: ['True'] };

// Pod states in JQ, combined into one boolean per Stage (matchExpressions can only AND).
const LIVE = '(.spec.nodeName != null and .metadata.deletionTimestamp == null)';
const IS_READY = '(any(.status.conditions[]?; .type == "Ready" and .status == "True"))';
const WAITING = '([.status.containerStatuses[]?.state.waiting.reason | select(. != null)] | first)';
const PENDING = '(.status.phase == "Pending")';
const RUNNING = '(.status.phase == "Running")';
const STARTING = `(${PENDING} or ${RUNNING})`;
const JOB_POD = '(any(.metadata.ownerReferences[]?; .kind == "Job"))';
const NEVER_RESTARTS = '(.spec.restartPolicy == "Never")';
const not = (expression: string) => `(${expression} | not)`;
const all = (...expressions: string[]) => `(${expressions.join(' and ')})`;

/** A label selector (`a=b,c in (d),!e`) as a JQ boolean over the object's labels. */
export function selectorJq(labelSelector: string): string {
  const requirements = parseLabelSelector(labelSelector);
  if (requirements.length === 0) return 'true';
  return all(
    ...requirements.map(({ key, operator, values }) => {
      const label = `.metadata.labels[${JSON.stringify(key)}]`;
      const anyOf = `(${values.map((v) => `${label} == ${JSON.stringify(v)}`).join(' or ')})`;
      if (operator === 'In') return anyOf;
      if (operator === 'NotIn') return not(anyOf);
      return `(${label} ${operator === 'Exists' ? '!=' : '=='} null)`;
    }),
  );
}

/** Node status as a healthy kubelet reports it; also the heartbeat (every condition renewed). */
function nodeStatus(kubeVersion: string): string {
  const condition = (type: string, status: string, reason: string) => `
- type: ${type}
  status: "${status}"
  reason: ${reason}
  lastHeartbeatTime: {{ $now }}
  lastTransitionTime: {{ $since }}`;
  return `{{ $now := Now | Quote }}
{{ $since := or .metadata.creationTimestamp Now | Quote }}
conditions:${[
    condition('Ready', 'True', 'KubeletReady'),
    condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory'),
    condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure'),
    condition('PIDPressure', 'False', 'KubeletHasSufficientPID'),
  ].join('')}
{{ with .status.addresses }}
addresses: {{ toJson . }}
{{ end }}
capacity: &resources
  cpu: "256"
  memory: 1Ti
  ephemeral-storage: 1Ti
  pods: "1000"
allocatable: *resources
nodeInfo:
  architecture: amd64
  operatingSystem: linux
  osImage: KWOK
  kernelVersion: kwok
  containerRuntimeVersion: kwok
  kubeletVersion: ${kubeVersion}
  kubeProxyVersion: ${kubeVersion}
  machineID: ""
  systemUUID: ""
  bootID: ""
phase: Running
`;
}

type PodState = 'running' | 'notReady' | 'crashing' | 'imagePullBackOff' | 'failed' | 'succeeded';

/** Container state and readiness per pod state; `{{ $restarts }}` is the container's count so far. */
const CONTAINER: Record<PodState, string> = {
  running: `ready: true
  started: true
  restartCount: {{ $restarts }}
  state:
    running:
      startedAt: {{ $now }}`,
  notReady: `ready: false
  started: true
  restartCount: {{ $restarts }}
  state:
    running:
      startedAt: {{ $now }}`,
  crashing: `ready: false
  started: false
  restartCount: {{ add $restarts 1 }}
  lastState:
    terminated:
      exitCode: 1
      reason: Error
      startedAt: {{ $now }}
      finishedAt: {{ $now }}
  state:
    waiting:
      reason: CrashLoopBackOff
      message: {{ printf "back-off 10s restarting failed container=%s pod=%s_%s(%s)" .name $.metadata.name $.metadata.namespace $.metadata.uid | Quote }}`,
  imagePullBackOff: `ready: false
  started: false
  restartCount: {{ $restarts }}
  state:
    waiting:
      reason: ImagePullBackOff
      message: {{ printf "Back-off pulling image %q" .image | Quote }}`,
  failed: `ready: false
  started: false
  restartCount: {{ $restarts }}
  state:
    terminated:
      exitCode: 1
      reason: Error
      startedAt: {{ $now }}
      finishedAt: {{ $now }}`,
  succeeded: `ready: false
  started: false
  restartCount: {{ $restarts }}
  state:
    terminated:
      exitCode: 0
      reason: Completed
      startedAt: {{ $now }}
      finishedAt: {{ $now }}`,
};

/**
 * Pod status as a kubelet reports it in `state`, at an address from KWOK's pod CIDR (taken once:
 * the patch is a strategic merge, which would add a second address to podIPs).
 */
function podStatus(state: PodState): string {
  const phase = { succeeded: 'Succeeded', failed: 'Failed', imagePullBackOff: 'Pending' }[
    state as string
  ];
  const ready = state === 'running';
  const finished = state === 'succeeded' || state === 'failed';
  const notReady = finished ? 'PodCompleted' : 'ContainersNotReady';
  const readiness = ready ? '' : `\n  reason: ${notReady}`;
  return `{{ $now := Now | Quote }}
{{ $statuses := .status.containerStatuses }}
phase: ${phase ?? 'Running'}
startTime: {{ or .status.startTime Now | Quote }}
conditions:
{{ range list "PodScheduled" "Initialized" }}
- type: {{ . }}
  status: "True"
  lastTransitionTime: {{ $now }}
{{ end }}
{{ range list "ContainersReady" "Ready" }}
- type: {{ . }}
  status: "${ready ? 'True' : 'False'}"${readiness}
  lastTransitionTime: {{ $now }}
{{ end }}
{{ range .spec.readinessGates }}
- type: {{ .conditionType | Quote }}
  status: "True"
  lastTransitionTime: {{ $now }}
{{ end }}
containerStatuses:
{{ range .spec.containers }}
{{ $name := .name }}
{{ $restarts := 0 }}
{{ range $statuses }}{{ if eq .name $name }}{{ $restarts = .restartCount }}{{ end }}{{ end }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  imageID: {{ printf "kwok://%s" .image | Quote }}
  ${CONTAINER[state]}
{{ end }}
initContainerStatuses:
{{ range .spec.initContainers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  ready: true
  restartCount: 0
  state:
    terminated:
      exitCode: 0
      reason: Completed
      startedAt: {{ $now }}
      finishedAt: {{ $now }}
{{ end }}
{{ if not .status.podIP }}
{{ with NodeIPsWith .spec.nodeName }}
hostIP: {{ index . 0 | Quote }}
{{ end }}
{{ with PodIPsWith .spec.nodeName (or .spec.hostNetwork false) .metadata.uid .metadata.name .metadata.namespace }}
podIP: {{ index . 0 | Quote }}
podIPs:
{{ range . }}
- ip: {{ . | Quote }}
{{ end }}
{{ end }}
{{ end }}
`;
}

/**
 * A PersistentVolume pre-bound to the claim; kube-controller-manager's PV controller then binds
 * the claim to it, as it does for a volume made by an external provisioner.
 */
const VOLUME_FOR_CLAIM = `apiVersion: v1
kind: PersistentVolume
metadata:
  name: pvc-{{ .metadata.uid }}
  annotations:
    pv.kubernetes.io/provisioned-by: ${PROVISIONER}
spec:
  storageClassName: {{ .spec.storageClassName | Quote }}
  accessModes: {{ toJson .spec.accessModes }}
  capacity:
    storage: {{ .spec.resources.requests.storage | Quote }}
  volumeMode: {{ default "Filesystem" .spec.volumeMode | Quote }}
  persistentVolumeReclaimPolicy: Delete
  claimRef:
    apiVersion: v1
    kind: PersistentVolumeClaim
    namespace: {{ .metadata.namespace | Quote }}
    name: {{ .metadata.name | Quote }}
    uid: {{ .metadata.uid | Quote }}
  hostPath:
    path: /kwok/volumes/pvc-{{ .metadata.uid }}
`;

const NOT_DELETING = '!has(self.metadata.deletionTimestamp)';
const after = (ms: number) => ({ delay: { durationMilliseconds: ms } });
const becomes = (state: PodState) => ({ next: { statusTemplate: podStatus(state) } });

/** The Stages that play each fault: a pod matched by an earlier fault is left to that one. */
function faultStages(faults: UnreadyFault[], crashLoopMs: number): Stage[] {
  const selectors = faults.map((fault) => selectorJq(fault.labelSelector));
  return faults.flatMap((fault, i) => {
    const mine = all(LIVE, selectors[i] ?? 'true', ...selectors.slice(0, i).map(not));
    const name = `fault-${i}`;
    const pod = (suffix: string, when: string, spec: Record<string, unknown>) =>
      stage(`${name}-${suffix}`, 'Pod', [holds(all(mine, when))], spec);
    if (fault.reason === 'NotReady') {
      // Running with readiness failing, from any other state at once.
      const notYet = `(${PENDING} or (${RUNNING} and (${IS_READY} or ${WAITING} != null)))`;
      return [pod('not-ready', notYet, becomes('notReady'))];
    }
    if (fault.reason === 'ImagePullBackOff') {
      const notYet = `(${STARTING} and ${WAITING} != "ImagePullBackOff")`;
      return [pod('image-pull', notYet, becomes('imagePullBackOff'))];
    }
    // CrashLoopBackOff: crashes at once, then again every crashLoopMs; a pod that never restarts
    // fails instead.
    const restarts = not(NEVER_RESTARTS);
    return [
      pod(
        'crash',
        all(STARTING, restarts, `${WAITING} != "CrashLoopBackOff"`),
        becomes('crashing'),
      ),
      pod('crash-again', all(RUNNING, restarts, `${WAITING} == "CrashLoopBackOff"`), {
        ...after(crashLoopMs),
        ...becomes('crashing'),
      }),
      pod('fail', all(STARTING, NEVER_RESTARTS), becomes('failed')),
    ];
  });
}

/** Every Stage for `options`; names are stable, so a change updates Stages in place. */
export function stages(options: StageOptions): Stage[] {
  const faulted = `(${options.faults.map((f) => selectorJq(f.labelSelector)).join(' or ') || 'false'})`;
  return [
    stage('node-ready', 'Node', [NOT_READY], {
      next: { statusTemplate: nodeStatus(options.kubeVersion) },
    }),
    // With --node-lease-duration-seconds KWOK renews the Node's Lease itself; this renews the
    // conditions' heartbeat, as a kubelet does when something changes or every few minutes.
    stage('node-heartbeat', 'Node', [READY], {
      delay: { durationMilliseconds: 60_000, jitterDurationMilliseconds: 70_000 },
      next: { statusTemplate: nodeStatus(options.kubeVersion) },
    }),
    // A new pod starts; a running one that is not ready (a fault was lifted) recovers.
    stage(
      'pod-ready',
      'Pod',
      [holds(all(LIVE, `(${PENDING} or (${RUNNING} and ${not(IS_READY)}))`, not(faulted)))],
      { ...after(options.rolloutMs), ...becomes('running') },
    ),
    stage('job-pod-complete', 'Pod', [holds(all(LIVE, RUNNING, IS_READY, JOB_POD, not(faulted)))], {
      ...after(options.rolloutMs),
      ...becomes('succeeded'),
    }),
    ...faultStages(options.faults, options.crashLoopMs),
    stage('pod-delete', 'Pod', ['has(self.metadata.deletionTimestamp)'], {
      // deletionTimestamp is when the grace period ends; KWOK reads a timestamp as "wait until".
      ...(options.honorGracePeriod && {
        delay: { durationFrom: { jq: { expression: '.metadata.deletionTimestamp' } } },
      }),
      next: { delete: true },
    }),
    stage(
      'claim-provision',
      'PersistentVolumeClaim',
      [
        NOT_DELETING,
        `has(self.spec.storageClassName) && self.spec.storageClassName == '${STORAGE_CLASS}'`,
        '!has(self.spec.volumeName)',
      ],
      { steps: [{ apply: { template: VOLUME_FOR_CLAIM } }] },
    ),
    // The PV controller leaves deleting a released volume to its provisioner: that is us.
    stage(
      'volume-delete',
      'PersistentVolume',
      [
        `has(self.spec.storageClassName) && self.spec.storageClassName == '${STORAGE_CLASS}'`,
        `has(self.status.phase) && self.status.phase == 'Released'`,
      ],
      { next: { delete: true } },
    ),
  ];
}

/** How a pod presents, in the terms of UnreadyReason; 'Ready', 'Done' or 'Other' otherwise. */
export function podCondition(pod: {
  metadata?: { deletionTimestamp?: string };
  status?: {
    phase?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { state?: { waiting?: { reason?: string } } }[];
  };
}): UnreadyReason | 'Ready' | 'Done' | 'Other' {
  const status = pod.status ?? {};
  if (status.phase === 'Succeeded' || status.phase === 'Failed') return 'Done';
  const waiting = status.containerStatuses?.find((c) => c.state?.waiting?.reason)?.state?.waiting
    ?.reason;
  if (waiting === 'CrashLoopBackOff' || waiting === 'ImagePullBackOff') return waiting;
  const ready = status.conditions?.find((c) => c.type === 'Ready')?.status;
  if (status.phase === 'Running') return ready === 'True' ? 'Ready' : 'NotReady';
  return 'Other';
}
