// Faults outside the cluster's pods: transient API errors during the action's reads, a Helm
// archive that does not match its checksum (refused before it is unpacked, nothing cached), API
// failures that last, and two runs on one release. The API errors are the real API server's:
// connections reset in front of it, and its flow control answering 429.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  type ActionRun,
  installMilvus,
  runAction,
  startWorld,
  type World,
} from '../support/harness.ts';
import { archiveName } from '../support/helm-mirror.ts';
import {
  act,
  assertAt264,
  assertNoSecrets,
  assertRecordsUnchanged,
  assertRefused,
  assertSucceeded,
  failure,
  jobDirs,
  leftInTemp,
  log,
  milvusDeployments,
  releaseRecords,
  tail,
} from './checks.ts';

/** A ServiceAccount with cluster-admin rights: flow control exempts system:masters (`admin`). */
interface Upgrader {
  kubeconfig: string;
  user: string;
}

async function upgrader(world: World): Promise<Upgrader> {
  const kubeconfig = await world.cluster.serviceAccountKubeconfig(
    'default',
    'upgrader',
    `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: upgrader-cluster-admin
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
  - kind: ServiceAccount
    name: upgrader
    namespace: default
`,
  );
  return { kubeconfig, user: 'system:serviceaccount:default:upgrader' };
}

/** `act` with the ServiceAccount's kubeconfig: its token is masked and shown nowhere. */
async function actAs(world: World, { kubeconfig }: Upgrader): Promise<ActionRun> {
  const run = await act(world, { kubeconfig }, { masked: false });
  const token = /token: (\S+)/.exec(kubeconfig)?.[1] ?? '';
  const lines = run.stdout.split('\n');
  assert.ok(lines.includes(`::add-mask::${token}`), `the token is masked\n${tail(run)}`);
  const shown = [...lines.filter((l) => !l.startsWith('::add-mask::')), run.stderr, run.summary];
  assert.ok(!shown.join('\n').includes(token), 'the token is not shown');
  return run;
}

