// Helm's failures as the action reports them: Helm's own words, cut short, and the next step.
/** Most of Helm's stderr an error keeps: enough for Helm's message, not a dump of a manifest. */
export const STDERR_LIMIT = 1500;

/** Helm's words when another operation holds the release (a second run, a person, a CD tool). */
const BUSY = /another operation \(install\/upgrade\/rollback\) is in progress|already exists/i;

/** Whether Helm failed because another operation holds the release. */
export function isBusy(error: unknown): boolean {
  return error instanceof HelmError && BUSY.test(error.stderr);
}

/**
 * A Helm command that exited non-zero (or could not start: exit code -1). The message names the
 * command, its exit code, the end of its stderr, and what to do next.
 */
export class HelmError extends Error {
  /** Helm's stderr, trimmed and cut to `STDERR_LIMIT` characters. */
  readonly stderr: string;

  constructor(subcommand: string, exitCode: number, stderr: string) {
    const trimmed = trimStderr(stderr);
    super(
      `helm ${subcommand} failed (exit code ${exitCode})${trimmed ? `: ${trimmed}` : ''}\n${hintFor(subcommand, trimmed)}`,
    );
    this.name = 'HelmError';
    this.stderr = trimmed;
  }
}

/** Keeps the end of stderr (where Helm prints `Error: …`), at most `STDERR_LIMIT` characters. */
export function trimStderr(stderr: string): string {
  const text = stderr.trim();
  if (text.length <= STDERR_LIMIT) return text;
  return `…${text.slice(text.length - STDERR_LIMIT + 1)}`;
}

function hintFor(subcommand: string, stderr: string): string {
  // The chart repository is not the cluster: its failures never point at the kubeconfig.
  if (/^(repo|search|registry|show)/.test(subcommand)) {
    const tls = /certificate|x509|tls:/i.test(stderr)
      ? ' For a private CA, set chart-ca-file to its PEM certificate.'
      : '';
    return `Check the chart-repository and chart-name inputs (and chart-username and chart-password, or credentials in the URL), and that the repository is reachable from the runner.${tls}`;
  }
  if (
    /cluster unreachable|connection refused|no such host|i\/o timeout|TLS handshake/i.test(stderr)
  )
    return 'Check the kubeconfig and kube-context inputs: the runner must be able to reach the cluster API server.';
  if (/Unauthorized|must be logged in|provide credentials/i.test(stderr))
    return 'The cluster rejected the credentials: refresh the kubeconfig (tokens in it may have expired).';
  if (/forbidden/i.test(stderr))
    return 'The kubeconfig user lacks permission for this: grant it rights to manage the release namespace (Secrets, Deployments, StatefulSets, Services, ConfigMaps, Jobs, Pods).';
  if (BUSY.test(stderr))
    return 'Another Helm operation holds the release: wait for it to finish (helm status shows it), then run the action again; do not roll back meanwhile.';
  if (/has no deployed releases/.test(stderr))
    return 'Helm has no deployed revision of this release: check release-name and namespace (helm list --all --namespace <ns>), and roll back a failed release to its last good revision first.';
  if (/timed out|context deadline exceeded/i.test(stderr))
    return 'The cluster did not become ready within the timeout: check the pods (kubectl get pods), then raise the timeout input or fix the cause and run the action again.';
  return `Run the same helm ${subcommand} command with --debug against the cluster to see more.`;
}
