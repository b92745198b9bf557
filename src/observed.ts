// What the action observes of a release before planning: plain data, filled in by inspect.ts
// from Helm and the Kubernetes API, read by the pure rules in assess.ts and planner.ts.
import type { Component } from './milvus.ts';

/** Helm values as parsed JSON/YAML. */
export type Values = Record<string, unknown>;

/** The latest revision of a Helm release, as `helm list`/`helm status` report it. */
export interface ReleaseInfo {
  name: string;
  namespace: string;
  revision: number;
  /** deployed, failed, pending-install, pending-upgrade, pending-rollback, superseded, … */
  status: string;
  chartName: string;
  chartVersion: string;
  appVersion: string;
  /** Helm's description of the revision (`helm status`), read when it is not deployed. */
  description?: string;
}

export interface DeploymentInfo {
  name: string;
  component: Component;
  replicas: number;
  readyReplicas: number;
  updatedReplicas: number;
  availableReplicas: number;
  generation: number;
  observedGeneration: number;
  /** Images of the container named after the component (the Milvus container). */
  images: string[];
  /** `spec.paused`: Kubernetes rolls nothing of it until it is resumed. */
  paused: boolean;
  /** Set when this action paused it for its turn in an ordered rollout (the hop, in words). */
  heldFor: string | undefined;
}

export interface PodInfo {
  name: string;
  /** The `component` label; for Milvus pods one of the Milvus components. */
  component: string | undefined;
  /** True for the pods of the Milvus chart itself, false for etcd, MinIO, Pulsar, Kafka… */
  milvus: boolean;
  ready: boolean;
  /** Pod phase, or `Terminating` once a deletion timestamp is set. */
  phase: string;
  /** Why the pod is not ready, when known (a waiting reason such as CrashLoopBackOff). */
  reason: string | undefined;
  /** Image of the Milvus container (named after the component); undefined for other pods. */
  milvusImage: string | undefined;
}

/** A Deployment of this cluster owned by the Milvus Operator rather than Helm. */
export interface OperatorSign {
  deployment: string;
  reason: string;
}

export interface ObservedRelease {
  /** The release name and namespace that were looked up. */
  name: string;
  namespace: string;
  /** Undefined when Helm has no release of that name in the namespace. */
  release: ReleaseInfo | undefined;
  /** `helm get values`: what the user supplied (and what earlier hops set). */
  userValues: Values;
  /** `helm get values --all`: the values the current revision was rendered with. */
  computedValues: Values;
  /**
   * What the next `--reset-then-reuse-values` starts from: the computed values and manifest of
   * the last deployed revision (of the latest one when none is deployed).
   */
  baseline: { values: Values; manifest: string };
  /** The last deployed revision, where a rollback returns to; undefined when none is. */
  deployedRevision: number | undefined;
  /** Milvus Deployments of the release (selected by name and instance labels). */
  deployments: DeploymentInfo[];
  /** Every pod of the release: Milvus and its dependencies. */
  pods: PodInfo[];
  operator: OperatorSign[];
}
