/**
 * A failure the user can act on: what went wrong, the state the cluster is left in, and what to
 * do next. Every message the action fails with has these three parts.
 */
export class UpgradeError extends Error {
  readonly what: string;
  readonly state: string;
  readonly next: string;

  constructor(what: string, state: string, next: string) {
    super(`${what}\nCluster state: ${state}\nNext step: ${next}`);
    this.name = 'UpgradeError';
    this.what = what;
    this.state = state;
    this.next = next;
  }
}

/** The state of a cluster the action has only read. */
export const UNCHANGED = 'unchanged: the action has not modified anything.';

/** A refusal before anything changed: the cluster is as it was. */
export function refusal(what: string, next: string): UpgradeError {
  return new UpgradeError(what, UNCHANGED, next);
}
