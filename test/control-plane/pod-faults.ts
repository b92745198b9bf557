// Pods that never become ready, played by KWOK: the Stages of ./stages.ts are Stage objects in
// the cluster, and a fault rewrites them. KWOK applies Stages when a pod changes, so the pods a
// fault newly selects (or releases) are touched with an annotation; that makes running pods fail
// (or recover) at once. The calls resolve once every affected pod shows the change.

import type { Api, ClusterObjects, KubeObject } from './api.ts';
import { matchesLabels, parseLabelSelector } from './selectors.ts';
import {
  podCondition,
  type Stage,
  type StageOptions,
  stages,
  type UnreadyReason,
} from './stages.ts';

const STAGES = '/apis/kwok.x-k8s.io/v1alpha1/stages';
/** Annotation whose change makes KWOK look at a pod again. */
const TOUCH = 'control-plane.test/stage-sync';

export class PodFaults {
  readonly #api: Api;
  readonly #store: ClusterObjects;
  readonly #options: StageOptions;
  /** What each Stage was last written as, by name. */
  readonly #written = new Map<string, string>();
  #touches = 0;

  constructor(api: Api, store: ClusterObjects, options: StageOptions) {
    this.#api = api;
    this.#store = store;
    this.#options = { ...options, faults: [...options.faults] };
  }

  /**
   * Deletes, creates and updates Stage objects to match the options. Stale ones go first: a pod
   * that an old fault Stage and the updated pod-ready Stage both matched would flip between them.
   */
  async sync(): Promise<void> {
    const wanted = stages(this.#options);
    const names = new Set(wanted.map((s) => s.metadata.name));
    for (const name of [...this.#written.keys()].filter((n) => !names.has(n))) {
      await this.#api('DELETE', `${STAGES}/${name}`);
      this.#written.delete(name);
    }
    for (const stage of wanted) {
      const json = JSON.stringify(stage);
      if (this.#written.get(stage.metadata.name) === json) continue;
      await this.#apply(stage);
      this.#written.set(stage.metadata.name, json);
    }
  }

  async setRolloutMs(ms: number): Promise<void> {
    this.#options.rolloutMs = ms;
    await this.sync();
  }

  /** Pods matching `labelSelector` stop being ready, now and when created later. */
  async unready(labelSelector: string, reason: UnreadyReason = 'CrashLoopBackOff'): Promise<void> {
    parseLabelSelector(labelSelector); // Throws on a bad selector before anything changes.
    this.#options.faults.push({ labelSelector, reason });
    await this.sync();
    await this.#settle(labelSelector);
  }

  /** Lifts every fault; the pods they held recover as new pods do (after rolloutMs). */
  async clearUnready(): Promise<void> {
    const selectors = this.#options.faults.map((f) => f.labelSelector);
    if (selectors.length === 0) return;
    this.#options.faults = [];
    await this.sync();
    for (const selector of selectors) await this.#settle(selector);
  }

  /** What a pod should present as, given the faults in force. */
  #expected(pod: KubeObject): UnreadyReason | 'Ready' {
    const labels = pod.metadata.labels;
    const fault = this.#options.faults.find((f) =>
      matchesLabels(labels, parseLabelSelector(f.labelSelector)),
    );
    return fault?.reason ?? 'Ready';
  }

  /** Touches the live pods `labelSelector` selects until each shows what the faults say. */
  async #settle(labelSelector: string): Promise<void> {
    const deadline = Date.now() + 15_000 + this.#options.rolloutMs;
    for (let round = 0; ; round++) {
      const pods = (await this.#store.list('pods', { labelSelector })).filter(
        (pod) => !pod.metadata.deletionTimestamp && (pod.spec as { nodeName?: string }).nodeName,
      );
      const behind = pods.filter((pod) => {
        const now = podCondition(pod as never);
        // A pod that crashed out (restartPolicy Never) stays failed, as on a real node.
        return now !== 'Done' && now !== this.#expected(pod);
      });
      if (behind.length === 0) return;
      if (Date.now() > deadline) {
        const names = behind.map((p) => `${p.metadata.namespace}/${p.metadata.name}`);
        throw new Error(`pods did not follow the fault change: ${names.join(', ')}`);
      }
      // KWOK may see the touch before the new Stages: touch again every 10 rounds (1 s).
      if (round % 10 === 0) {
        const value = String(++this.#touches);
        await Promise.all(
          behind.map(
            (pod) =>
              this.#api(
                'PATCH',
                `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}`,
                { metadata: { annotations: { [TOUCH]: value } } },
                'application/merge-patch+json',
              ).catch(() => {}), // Deleted meanwhile.
          ),
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async #apply(stage: Stage): Promise<void> {
    const query = 'fieldManager=control-plane-harness&force=true&fieldValidation=Strict';
    await this.#api(
      'PATCH',
      `${STAGES}/${stage.metadata.name}?${query}`,
      stage,
      'application/apply-patch+yaml',
    );
  }
}
