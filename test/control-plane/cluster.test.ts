// Smoke test of the real control plane: it starts, reports the pinned Kubernetes release, real
// Helm installs charts into it with --wait (Deployments, StatefulSets with claims, Jobs), and a
// pod port-forward reaches a TCP server on this machine through the API server and KWOK.
// The first run builds the binaries (about 15 minutes on 2 cores); later runs start in seconds.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { PassThrough, type Readable, Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { KubeConfig, PortForward } from '@kubernetes/client-node';
import { buildChartRepository, chartArchive } from '../support/chart-repo.ts';
import { type HelmVersion, helmBinary } from '../support/helm-binaries.ts';
import { FIXTURE_SECRETS } from '../support/milvus-release.ts';
import { pinnedVersion } from './build.ts';
import { type ControlPlane, type PortForwardRule, startControlPlane } from './cluster.ts';
import { kubectlBinary } from './kubectl.ts';

const execFileAsync = promisify(execFile);

let cluster: ControlPlane;

before(async () => {
  await buildChartRepository();
  cluster = await startControlPlane({ rolloutMs: 200 });
});

after(async () => {
  await cluster?.stop();
});

async function helm(args: string[], version: HelmVersion = 'v3.18.0'): Promise<string> {
  const env = { ...process.env, ...cluster.env('helm') };
  const { stdout } = await execFileAsync(helmBinary(version), args, { env });
  return stdout;
}

interface Items<T> {
  items: T[];
}
interface Workload {
  metadata: { name: string };
  spec: { replicas: number };
  status: { readyReplicas?: number };
}

test('reports the pinned Kubernetes release', async () => {
  const version = await cluster.api<{ gitVersion: string }>('GET', '/version');
  assert.equal(version.gitVersion, pinnedVersion('kubernetes'));
  assert.match(version.gitVersion, /^v1\.35\.\d+$/);
});

for (const version of ['v3.18.0', 'v4.1.4'] as const) {
  test(`real Helm ${version} installs a chart and waits for its Deployment`, async () => {
    const release = `web-${version.replace(/\W/g, '')}`;
    const args = ['install', release, chartArchive('1.0.0', 'webapp'), '--wait', '--timeout', '2m'];
    await helm(args, version);
    const deployment = await cluster.api<Workload>(
      'GET',
      `/apis/apps/v1/namespaces/default/deployments/${release}-webapp`,
    );
    assert.equal(deployment.status.readyReplicas, 1);
  });
}

test('real Helm installs the fixture Milvus chart: pods Ready, claims Bound', async () => {
  await helm([
    'install',
    'my-milvus',
    chartArchive('4.2.20'),
    '--namespace',
    'milvus',
    '--create-namespace',
    '--set',
    `minio.accessKey=${FIXTURE_SECRETS.minioAccessKey}`,
    '--set',
    `minio.secretKey=${FIXTURE_SECRETS.minioSecretKey}`,
    '--wait',
    '--wait-for-jobs',
    '--timeout',
    '5m',
  ]);
  const ns = '/namespaces/milvus';
  const sets = await cluster.api<Items<Workload>>('GET', `/apis/apps/v1${ns}/statefulsets`);
  assert.ok(sets.items.length > 0, 'the chart renders StatefulSets');
  for (const set of sets.items) {
    assert.equal(set.status.readyReplicas ?? 0, set.spec.replicas, set.metadata.name);
  }
  const claims = await cluster.api<Items<{ status: { phase: string } }>>(
    'GET',
    `/api/v1${ns}/persistentvolumeclaims`,
  );
  assert.ok(claims.items.length > 0, 'the StatefulSets claim volumes');
  assert.deepEqual(new Set(claims.items.map((claim) => claim.status.phase)), new Set(['Bound']));
  const pods = await cluster.api<Items<{ status: { phase: string } }>>('GET', `/api/v1${ns}/pods`);
  const phases = new Set(pods.items.map((pod) => pod.status.phase));
  assert.ok(
    [...phases].every((phase) => phase === 'Running' || phase === 'Succeeded'),
    [...phases].join(),
  );
});

/** Writes `payload` and resolves with as many bytes as come back on `from`. */
function exchange(
  write: (chunk: Buffer) => void,
  from: Readable,
  payload: Buffer,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    from.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= payload.length) resolve(Buffer.concat(chunks));
    });
    from.on('error', reject);
    from.on('close', () => reject(new Error(`closed after ${size} of ${payload.length} bytes`)));
    write(payload);
  });
}

