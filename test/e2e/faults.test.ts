// Faults outside the cluster's pods: transient API errors during the action's reads, a Helm
// archive that does not match its checksum (refused before it is unpacked, nothing cached), API
// failures that last, and two runs on one release.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { installMilvus, runAction, startWorld, type World } from '../support/harness.ts';
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

describe('faults', () => {
  let world: World;
  before(async () => {
    world = await startWorld({ rolloutMs: 30 });
    await installMilvus(world, {
      chartVersion: '4.2.30',
      milvusVersion: 'v2.5.6',
      layout: 'separate',
      mq: 'pulsarv3',
    });
  });
  after(() => world.stop());

  test('transient API errors on the action reads are survived; Helm is not hit', async () => {
    // About a third of client-node's requests fail with 503. Each kind of read fails at most
    // 4 times in all, so its retries always get through and the test cannot flake; the
    // watch (undici's user agent) fails without a limit, and the action lists again.
    const client = /kubernetes-client-javascript/;
    const rule = { rate: 0.3, status: 503 as const, userAgent: client, watch: false, limit: 4 };
    world.cluster.faults.errors(
      { ...rule, path: /^\/version$/ },
      { ...rule, path: /^\/api\/v1\/namespaces\/[^/]+$/ },
      { ...rule, path: /\/pods$/ },
      { ...rule, path: /\/deployments$/ },
      { rate: 0.3, status: 503, userAgent: /undici/, watch: true },
    );
    const since = Date.now();
    let run: Awaited<ReturnType<typeof act>>;
    try {
      run = await act(world);
    } finally {
      world.cluster.faults.errors();
    }
    const injected = world.cluster.requests.filter({ since }).filter((r) => r.fault === 'error');
    assertSucceeded(run);
    await assertAt264(world, 3);
    assert.equal(run.outputs['milvus-version'], 'v2.6.4');
    assert.ok(
      injected.filter((r) => client.test(r.userAgent)).length > 0,
      'errors hit the action reads',
    );
    assert.deepEqual(
      injected.filter((r) => r.userAgent.startsWith('Helm/')),
      [],
      "Helm's requests were not hit",
    );
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
  before(async () => {
    world = await startWorld({ rolloutMs: 30 });
    await installMilvus(world, {
      chartVersion: '4.2.58',
      milvusVersion: 'v2.5.16',
      layout: 'mixcoord',
      mq: 'pulsarv3',
    });
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
    assert.match(
      message,
      /^the Kubernetes API server https:\/\/127\.0\.0\.1:\d+ rejected the credentials of the kubeconfig \(the kubeconfig input, user test\) \(401 Unauthorized\) while reading the server version: a token or certificate in it is invalid or has expired\./,
    );
    assert.doesNotMatch(message, /HTTP-Code|Headers/);
  });

  test('a server that keeps failing is named with the status and the number of tries', async () => {
    world.cluster.faults.errors({
      rate: 1,
      status: 503,
      userAgent: /kubernetes-client-javascript/,
      path: /\/pods$/,
    });
    let run: Awaited<ReturnType<typeof act>>;
    try {
      run = await act(world);
    } finally {
      world.cluster.faults.errors();
    }
    assertRefused(
      run,
      /answered HTTP 503 while listing pods in default, 8 times in a row/,
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
