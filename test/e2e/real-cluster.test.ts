// On a real Kubernetes control plane (test/control-plane): the action with nothing but the
// README's Role, a permission missing from it, and releases installed by Helm 3 and by Helm 4
// (server-side apply), one scaled out of band with kubectl, each upgraded with Helm 4.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { ControlPlane } from '../control-plane/cluster.ts';
import { kubectlBinary } from '../control-plane/kubectl.ts';
import { FIXTURE_REPO, installMilvus, startWorld, type World } from '../support/harness.ts';
import { helmBinary } from '../support/helm-binaries.ts';
import { milvusInstallArgs } from '../support/milvus-release.ts';
import {
  act,
  apiWrites,
  assertAt264,
  assertRefused,
  assertSucceeded,
  latestRecord,
  readmeRbac,
} from './checks.ts';

const run = promisify(execFile);

/** The ServiceAccount's token is registered with the runner and shown nowhere else. */
function assertTokenMasked(result: Awaited<ReturnType<typeof act>>, kubeconfig: string) {
  const token = /token: (\S+)/.exec(kubeconfig)?.[1] ?? '';
  assert.ok(token.length > 20, 'the kubeconfig carries a token');
  const lines = result.stdout.split('\n');
  assert.ok(lines.includes(`::add-mask::${token}`), 'the token is masked');
  const shown = lines.filter((line) => !line.startsWith('::add-mask::')).join('\n');
  assert.ok(!shown.includes(token) && !result.summary.includes(token), 'the token is not shown');
}

describe('real control plane: the README Role is all the action needs', () => {
  let world: World<ControlPlane>;
  before(async () => {
    world = await startWorld({
      rolloutMs: 100,
      namespaces: ['milvus'],
    });
    await installMilvus(world, {
      namespace: 'milvus',
      chartVersion: '4.2.20',
      milvusVersion: 'v2.5.10',
      layout: 'separate',
      mq: 'pulsar',
    });
  });
  after(() => world?.stop());

  test('a permission missing from the Role: a clear refusal naming verb and resource, nothing changed', async () => {
    const role = readmeRbac().replace(
      'resources: [pods, events, persistentvolumeclaims]',
      'resources: [events, persistentvolumeclaims]',
    );
    const kubeconfig = await world.cluster.serviceAccountKubeconfig(
      'milvus',
      'no-pods',
      role.replaceAll('milvus-upgrader', 'no-pods'),
    );
    const since = Date.now();
    const runResult = await act(world, { namespace: 'milvus', kubeconfig }, { masked: false });
    assertTokenMasked(runResult, kubeconfig);
    assertRefused(
      runResult,
      /denied listing pods in milvus to the kubeconfig \(the kubeconfig input, user no-pods\) \(403 Forbidden\): pods is forbidden: User "system:serviceaccount:milvus:no-pods" cannot list resource "pods"/,
      /^Fix the cause above and re-run\.$/,
    );
    assert.deepEqual(apiWrites(world, since), []);
  });

  test('with exactly the README Role, both hops land and Pulsar v2 is kept', async () => {
    const kubeconfig = await world.cluster.serviceAccountKubeconfig(
      'milvus',
      'milvus-upgrader',
      readmeRbac(),
    );
    const runResult = await act(
      world,
      { namespace: 'milvus', kubeconfig, timeout: '3m' },
      { masked: false },
    );
    assertSucceeded(runResult);
    assertTokenMasked(runResult, kubeconfig);
    await assertAt264(world, 3, { namespace: 'milvus' });
    assert.equal(runResult.outputs['message-queue'], 'pulsar');
    const users = new Set(
      world.cluster.requests.filter({ since: 0 }).map((r) => (r as { user?: string }).user),
    );
    assert.ok(
      users.has('system:serviceaccount:milvus:milvus-upgrader'),
      'the requests came from the ServiceAccount',
    );
  });
});

describe('real control plane: Helm 3 and Helm 4 releases, upgraded with Helm 4', () => {
  let world: World<ControlPlane>;
  before(async () => {
    world = await startWorld({
      rolloutMs: 100,
      namespaces: ['by-helm3', 'by-helm4'],
      helmVersion: 'v4.1.4',
    });
    const install = (namespace: string) =>
      milvusInstallArgs({
        release: 'my-milvus',
        namespace,
        chartRef: `${FIXTURE_REPO}/milvus`,
        chartVersion: '4.2.58',
        milvusVersion: 'v2.5.16',
        layout: 'mixcoord',
        mq: 'pulsarv3',
      });
    // The Helm 4 world's set-up Helm is Helm 4 (server-side apply); Helm 3 installs the other.
    await run(helmBinary('v3.18.0'), ['repo', 'add', FIXTURE_REPO, world.repo.url], {
      env: world.helmEnv,
    });
    await Promise.all([
      run(helmBinary('v3.18.0'), [...install('by-helm3'), '--wait', '--timeout', '3m'], {
        env: world.helmEnv,
      }),
      run(world.helm, [...install('by-helm4'), '--wait', '--timeout', '3m'], {
        env: world.helmEnv,
      }),
    ]);
  });
  after(() => world?.stop());

  test('a release installed by Helm 3 (client-side apply) lands at 2.6.4', async () => {
    const result = await act(world, { namespace: 'by-helm3', timeout: '3m' });
    assertSucceeded(result);
    await assertAt264(world, 2, { namespace: 'by-helm3' });
  });

  test('a Helm 4 release scaled with kubectl: the apply conflict is refused before anything changes', async () => {
    await run(
      kubectlBinary(),
      ['scale', 'deployment/my-milvus-querynode', '--replicas=2', '--namespace', 'by-helm4'],
      { env: { ...process.env, KUBECONFIG: world.cluster.kubeconfigPath } },
    );
    const where = { namespace: 'by-helm4' };
    const since = Date.now();
    const refused = await act(world, { ...where, timeout: '3m' });
    assertRefused(
      refused,
      /^Helm applies this release server-side, and hop 2 \(v2\.6\.4, chart 5\.0\.0\) would stop half-way at fields changed outside Helm: Deployment\/my-milvus-querynode: .*conflict with "kubectl".*\.spec\.replicas/,
      /queryNode\.replicas/,
    );
    assert.deepEqual(apiWrites(world, since), [], 'nothing was written');
    const untouched = await latestRecord(world, where);
    assert.deepEqual([untouched.revision, untouched.status], [1, 'deployed']);

    // The fix the refusal names: the current value in a values file, so Helm applies the same.
    const file = join(world.dir, 'replicas.yaml');
    writeFileSync(file, 'queryNode:\n  replicas: 2\n');
    const result = await act(world, { ...where, timeout: '3m', 'values-files': file });
    assertSucceeded(result);
    await assertAt264(world, 2, where);
  });
});
