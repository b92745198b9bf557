// The sandbox as CI and CONTRIBUTING.md use it: a child process that prints one JSON line when
// ready, whose fields reach the cluster, the chart repository and the Helm mirror, against which
// the bundled action runs from `INPUT_*` variables, and which stops cleanly on SIGTERM.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { parseSandboxArgs, type readyLine, UsageError } from '../../scripts/sandbox.ts';
import { DIST, NODE, parseOutputs } from '../support/harness.ts';
import { ROOT } from '../support/paths.ts';

type Ready = ReturnType<typeof readyLine>;

interface Sandbox {
  child: ChildProcess;
  ready: Ready;
  /** Everything written to stdout so far. */
  stdout(): string;
  stderr(): string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running: ChildProcess[] = [];
after(() => {
  for (const child of running) if (child.exitCode === null) child.kill('SIGKILL');
});

/** Starts `command` and resolves with the JSON line it prints when ready. */
function startSandbox(command: string, args: string[]): Promise<Sandbox> {
  const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  running.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready after 60 s:\n${stderr}`)), 60_000);
    child.stdout?.on('data', (chunk: string) => {
      stdout += chunk;
      const end = stdout.indexOf('\n');
      if (end < 0) return; // later calls change nothing: a promise settles once
      clearTimeout(timer);
      resolve({
        child,
        ready: JSON.parse(stdout.slice(0, end)) as Ready,
        stdout: () => stdout,
        stderr: () => stderr,
        exit,
      });
    });
    void exit.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`the sandbox exited (${code}) before it was ready:\n${stderr}`));
    });
  });
}

/** A GET with the kubeconfig's credentials and a chosen user agent, answered with the status. */
function apiGet(ready: Ready, path: string, userAgent: string): Promise<[number, unknown]> {
  const config = parse(readFileSync(ready.kubeconfig, 'utf8')) as {
    clusters: { cluster: { 'certificate-authority-data': string } }[];
    users: { user: { token: string } }[];
  };
  const ca = Buffer.from(config.clusters[0]?.cluster['certificate-authority-data'] ?? '', 'base64');
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, ready.server),
      {
        ca,
        headers: {
          authorization: `Bearer ${config.users[0]?.user.token}`,
          'user-agent': userAgent,
        },
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8').on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('end', () => resolve([response.statusCode ?? 0, JSON.parse(body)]));
      },
    );
    req.on('error', reject).end();
  });
}

/** Runs dist/index.js by hand, as CONTRIBUTING.md shows: the JSON line's inputs as INPUT_*. */
async function runActionByHand(ready: Ready, extra: Record<string, string>) {
  const job = mkdtempSync(join(tmpdir(), 'sandbox-job-'));
  try {
    const output = join(job, 'output');
    writeFileSync(output, '');
    const inputs = { ...ready.inputs, ...extra };
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: job,
      KUBECONFIG: ready.kubeconfig,
      RUNNER_TEMP: ready.runnerTemp,
      RUNNER_TOOL_CACHE: ready.toolCache,
      GITHUB_OUTPUT: output,
      ...Object.fromEntries(
        Object.entries(inputs).map(([name, value]) => [`INPUT_${name.toUpperCase()}`, value]),
      ),
    };
    const result = await promisify(execFile)(NODE, [DIST], { env, cwd: job }).catch(
      (error: { code: number; stdout: string }) => error,
    );
    return {
      exitCode: 'code' in result ? result.code : 0,
      stdout: result.stdout,
      outputs: parseOutputs(readFileSync(output, 'utf8')),
    };
  } finally {
    rmSync(job, { recursive: true, force: true });
  }
}

describe('sandbox options', () => {
  it('has the documented defaults', () => {
    assert.deepEqual(parseSandboxArgs([]), {
      milvusVersion: 'v2.5.10',
      chartVersion: '4.2.20',
      layout: 'separate',
      mq: 'pulsar',
      standalone: false,
      release: 'my-milvus',
      namespace: 'default',
      kubernetesVersion: undefined,
      rolloutMs: undefined,
      unready: [],
      unreadyReason: 'CrashLoopBackOff',
      apiResetRate: 0,
      apiLatencyMs: 0,
      milvus: true,
      helmVersion: 'v3.18.0',
    });
    assert.equal(parseSandboxArgs(['--help']), 'help');
    assert.equal((parseSandboxArgs(['--no-milvus']) as { milvus: boolean }).milvus, false);
  });

  it('turns a component into a selector of the release and keeps selectors as given', () => {
    const options = parseSandboxArgs([
      '--release=m',
      '--unready',
      'querynode',
      '--unready',
      'app=pulsar',
    ]);
    assert.ok(options !== 'help');
    assert.deepEqual(options.unready, [
      'app.kubernetes.io/name=milvus,app.kubernetes.io/instance=m,component=querynode',
      'app=pulsar',
    ]);
  });

  it('names every invalid option at once', () => {
    assert.throws(
      () =>
        parseSandboxArgs([
          '--layout',
          'mixed',
          '--chart-version',
          '4.2.21',
          '--api-reset-rate',
          '1.5',
          '--api-latency-ms',
          'slow',
          '--rollout-ms=-5',
          '--unready',
          'brokers',
          '--helm-version',
          'v3.19.0',
          '--namespace',
          'Milvus',
        ]),
      (error: Error) => {
        assert.ok(error instanceof UsageError);
        for (const option of [
          'layout',
          'chart-version',
          'api-reset-rate',
          'api-latency-ms',
          'rollout-ms',
          'unready',
          'helm-version',
          'namespace',
        ]) {
          assert.match(error.message, new RegExp(`--${option} `));
        }
        return true;
      },
    );
    assert.throws(() => parseSandboxArgs(['--mq', 'pulsarv3']), /the chart has no pulsarv3/);
    assert.throws(() => parseSandboxArgs(['--unready', 'app=a b']), /--unready 'app=a b'/);
    assert.throws(() => parseSandboxArgs(['--api-error-rate', '1']), /use --api-reset-rate/);
    assert.throws(() => parseSandboxArgs(['--no-such-option']), UsageError);
  });

  it('prints its help through npm run, on Node 24', async () => {
    const { stdout } = await promisify(execFile)(
      'npm',
      ['run', '--silent', 'sandbox', '--', '-h'],
      {
        cwd: ROOT,
      },
    );
    assert.match(stdout, /^Usage: npm run sandbox -- \[options\]/);
    assert.match(stdout, /--api-reset-rate/);
  });

  it('exits with 2 and a clear message on a bad option, printing nothing on stdout', async () => {
    const error = await promisify(execFile)(NODE, ['scripts/sandbox.ts', '--mq', 'nats'], {
      cwd: ROOT,
    }).catch((e: { code: number; stdout: string; stderr: string }) => e);
    assert.ok('code' in error);
    assert.equal(error.code, 2);
    assert.equal(error.stdout, '');
    assert.match(error.stderr, /--mq 'nats': expected pulsar, pulsarv3, kafka/);
  });
});

describe('the sandbox', () => {
  it('serves a ready release the action can dry-run, then stops cleanly on SIGTERM', async () => {
    const sandbox = await startSandbox(NODE, [
      'scripts/sandbox.ts',
      '--release',
      'milvus-ci',
      '--namespace',
      'milvus',
    ]);
    const { ready } = sandbox;
    assert.equal(ready.release, 'milvus-ci');
    assert.equal(ready.namespace, 'milvus');
    assert.equal(ready.helmVersion, 'v3.18.0');

    // The kubeconfig reaches the cluster with client-node, and the release is there and ready.
    const config = new KubeConfig();
    config.loadFromFile(ready.kubeconfig);
    assert.equal(config.getCurrentContext(), ready.kubeContext);
    assert.equal(config.getCurrentCluster()?.server, ready.server);
    const pods = await config.makeApiClient(CoreV1Api).listNamespacedPod({
      namespace: 'milvus',
      labelSelector: 'app.kubernetes.io/instance=milvus-ci,component=rootcoord',
    });
    assert.equal(pods.items.length, 1);
    assert.ok(
      pods.items[0]?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    );

    // The chart repository serves the charts of both hops; the mirror serves the Helm archive.
    const index = parse(await (await fetch(`${ready.chartRepository}/index.yaml`)).text()) as {
      entries: { milvus: { version: string }[] };
    };
    const versions = index.entries.milvus.map((entry) => entry.version);
    for (const version of ['4.2.20', '4.2.58', '5.0.0']) assert.ok(versions.includes(version));
    const archive = await fetch(
      `${ready.helmDownloadBaseUrl}/helm-${ready.helmVersion}-linux-amd64.tar.gz`,
    );
    assert.equal(archive.status, 200);
    const sha256 = createHash('sha256')
      .update(Buffer.from(await archive.arrayBuffer()))
      .digest('hex');
    assert.equal(sha256, ready.helmSha256);

    const run = await runActionByHand(ready, { 'dry-run': 'true' });
    assert.equal(run.exitCode, 0, run.stdout);
    assert.equal(run.outputs['previous-version'], 'v2.5.10');
    assert.equal(run.outputs['message-queue'], 'pulsar');
    assert.equal(run.outputs.upgraded, 'false');
    assert.match(run.outputs.plan ?? '', /pulsarv3\.enabled=false/);

    sandbox.child.kill('SIGTERM');
    assert.deepEqual(await sandbox.exit, { code: 0, signal: null });
    assert.equal(sandbox.stdout(), `${JSON.stringify(ready)}\n`, 'exactly one line on stdout');
    assert.match(sandbox.stderr(), /SIGTERM; stopping/);
    assert.ok(!existsSync(ready.kubeconfig), 'the scratch directories are removed');
    assert.ok(!existsSync(ready.runnerTemp));
  });

  it('starts unhealthy and slows the API server’s answers when asked to', async () => {
    const sandbox = await startSandbox(NODE, [
      'scripts/sandbox.ts',
      '--layout',
      'mixcoord',
      '--mq',
      'kafka',
      '--chart-version',
      '4.2.30',
      '--k8s-version',
      '1.30.4',
      '--rollout-ms',
      '20',
      '--unready',
      'querynode',
      '--unready-reason',
      'NotReady',
      '--api-latency-ms',
      '400',
    ]);
    const { ready } = sandbox;
    const asked = performance.now();
    const [status, version] = await apiGet(ready, '/version', 'sandbox-test');
    assert.ok(performance.now() - asked >= 400, 'the answer came without the latency');
    assert.equal(status, 200);
    assert.equal((version as { gitVersion: string }).gitVersion, 'v1.30.4');

    const selector = 'app.kubernetes.io/instance=my-milvus';
    const [, list] = await apiGet(
      ready,
      `/api/v1/namespaces/default/pods?labelSelector=${selector}`,
      'sandbox-test',
    );
    const pods = (
      list as {
        items: {
          metadata: { labels: Record<string, string> };
          status: { conditions?: { type: string; status: string }[] };
        }[];
      }
    ).items;
    const isReady = (pod: (typeof pods)[number]) =>
      pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    const querynodes = pods.filter((pod) => pod.metadata.labels.component === 'querynode');
    assert.ok(querynodes.length > 0 && !querynodes.some(isReady), 'querynode is unready');
    assert.ok(pods.some((pod) => pod.metadata.labels.component === 'mixcoord' && isReady(pod)));
    assert.ok(pods.some((pod) => pod.metadata.labels['app.kubernetes.io/component'] === 'kafka'));

    sandbox.child.kill('SIGINT');
    assert.deepEqual(await sandbox.exit, { code: 0, signal: null });
  });

  it('resets connections, and stops by itself when `npm run` is killed without passing the signal on', async () => {
    const sandbox = await startSandbox('npm', [
      'run',
      '--silent',
      'sandbox',
      '--',
      '--mq',
      'kafka',
      '--api-reset-rate',
      '1',
    ]);
    await assert.rejects(apiGet(sandbox.ready, '/version', 'sandbox-test'), { code: 'ECONNRESET' });
    const { pid } = sandbox.ready;
    assert.notEqual(pid, sandbox.child.pid, 'npm runs the sandbox as its child');
    sandbox.child.kill('SIGTERM');
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    const deadline = Date.now() + 10_000;
    while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const lingered = alive();
    if (lingered) process.kill(pid, 'SIGKILL');
    assert.ok(!lingered, 'the sandbox still ran 10 s after npm was killed');
    assert.ok(!existsSync(sandbox.ready.kubeconfig), 'it stopped cleanly');
  });
});
