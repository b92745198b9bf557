// npm run demo: the action end to end on a local Kubernetes control plane (test/control-plane:
// real API server, etcd, controller-manager and scheduler, KWOK's fake nodes), as a user would see
// it. A Milvus
// 2.5 release with separate coordinators and Pulsar v2 (the default of its old chart) is upgraded
// to 2.6 by the bundled action, run exactly as a GitHub runner runs it; the demo shows the
// workloads before, the log, the outputs, the job summary, the workloads after, and that the
// message queue was kept rather than replaced by a new, empty Pulsar v3.
import { existsSync } from 'node:fs';
import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { cacheRoot } from '../test/control-plane/build.ts';
import { DIST, installMilvus, runAction, startWorld, type World } from '../test/support/harness.ts';
import { seed } from '../test/support/milvus-lite.ts';
import { CACHE_DIR } from '../test/support/paths.ts';
import { LogRenderer, renderSummary, type Style, style, table, wrap } from './render.ts';

const RELEASE = 'my-milvus';
const NAMESPACE = 'milvus';
const INSTALL = {
  release: RELEASE,
  namespace: NAMESPACE,
  chartVersion: '4.2.20',
  milvusVersion: 'v2.5.4',
  layout: 'separate',
  mq: 'pulsar',
} as const;
/** Longer output values (the plan, with every Helm argument) are cut to this many characters. */
const OUTPUT_CHARS = 240;

const color = process.stdout.isTTY === true && !process.env.NO_COLOR;
const width = process.stdout.isTTY
  ? Math.max(60, Math.min(process.stdout.columns || 100, 120))
  : 100;
const s: Style = style(color);
const print = (text = '') => process.stdout.write(`${text}\n`);
/** Prose, wrapped to the width. */
const say = (text: string) => print(wrap(text, width).join('\n'));
const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

function heading(title: string): void {
  print();
  print(s.bold(`━━ ${title} ${'━'.repeat(Math.max(3, width - title.length - 4))}`));
  print();
}

interface Workloads {
  rows: string[][];
  /** uid by name, of StatefulSets and PersistentVolumeClaims. */
  uids: Map<string, string>;
  statefulSets: string[];
  claims: string[];
}

/** The Deployments and StatefulSets (and the uids of volume claims), read through the API. */
async function workloads(world: World): Promise<Workloads> {
  const config = new KubeConfig();
  config.loadFromFile(world.cluster.kubeconfigPath);
  const apps = config.makeApiClient(AppsV1Api);
  const core = config.makeApiClient(CoreV1Api);
  const [deployments, statefulSets, claims] = await Promise.all([
    apps.listNamespacedDeployment({ namespace: NAMESPACE }),
    apps.listNamespacedStatefulSet({ namespace: NAMESPACE }),
    core.listNamespacedPersistentVolumeClaim({ namespace: NAMESPACE }),
  ]);
  const byName = <T extends { metadata?: { name?: string } }>(items: T[]) =>
    [...items].sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  const row = (
    kind: string,
    item: {
      metadata?: { name?: string };
      spec?: { replicas?: number; template: { spec?: { containers: { image?: string }[] } } };
      status?: { readyReplicas?: number };
    },
  ) => [
    kind,
    item.metadata?.name ?? '',
    `${item.status?.readyReplicas ?? 0}/${item.spec?.replicas ?? 1}`,
    (item.spec?.template.spec?.containers ?? []).map((c) => c.image ?? '').join(', '),
  ];
  const uids = new Map<string, string>();
  for (const item of [...statefulSets.items, ...claims.items]) {
    uids.set(item.metadata?.name ?? '', item.metadata?.uid ?? '');
  }
  return {
    rows: [
      ['Kind', 'Name', 'Ready', 'Image'],
      ...byName(deployments.items).map((item) => row('Deployment', item)),
      ...byName(statefulSets.items).map((item) => row('StatefulSet', item)),
    ],
    uids,
    statefulSets: byName(statefulSets.items).map((item) => item.metadata?.name ?? ''),
    claims: byName(claims.items).map((item) => item.metadata?.name ?? ''),
  };
}

function showWorkloads(w: Workloads): void {
  for (const line of table(w.rows, { width, style: s })) print(line);
}

