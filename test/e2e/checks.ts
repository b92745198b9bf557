// What the end-to-end tests assert after a run of the bundled action: the cluster read back
// through the Kubernetes API with client-node (Helm's release records decoded from their
// Secrets), the outputs, the job summary, the log, and that no secret leaked anywhere.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import {
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  type V1Deployment,
  type V1Pod,
} from '@kubernetes/client-node';
import {
  type ActionRun,
  type Cluster,
  type RunOptions,
  runAction,
  type World,
} from '../support/harness.ts';
import { fixtureSecretNeedles } from '../support/milvus-release.ts';
import { ROOT } from '../support/paths.ts';

export const RELEASE = 'my-milvus';
export const TARGET_IMAGE = 'milvusdb/milvus:v2.6.4';
/** The Milvus components of a 2.6 cluster, sorted. */
export const COMPONENTS_26 = ['datanode', 'mixcoord', 'proxy', 'querynode', 'streamingnode'];

export interface Where {
  release?: string;
  namespace?: string;
}

const where = (w: Where = {}) => ({
  release: w.release ?? RELEASE,
  namespace: w.namespace ?? 'default',
});

interface Api {
  core: CoreV1Api;
  apps: AppsV1Api;
}
const apis = new WeakMap<World<Cluster>, Api>();

/** client-node clients for the world's cluster, from the same kubeconfig the action gets. */
export function api(world: World<Cluster>): Api {
  let found = apis.get(world);
  if (!found) {
    const config = new KubeConfig();
    config.loadFromString(world.cluster.kubeconfigYaml);
    found = { core: config.makeApiClient(CoreV1Api), apps: config.makeApiClient(AppsV1Api) };
    apis.set(world, found);
  }
  return found;
}

/** One revision of a release as Helm stored it. */
export interface ReleaseRecord {
  revision: number;
  status: string;
  chartName: string;
  chartVersion: string;
  /** The user-supplied values of this revision. */
  config: Record<string, unknown>;
  /** The Secret's resourceVersion, to tell a record was not rewritten. */
  resourceVersion: string;
}

/** Every stored revision of the release, oldest first, read from its Secrets. */
export async function releaseRecords(
  world: World<Cluster>,
  w: Where = {},
): Promise<ReleaseRecord[]> {
  const { release, namespace } = where(w);
  const list = await api(world).core.listNamespacedSecret({
    namespace,
    labelSelector: `owner=helm,name=${release}`,
  });
  return list.items
    .map((secret) => {
      const encoded = Buffer.from(secret.data?.release ?? '', 'base64').toString();
      const record = JSON.parse(gunzipSync(Buffer.from(encoded, 'base64')).toString()) as {
        version: number;
        info: { status: string };
        chart: { metadata: { name: string; version: string } };
        config?: Record<string, unknown>;
      };
      assert.equal(secret.metadata?.labels?.status, record.info.status, 'label and record agree');
      return {
        revision: record.version,
        status: record.info.status,
        chartName: record.chart.metadata.name,
        chartVersion: record.chart.metadata.version,
        config: record.config ?? {},
        resourceVersion: secret.metadata?.resourceVersion ?? '',
      };
    })
    .sort((a, b) => a.revision - b.revision);
}

export async function latestRecord(world: World<Cluster>, w: Where = {}): Promise<ReleaseRecord> {
  const records = await releaseRecords(world, w);
  const last = records.at(-1);
  assert.ok(last, `no release records of ${where(w).release}`);
  return last;
}

/** The release's records must be exactly as they were: no new revision, none rewritten. */
export async function assertRecordsUnchanged(
  world: World<Cluster>,
  before: ReleaseRecord[],
  w: Where = {},
): Promise<void> {
  const now = await releaseRecords(world, w);
  assert.deepEqual(
    now.map((r) => [r.revision, r.status, r.resourceVersion]),
    before.map((r) => [r.revision, r.status, r.resourceVersion]),
    'the release records changed',
  );
}

function milvusSelector(w: Where = {}): string {
  return `app.kubernetes.io/instance=${where(w).release},app.kubernetes.io/name=milvus`;
}