describe('faults', () => {
  let world: World;
  let as: Upgrader;
  before(async () => {
    world = await startWorld({ rolloutMs: 30 });
    await installMilvus(world, {
      chartVersion: '4.2.30',
      milvusVersion: 'v2.5.6',
      layout: 'separate',
      mq: 'pulsarv3',
    });
    as = await upgrader(world);
  });
  after(() => world.stop());

  test('transient API errors on the action reads are survived; Helm is not hit', async () => {
    // Timed so that only the action's own reads meet them. The first three connections are
    // reset: only the action connects while it reads the server version and the namespace, and
    // Helm starts once both reads have got through. The API server's flow control refuses the
    // action's lists of pods and Deployments until each was refused twice (its retries get
    // through), and its watches for the whole run (it lists again); Helm does neither.
    const { faults, requests } = world.cluster;
    const scope = {
      user: as.user,
      resources: ['pods', 'deployments.apps'],
      namespaces: ['default'],
    };
    const lists = await faults.reject({ ...scope, verbs: ['list'] });
    const watches = await faults.reject({ ...scope, verbs: ['watch'] });
    await faults.resets({ connections: 3 });
    const since = Date.now();
    const refused = (resource: string) =>
      requests.count({ since, verb: 'list', resource, status: 429 }) >= 2;
    let ended = false;
    const lifted = world.cluster
      .waitFor(() => ended || (refused('pods') && refused('deployments.apps')), 120_000)
      .then(() => lists.lift());
    let run: ActionRun;
    try {
      run = await actAs(world, as);
    } finally {
      ended = true;
      await lifted;
      await watches.lift();
      await faults.clear();
    }
    assertSucceeded(run);
    await assertAt264(world, 3);
    assert.equal(run.outputs['milvus-version'], 'v2.6.4');
    for (const read of ['reading the server version', 'reading the namespace default']) {
      assert.match(run.stdout, new RegExp(`::debug::${read}: attempt 1 failed \\(fetch failed\\)`));
    }
    const refusals = requests.filter({ since, status: 429 });
    const hit = new Set(refusals.map((r) => `${r.verb} ${r.resource}`));
    for (const read of ['list pods', 'list deployments.apps', 'watch pods']) {
      assert.ok(hit.has(read), `the action's ${read} was refused: ${[...hit].join(', ')}`);
    }
    assert.deepEqual(
      refusals.filter((r) => r.userAgent.startsWith('Helm/')),
      [],
      "Helm's requests were not hit",
    );
    assert.ok(requests.count({ since, userAgent: /^Helm\// }) > 0, 'Helm went through the API');
  });

  describe('a Helm archive that does not match its checksum', () => {
    // A version the runs above did not cache, so the action downloads it.
    const version = 'v4.1.4';
    const inputs = () => ({ 'helm-version': version, 'helm-sha256': world.mirror.sha256[version] });

    async function refusedDownload(extra: Record<string, string>, what: RegExp, next: RegExp) {
      const records = await releaseRecords(world);
      const since = Date.now();
      const requests = world.mirror.requests.length;
      const run = await act(world, { ...inputs(), ...extra }, { masked: false });
      assertRefused(run, what, next);
      assert.ok(
        world.mirror.requests.slice(requests).includes(`/${archiveName(version)}`),
        'the archive was downloaded',
      );
      assert.doesNotMatch(log(run), /\[command\]\S*tar /, 'nothing was unpacked');
      assert.doesNotMatch(log(run), /Verified SHA-256/);
      assert.ok(!existsSync(join(world.toolCache, 'helm', version.slice(1))), 'nothing cached');
      assert.equal(world.cluster.requests.count({ since }), 0, 'the cluster was not contacted');
      await assertRecordsUnchanged(world, records);
    }

    test('a wrong helm-sha256 input', async () => {
      await refusedDownload(
        { 'helm-sha256': 'ab'.repeat(32) },
        new RegExp(
          `does not match its checksum: expected SHA-256 ${'ab'.repeat(32)} \\(the helm-sha256 input\\), got ${world.mirror.sha256[version]}\\. The file was deleted and nothing was installed\\.`,
        ),
        /Check that helm-sha256 is the checksum of this exact archive/,
      );
    });

    test('a tampered archive, checked against helm-sha256 or against the published .sha256sum', async () => {
      world.mirror.corrupt(version);
      await refusedDownload(
        {},
        /does not match its checksum: expected SHA-256 [0-9a-f]{64} \(the helm-sha256 input\)/,
        /the download was altered: check helm-download-base-url/,
      );
      await refusedDownload(
        { 'helm-sha256': '' },
        /does not match its checksum: expected SHA-256 [0-9a-f]{64} \(http:\/\/127\.0\.0\.1:\d+\/helm-v4\.1\.4-linux-amd64\.tar\.gz\.sha256sum\)/,
        /Retry the job; if it fails again, the download source or a proxy is serving an altered file/,
      );
    });
  });
});

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('API failures the action cannot ride out, and two runs at once', () => {
  let world: World;
  let as: Upgrader;
  before(async () => {
    world = await startWorld({ rolloutMs: 30 });
    await installMilvus(world, {
      chartVersion: '4.2.58',
      milvusVersion: 'v2.5.16',
      layout: 'mixcoord',
      mq: 'pulsarv3',
    });
    as = await upgrader(world);
  });
  after(() => world.stop());

  const kubeconfig = (edit: (yaml: string) => string) => edit(world.cluster.kubeconfigYaml);

  test('an unreachable API server is named, with where the kubeconfig came from', async () => {
    const port = await closedPort();
    const server = `https://127.0.0.1:${port}`;
    const run = await act(world, {
      kubeconfig: kubeconfig((yaml) => yaml.replace(world.cluster.url, server)),
    });
    assertRefused(
      run,
      /^Cannot reach the Kubernetes API server https:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\) while reading the server version, after 8 tries; it comes from the kubeconfig \(the kubeconfig input, user test\)\./,
      /^Fix the cause above and re-run\.$/,
    );
  });

  test('rejected credentials say so, for which kubeconfig user', async () => {
    const run = await act(
      world,
      { kubeconfig: kubeconfig((yaml) => yaml.replace(world.cluster.token, 'not-the-token')) },
      { masked: false },
    );
    const message = failure(run);
    // The action reads the version and the namespace at once: whichever refusal comes first.
    assert.match(
      message,
      /^the Kubernetes API server https:\/\/127\.0\.0\.1:\d+ rejected the credentials of the kubeconfig \(the kubeconfig input, user test\) \(401 Unauthorized\) while (reading the server version|reading the namespace default): a token or certificate in it is invalid or has expired\./,
    );
    assert.doesNotMatch(message, /HTTP-Code|Headers/);
  });

  test('a server that keeps failing is named with the status and the number of tries', async () => {
    // The API server's flow control refuses every list of pods in default, as when saturated.
    const rejection = await world.cluster.faults.reject({
      user: as.user,
      verbs: ['list'],
      resources: ['pods'],
      namespaces: ['default'],
    });
    let run: ActionRun;
    try {
      run = await actAs(world, as);
    } finally {
      await rejection.lift();
    }
    assertRefused(
      run,
      /answered HTTP 429 while listing pods in default, 8 times in a row\. Check the health of the API server, then re-run\./,
      /^Fix the cause above and re-run\.$/,
    );
    assert.doesNotMatch(failure(run), /HTTP-Code|Headers/);
  });

  test('of two runs started together, one upgrades and the other advises nothing destructive', async () => {
    // Side by side, so each run's temporary files are checked once both have ended.
    const jobs = jobDirs(world);
    const runs = await Promise.all([runAction(world), runAction(world)]);
    for (const run of runs) assertNoSecrets(world, run, true);
    assert.deepEqual(leftInTemp(world, jobs), [], 'RUNNER_TEMP is left empty');
    const won = runs.filter((run) => run.exitCode === 0);
    const lost = runs.filter((run) => run.exitCode !== 0);
    assert.equal(won.length, 1, runs.map((run) => tail(run, 1500)).join('\n----\n'));
    const message = failure(lost[0] as (typeof runs)[number]);
    assert.match(
      message,
      /Another operation holds the release|another Helm operation is in progress/i,
      message,
    );
    assert.doesNotMatch(message, /helm rollback/);
    await assertAt264(world, (await releaseRecords(world)).at(-1)?.revision ?? 0);
    const paused = (await milvusDeployments(world)).filter((d) => d.spec?.paused);
    assert.deepEqual(
      paused.map((d) => d.metadata?.name),
      [],
      'neither run left a Deployment paused',
    );
  });
});
