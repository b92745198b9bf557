// Builders for the pure tests: observed releases in the shapes the planner must handle.
import type { Targets } from '../../src/assess.ts';
import {
  type Component,
  DEFAULT_PATH,
  HOP_TO_MIXCOORD,
  HOP_TO_STREAMING,
  LEGACY_COORDINATORS,
} from '../../src/milvus.ts';
import type { DeploymentInfo, ObservedRelease, PodInfo, Values } from '../../src/observed.ts';
import { mergeValues } from '../../src/values.ts';

export const TARGETS: Targets = { chartName: 'milvus', ...DEFAULT_PATH };

export const LAYOUTS = {
  separate: [
    ...LEGACY_COORDINATORS.map(({ component }) => component),
    ...HOP_TO_MIXCOORD.components.filter((c) => c !== 'mixcoord'),
  ],
  mixcoord: HOP_TO_MIXCOORD.components,
  streaming: HOP_TO_STREAMING.components,
} satisfies Record<string, readonly Component[]>;

/** Computed values of a 2.5 release on a chart after the Pulsar v3 default flip. */
export const CHART_4_2_58: Values = {
  cluster: { enabled: true },
  image: { all: { repository: 'milvusdb/milvus', tag: 'v2.5.16' } },
  mixCoordinator: { enabled: true },
  streaming: { enabled: false },
  indexNode: { enabled: true },
  pulsar: { enabled: false },
  pulsarv3: { enabled: true },
  kafka: { enabled: false },
  woodpecker: { enabled: false },
  externalPulsar: { enabled: false, host: 'localhost', port: 6650 },
  externalKafka: { enabled: false, brokerList: 'localhost:9092' },
};

/** Chart 5.0.0's defaults (`helm show values`), as far as the planner reads them. */
export const CHART_5_0_0: Values = mergeValues(CHART_4_2_58, {
  image: { all: { tag: 'v2.6.0' } },
  streaming: { enabled: true },
  indexNode: { enabled: false },
});

/** Chart 4.2.20: before the flip, Pulsar v2 on by default and no pulsarv3 at all. */
export const CHART_4_2_20: Values = mergeValues(CHART_4_2_58, {
  image: { all: { tag: 'v2.5.4' } },
  pulsar: { enabled: true },
  pulsarv3: null,
});

/** User values of a release that hop 1 (or hop 2) of this action produced. */
export const HOP1_VALUES = {
  image: { all: { tag: 'v2.5.16' } },
  mixCoordinator: { enabled: true },
  rootCoordinator: { enabled: false },
  queryCoordinator: { enabled: false },
  dataCoordinator: { enabled: false },
  indexCoordinator: { enabled: false },
};
export const HOP2_VALUES = mergeValues(HOP1_VALUES, {
  image: { all: { tag: 'v2.6.4' } },
  streaming: { enabled: true },
  indexNode: { enabled: false },
});

export interface Shape {
  version?: string;
  /** Per-component versions, for clusters caught mid-rollout. */
  versions?: Partial<Record<Component, string>>;
  components?: readonly Component[];
  chartName?: string;
  chartVersion?: string;
  status?: string;
  description?: string;
  revision?: number;
  userValues?: Values;
  computedValues?: Values;
  /** The last deployed revision's computed values; default the computed values. */
  baselineValues?: Values;
  deployedRevision?: number;
  unready?: Component[];
  /** Paused Deployments; `held` ones were paused by the action for an ordered rollout. */
  paused?: { component: Component; held: boolean }[];
  extraPods?: PodInfo[];
  operator?: ObservedRelease['operator'];
  missing?: boolean;
}

export function pod(name: string, over: Partial<PodInfo> = {}): PodInfo {
  return {
    name,
    component: undefined,
    milvus: false,
    ready: true,
    phase: 'Running',
    reason: undefined,
    milvusImage: undefined,
    ...over,
  };
}

export function observed(shape: Shape = {}): ObservedRelease {
  const version = shape.version ?? 'v2.5.10';
  const components = shape.components ?? LAYOUTS.separate;
  const image = (c: Component) => `milvusdb/milvus:${shape.versions?.[c] ?? version}`;
  const deployments: DeploymentInfo[] = components.map((component) => ({
    name: `milvus-${component}`,
    component,
    replicas: 1,
    readyReplicas: 1,
    updatedReplicas: 1,
    availableReplicas: 1,
    generation: 1,
    observedGeneration: 1,
    images: [image(component)],
    paused: shape.paused?.some((p) => p.component === component) ?? false,
    heldFor: shape.paused?.some((p) => p.component === component && p.held)
      ? 'hop 2 (v2.6.4)'
      : undefined,
  }));
  const pods = components.map((component) =>
    pod(`milvus-${component}-abc`, {
      component,
      milvus: true,
      milvusImage: image(component),
      ready: !shape.unready?.includes(component),
      reason: shape.unready?.includes(component) ? 'CrashLoopBackOff' : undefined,
    }),
  );
  return {
    name: 'milvus',
    namespace: 'default',
    release: shape.missing
      ? undefined
      : {
          name: 'milvus',
          namespace: 'default',
          revision: shape.revision ?? 3,
          status: shape.status ?? 'deployed',
          description: shape.description,
          chartName: shape.chartName ?? 'milvus',
          chartVersion: shape.chartVersion ?? '4.2.30',
          appVersion: '2.5.10',
        },
    userValues: shape.userValues ?? {},
    computedValues: shape.computedValues ?? CHART_4_2_58,
    baseline: {
      values: shape.baselineValues ?? shape.computedValues ?? CHART_4_2_58,
      manifest: '',
    },
    deployedRevision:
      shape.deployedRevision ??
      ((shape.status ?? 'deployed') === 'deployed' ? (shape.revision ?? 3) : undefined),
    deployments,
    pods: [...pods, pod('milvus-etcd-0'), ...(shape.extraPods ?? [])],
    operator: shape.operator ?? [],
  };
}