export async function milvusDeployments(
  world: World<Cluster>,
  w: Where = {},
): Promise<V1Deployment[]> {
  const list = await api(world).apps.listNamespacedDeployment({
    namespace: where(w).namespace,
    labelSelector: milvusSelector(w),
  });
  return list.items;
}

/** The Milvus pods of the release that are not on their way out. */
export async function milvusPods(world: World<Cluster>, w: Where = {}): Promise<V1Pod[]> {
  const list = await api(world).core.listNamespacedPod({
    namespace: where(w).namespace,
    labelSelector: milvusSelector(w),
  });
  return list.items.filter((pod) => !pod.metadata?.deletionTimestamp);
}

const isReady = (pod: V1Pod) =>
  pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

/** Names (and uids) of the objects of some kinds in a namespace, to compare before and after. */
export async function objectUids(
  world: World<Cluster>,
  namespace: string,
): Promise<Record<string, string>> {
  const { core, apps } = api(world);
  const [statefulSets, services, configMaps, claims] = await Promise.all([
    apps.listNamespacedStatefulSet({ namespace }),
    core.listNamespacedService({ namespace }),
    core.listNamespacedConfigMap({ namespace }),
    core.listNamespacedPersistentVolumeClaim({ namespace }),
  ]);
  const entries: [string, string][] = [];
  for (const [kind, list] of [
    ['StatefulSet', statefulSets],
    ['Service', services],
    ['ConfigMap', configMaps],
    ['PersistentVolumeClaim', claims],
  ] as const) {
    for (const item of list.items) {
      entries.push([`${kind}/${item.metadata?.name}`, item.metadata?.uid ?? '']);
    }
  }
  return Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * The release is a healthy 2.6.4 cluster at `revision`: deployed with chart 5.0.0, exactly the
 * 2.6 components, every Deployment rolled out, every Milvus container and pod at v2.6.4.
 */
export async function assertAt264(
  world: World<Cluster>,
  revision: number,
  w: Where = {},
): Promise<void> {
  const last = await latestRecord(world, w);
  assert.deepEqual(
    [last.revision, last.status, last.chartName, last.chartVersion],
    [revision, 'deployed', 'milvus', '5.0.0'],
    'the release is deployed at the expected revision with chart 5.0.0',
  );

  const deployments = await milvusDeployments(world, w);
  const components = deployments.map((d) => d.metadata?.labels?.component ?? '').sort();
  assert.deepEqual(components, COMPONENTS_26, 'exactly the 2.6 components');
  for (const d of deployments) {
    const name = d.metadata?.name;
    const containers = d.spec?.template.spec?.containers ?? [];
    const milvus = containers.filter((c) => c.image?.startsWith('milvusdb/milvus'));
    assert.ok(milvus.length > 0, `${name} runs a Milvus container`);
    for (const c of milvus) assert.equal(c.image, TARGET_IMAGE, `${name}/${c.name} image`);
    const replicas = d.spec?.replicas ?? 1;
    assert.equal(d.status?.observedGeneration, d.metadata?.generation, `${name} observed`);
    assert.equal(d.status?.updatedReplicas, replicas, `${name} updated`);
    assert.equal(d.status?.readyReplicas, replicas, `${name} ready`);
  }

  const pods = await milvusPods(world, w);
  assert.deepEqual(
    [...new Set(pods.map((p) => p.metadata?.labels?.component ?? ''))].sort(),
    COMPONENTS_26,
    'pods of exactly the 2.6 components',
  );
  for (const pod of pods) {
    const name = pod.metadata?.name;
    assert.ok(isReady(pod), `${name} is ready`);
    for (const c of pod.spec?.containers ?? []) {
      if (c.image?.startsWith('milvusdb/milvus')) assert.equal(c.image, TARGET_IMAGE, `${name}`);
    }
  }
}

/** The log with `::debug::` lines left out, as a user sees it without step debugging. */
export function log(run: ActionRun): string {
  return run.stdout
    .split('\n')
    .filter((line) => !line.startsWith('::debug::'))
    .join('\n');
}

/** The message the action failed with (`::error::`), unescaped. */
export function failure(run: ActionRun): string {
  const line = run.stdout.split('\n').find((l) => l.startsWith('::error::'));
  assert.ok(line, `the run printed no ::error:: line:\n${tail(run)}`);
  return line
    .slice('::error::'.length)
    .replace(/%0A/g, '\n')
    .replace(/%0D/g, '\r')
    .replace(/%25/g, '%');
}

/** The end of the log, for assertion messages. */
export function tail(run: ActionRun, chars = 4000): string {
  return `exit ${run.exitCode}\n${log(run).slice(-chars)}\n${run.stderr.slice(-chars)}`;
}

export function assertSucceeded(run: ActionRun): void {
  assert.equal(run.exitCode, 0, tail(run));
}

/**
 * A refusal before anything changed: exit code 1, a message that says what, that the cluster
 * is unchanged, and the next step; the same message in the job summary.
 */
export function assertRefused(run: ActionRun, what: RegExp, next: RegExp): string {
  assert.equal(run.exitCode, 1, tail(run));
  const message = failure(run);
  const [whatPart, rest] = message.split('\nCluster state: ');
  assert.match(whatPart ?? '', what);
  assert.match(rest ?? '', /^unchanged: the action has not modified anything\.\nNext step: /);
  assert.match(rest?.split('\nNext step: ')[1] ?? '', next);
  assert.match(run.summary, /<h2>❌ Upgrade of [^<]+ failed<\/h2>/);
  assert.ok(
    run.summary.includes(escapeHtml(whatPart ?? '')) || run.summary.includes(whatPart ?? ''),
  );
  return message;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A `<tr>` of the job summary with exactly these cells. */
export function summaryRow(cells: (string | RegExp)[]): RegExp {
  const literal = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const tds = cells.map((c) => `<td>${typeof c === 'string' ? literal(c) : c.source}</td>`);
  return new RegExp(`<tr>${tds.join('')}</tr>`);
}

export interface Outputs {
  hops: {
    from: string;
    to: string;
    chartVersion: string;
    revision: number;
    seconds: number;
    order?: { component: string; seconds: number }[];
  }[];
  plan: {
    hop: number;
    from: string;
    to: string;
    chartVersion: string;
    resume: boolean;
    reason: string;
    pins: string[];
    imagePins: string[];
    args: string[];
    changes: { workload: string; milvus: boolean; change: string; fields: unknown[] }[];
  }[];
}

export function jsonOutputs(run: ActionRun): Outputs {
  return {
    hops: JSON.parse(run.outputs.hops ?? 'null'),
    plan: JSON.parse(run.outputs.plan ?? 'null'),
  };
}

/** The exact `helm upgrade` arguments the official procedure gives for a hop. */
export function hopArgs(
  hop: 1 | 2,
  options: { helmMajor?: 3 | 4; timeout?: string; namespace?: string; extra?: string[] } = {},
): string[] {
  const sets =
    hop === 1
      ? [
          'image.all.tag=v2.5.16',
          'mixCoordinator.enabled=true',
          'rootCoordinator.enabled=false',
          'queryCoordinator.enabled=false',
          'dataCoordinator.enabled=false',
          'indexCoordinator.enabled=false',
        ]
      : ['image.all.tag=v2.6.4', 'streaming.enabled=true', 'indexNode.enabled=false'];
  return [
    'helm',
    'upgrade',
    RELEASE,
    'zilliztech/milvus',
    '--namespace',
    options.namespace ?? 'default',
    '--version',
    hop === 1 ? '4.2.58' : '5.0.0',
    '--reset-then-reuse-values',
    ...[...sets, ...(options.extra ?? [])].flatMap((set) => ['--set', set]),
    options.helmMajor === 4 ? '--wait=watcher' : '--wait',
    '--timeout',
    options.timeout ?? '1m',
  ];
}

/** Every image of the workloads that are not Milvus' own (etcd, MinIO, Pulsar, Kafka…). */
export async function dependencyImages(
  world: World<Cluster>,
  w: Where = {},
): Promise<Record<string, string[]>> {
  const { apps } = api(world);
  const namespace = w.namespace ?? 'default';
  const [sets, deployments] = await Promise.all([
    apps.listNamespacedStatefulSet({ namespace }),
    apps.listNamespacedDeployment({ namespace }),
  ]);
  const entries = [...sets.items, ...deployments.items]
    .filter((item) => item.metadata?.labels?.['app.kubernetes.io/name'] !== 'milvus')
    .map((item): [string, string[]] => [
      `${item.kind ?? ''}${item.metadata?.name}`,
      (item.spec?.template.spec?.containers ?? []).map((c) => `${c.name}=${c.image}`),
    ]);
  return Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * Nothing secret in what a run shows: not the kubeconfig's bearer token, not the credentials in
 * the release values (verbatim or base64). The token may appear only in the `::add-mask::`
 * command that tells the runner to hide it; `masked` says that command must be there.
 */
export function assertNoSecrets(world: World<Cluster>, run: ActionRun, masked: boolean): void {
  const token = world.cluster.token;
  const lines = run.stdout.split('\n');
  const maskLines = lines.filter((line) => line.startsWith('::add-mask::'));
  if (masked) {
    assert.ok(
      maskLines.some((line) => line === `::add-mask::${token}`),
      'the kubeconfig token is registered as a secret with the runner',
    );
  }
  const shown = {
    log: lines.filter((line) => !line.startsWith('::add-mask::')).join('\n'),
    stderr: run.stderr,
    outputs: JSON.stringify(run.outputs),
    summary: run.summary,
  };
  const needles: [string, string][] = [
    ['the kubeconfig token', token],
    ...fixtureSecretNeedles().map((n, i): [string, string] => [`release secret #${i}`, n]),
  ];
  for (const [place, text] of Object.entries(shown)) {
    for (const [what, needle] of needles) {
      assert.ok(!text.includes(needle), `${what} appears in the ${place}`);
    }
  }
}

/**
 * Runs the action and checks, for every run, that it shows no secret. `masked: false` for runs
 * that stop before the kubeconfig is read (bad inputs, a Helm download refused).
 */
export async function act(
  world: World<Cluster>,
  inputs: Record<string, string> = {},
  options: RunOptions & { masked?: boolean } = {},
): Promise<ActionRun> {
  const jobs = jobDirs(world);
  const run = await runAction(world, inputs, options);
  assertNoSecrets(world, run, options.masked ?? true);
  // The private kubeconfig copy, Helm's repository list and any download are cleaned up.
  assert.deepEqual(leftInTemp(world, jobs), [], 'RUNNER_TEMP is left empty');
  return run;
}

/** The job directories the runs so far have made. */
export const jobDirs = (world: World<Cluster>) =>
  new Set(readdirSync(world.dir).filter((name) => name.startsWith('job-')));

/** Files and folders left under the RUNNER_TEMP of the jobs that ran since `jobs` was taken. */
export function leftInTemp(world: World<Cluster>, jobs: Set<string>): string[] {
  return readdirSync(world.dir)
    .filter((name) => name.startsWith('job-') && !jobs.has(name))
    .flatMap((job) =>
      readdirSync(join(world.dir, job, 'temp'), { recursive: true, encoding: 'utf8' }).map(
        (path) => `${job}/temp/${path}`,
      ),
    );
}

/**
 * Writes through the API (anything but reads and server-side dry runs) since `since`, by Helm or
 * the action: a refused or dry run makes none. The requests of the control plane's own components
 * (controllers, scheduler, KWOK) and of the harness are not recorded.
 */
export function apiWrites(world: World<Cluster>, since: number) {
  return (
    world.cluster.requests
      .filter({ since })
      .filter(
        (r) => !['get', 'list', 'watch', 'other'].includes(r.verb) && r.query.dryRun !== 'All',
      )
      // Asking what the credentials may do, and a port-forward to ask Milvus, change nothing.
      .filter((r) => !/\/selfsubjectaccessreviews$|\/portforward$/.test(r.path))
      .map((r) => `${r.userAgent.split(' ')[0]} ${r.method} ${r.path}`)
  );
}

/** The ServiceAccount, Role and RoleBinding the README documents, as a user would copy them. */
export function readmeRbac(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
  const rbac = blocks.find(
    (block) => /kind: Role\n/.test(block) && /name: milvus-upgrader/.test(block),
  );
  assert.ok(rbac, 'the README has the Role');
  return rbac;
}