/** Checks that the Pulsar v2 of the release is still the same objects and no Pulsar v3 came up. */
function queueKept(before: Workloads, after: Workloads): boolean {
  const pulsar = (name: string) => name.includes(`${RELEASE}-pulsar-`);
  const sets = before.statefulSets.filter(pulsar);
  const claims = before.claims.filter(pulsar);
  const same = (name: string) => after.uids.get(name) === before.uids.get(name);
  const v3 = [...after.statefulSets, ...after.claims].filter((name) => name.includes('pulsarv3'));
  const checks: [boolean, string][] = [
    [
      sets.length > 0 && sets.every(same),
      `Pulsar v2 StatefulSets still there, the same objects (uids unchanged): ${sets.join(', ')}`,
    ],
    [
      claims.every(same),
      `${claims.length} PersistentVolumeClaims of Pulsar kept, with their data (uids unchanged)`,
    ],
    [v3.length === 0, `no pulsarv3 objects: no new, empty Pulsar v3 was started`],
  ];
  for (const [ok, text] of checks) {
    const [mark, paint] = ok ? ['✔', s.green] : ['✖', s.red];
    for (const line of wrap(`${mark} ${text}`, width, { hang: '  ' })) print(paint(line));
  }
  if (v3.length > 0) print(s.red(`  found: ${v3.join(', ')}`));
  return checks.every(([ok]) => ok);
}

function abbreviate(value: string): string {
  return value.length > OUTPUT_CHARS
    ? `${value.slice(0, OUTPUT_CHARS)}… (${value.length} characters in all)`
    : value;
}

async function main(): Promise<number> {
  if (!existsSync(DIST)) {
    process.stderr.write(
      'dist/index.js is missing: run `npm run build` first, then `npm run demo`.\n',
    );
    return 1;
  }
  const started = Date.now();
  print(s.bold('Milvus upgrade action: demo'));
  say(
    `A local Kubernetes control plane (a real API server, etcd, controller-manager and scheduler as processes on this machine; KWOK plays the nodes, so pods run no containers; no Docker) with a Milvus ${INSTALL.milvusVersion} release: separate coordinators and Pulsar v2, the default of chart ${INSTALL.chartVersion}. The bundled action (dist/index.js) upgrades it as a GitHub runner would run it.`,
  );

  heading('Setting up');
  let step = Date.now();
  if (!existsSync(cacheRoot())) {
    say(
      `First run: building the Kubernetes control plane from source into ${cacheRoot()} (about 15 minutes on 2 cores, only once).`,
    );
  }
  if (!existsSync(CACHE_DIR)) {
    say('First run: preparing the Helm binaries and the fixture charts in .cache/ (only once).');
  }
  say(
    'Starting the Kubernetes control plane, a local chart repository, a Helm mirror, and Milvus Lite behind the proxy pods (the action asks Milvus itself through a port-forward)…',
  );
  const world = await startWorld({ namespaces: [NAMESPACE], milvus: true });
  try {
    print(
      `Ready in ${seconds(step)}: API server ${world.cluster.url}, Kubernetes v${world.cluster.kubernetesVersion}.`,
    );
    step = Date.now();
    say(
      `Installing ${RELEASE} in namespace ${NAMESPACE} with Helm ${world.helmVersion}: chart ${INSTALL.chartVersion}, Milvus ${INSTALL.milvusVersion}, separate coordinators, the chart's default queue (Pulsar v2)…`,
    );
    await Promise.all([
      installMilvus(world, INSTALL),
      seed(world.milvus?.address ?? '', {
        create: [{ name: 'books', rows: 1000, index: { type: 'HNSW', metric: 'L2' } }],
      }),
    ]);
    print(`Installed, with a collection of 1000 rows, and ready in ${seconds(step)}.`);

    heading('The cluster before');
    const before = await workloads(world);
    showWorkloads(before);

    heading('The action (dist/index.js on Node 24, as a runner runs it)');
    const log = new LogRenderer({ color, width });
    const run = await runAction(
      world,
      { 'release-name': RELEASE, namespace: NAMESPACE },
      { onStdout: (chunk) => process.stdout.write(log.push(chunk)) },
    );
    process.stdout.write(log.end());
    print();
    const verdict =
      run.exitCode === 0 ? s.green('succeeded') : s.red(`failed (exit code ${run.exitCode})`);
    print(`The action ${verdict} in ${(run.durationMs / 1000).toFixed(1)} s.`);
    if (run.stderr.trim()) print(s.dim(run.stderr.trim()));

    heading('Outputs');
    const outputs = Object.entries(run.outputs).map(([name, value]) => [name, abbreviate(value)]);
    for (const line of table([['Output', 'Value'], ...outputs], { width, style: s })) print(line);

    heading('Job summary');
    process.stdout.write(renderSummary(run.summary, { color, width }));

    heading('The cluster after');
    const after = await workloads(world);
    showWorkloads(after);

    heading('The message queue was kept');
    const kept = queueKept(before, after);
    print();
    print(`Done in ${seconds(started)}. Shutting the control plane down.`);
    return run.exitCode === 0 && kept ? 0 : 1;
  } finally {
    await world.stop();
  }
}

// Piped into `head`: stop quietly once the reader has gone.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
});
process.exitCode = await main();