describe('pod port-forward to a local TCP server', () => {
  const namespace = 'forward';
  const port = 19530;
  let echo: Server;
  let echoed = 0;
  let rule: PortForwardRule;
  let pod: string;

  before(async () => {
    echo = createServer((socket) => {
      echoed++;
      socket.pipe(socket);
    });
    echo.listen(0, '127.0.0.1');
    await once(echo, 'listening');
    const target = { address: '127.0.0.1', port: (echo.address() as { port: number }).port };
    // Every pod of the namespace: the rule outlives pods that a rollout replaces.
    rule = await cluster.forwardPort({ namespace, port, target });
    await cluster.store.apply({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: namespace },
    });
    const labels = { component: 'proxy' };
    await cluster.store.create({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'proxy', namespace },
      spec: {
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            containers: [
              { name: 'proxy', image: 'milvusdb/milvus', ports: [{ containerPort: port }] },
            ],
          },
        },
      },
    });
    await cluster.waitFor(async () => {
      const pods = await cluster.store.list('pods', {
        namespace,
        labelSelector: 'component=proxy',
      });
      const ready = pods.find((p) =>
        (p.status as { conditions?: { type: string; status: string }[] })?.conditions?.some(
          (c) => c.type === 'Ready' && c.status === 'True',
        ),
      );
      pod = ready?.metadata.name ?? '';
      return Boolean(ready);
    }, 30_000);
  });

  after(async () => {
    echo?.close();
  });

  test('kubectl port-forward carries bytes both ways', async () => {
    const before = echoed;
    const env = { ...process.env, ...cluster.env('kubectl') };
    const args = [
      'port-forward',
      '-n',
      namespace,
      '--address',
      '127.0.0.1',
      `pod/${pod}`,
      `:${port}`,
    ];
    const kubectl = spawn(kubectlBinary(), args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    kubectl.stderr.on('data', (chunk) => (output += chunk));
    try {
      // "Forwarding from 127.0.0.1:<local> -> 19530" once its connection to the API server is up.
      const local = await new Promise<number>((resolve, reject) => {
        kubectl.stdout.on('data', (chunk) => {
          output += chunk;
          const match = output.match(/Forwarding from 127\.0\.0\.1:(\d+)/);
          if (match) resolve(Number(match[1]));
        });
        kubectl.on('exit', (code) => reject(new Error(`kubectl exited (${code}): ${output}`)));
      });
      const socket = connect(local, '127.0.0.1');
      await once(socket, 'connect');
      const payload = randomBytes(256 * 1024);
      const back = await exchange((chunk) => socket.write(chunk), socket, payload);
      socket.destroy();
      assert.ok(back.equals(payload), 'the echo server sent back what kubectl carried');
      assert.equal(echoed, before + 1);
    } finally {
      if (kubectl.exitCode === null && kubectl.signalCode === null) {
        kubectl.kill();
        await once(kubectl, 'exit');
      }
    }
  });

  test("client-node's PortForward carries bytes both ways", async () => {
    const before = echoed;
    const config = new KubeConfig();
    config.loadFromString(cluster.kubeconfigYaml);
    const input = new PassThrough();
    const output = new PassThrough();
    let errors = '';
    const stderr = new Writable({
      write(chunk, _encoding, done) {
        errors += chunk;
        done();
      },
    });
    const socket = await new PortForward(config).portForward(
      namespace,
      pod,
      [port],
      output,
      stderr,
      input,
    );
    try {
      const payload = randomBytes(256 * 1024);
      const back = await exchange((chunk) => input.write(chunk), output, payload);
      assert.ok(back.equals(payload), 'the echo server sent back what the WebSocket carried');
      assert.equal(errors, '');
      assert.equal(echoed, before + 1);
    } finally {
      socket.close();
    }
  });

  test('a ServiceAccount without create pods/portforward is refused', async () => {
    const account = 'no-port-forward';
    const kubeconfig = await cluster.serviceAccountKubeconfig(
      namespace,
      account,
      `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: read-pods }
rules:
  - { apiGroups: [''], resources: [pods], verbs: [get, list] }
`,
    );
    const since = Date.now();
    const before = echoed;
    const path = join(cluster.dir, `${account}.kubeconfig`);
    writeFileSync(path, kubeconfig, { mode: 0o600 });
    const env = { ...process.env, ...cluster.env('kubectl'), KUBECONFIG: path };
    const refused = await execFileAsync(
      kubectlBinary(),
      ['port-forward', '-n', namespace, `pod/${pod}`, `:${port}`],
      { env, timeout: 30_000 },
    ).then(
      () => assert.fail('kubectl port-forward succeeded'),
      (error: { stderr: string; code: number }) => error,
    );
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /forbidden.*cannot create resource "pods\/portforward"/);

    const config = new KubeConfig();
    config.loadFromString(kubeconfig);
    // The WebSocket handshake is refused; client-node rejects with ws's ErrorEvent.
    await assert.rejects(
      new PortForward(config).portForward(
        namespace,
        pod,
        [port],
        new PassThrough(),
        null,
        new PassThrough(),
      ),
      (event: { message?: string }) => /Unexpected server response: 403/.test(`${event.message}`),
    );
    const refusals = cluster.requests
      .filter({ user: `system:serviceaccount:${namespace}:${account}`, since })
      .filter((r) => r.subresource === 'portforward');
    assert.ok(refusals.length >= 2, JSON.stringify(refusals));
    assert.deepEqual(new Set(refusals.map((r) => r.status)), new Set([403]));
    assert.equal(echoed, before, 'nothing reached the echo server');
  });

  test('a removed rule forwards no more', async () => {
    await rule.remove();
    const config = new KubeConfig();
    config.loadFromString(cluster.kubeconfigYaml);
    // KWOK answers on the stream's error channel once its watch has seen the deletion.
    await cluster.waitFor(async () => {
      let errors = '';
      const stderr = new Writable({
        write(chunk, _encoding, done) {
          errors += chunk;
          done();
        },
      });
      const input = new PassThrough();
      const socket = await new PortForward(config).portForward(
        namespace,
        pod,
        [port],
        new PassThrough(),
        stderr,
        input,
      );
      input.write('x');
      // Closed by KWOK when it finds no rule; still open if the old rule carried the byte.
      const closed = once(socket, 'close');
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1000))]);
      socket.close();
      await closed;
      return /no forward found for port 19530/.test(errors);
    });
  });
});
