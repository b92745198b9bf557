import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { V1Pod } from '@kubernetes/client-node';
import { Helm } from '../../src/helm.ts';
import {
  exactFilter,
  rollbackCommand,
  type UpgradeSpec,
  upgradeArgs,
} from '../../src/helm-args.ts';
import { HelmError, STDERR_LIMIT, trimStderr } from '../../src/helm-errors.ts';
import {
  parseDryRun,
  parseHistory,
  parseList,
  parseStatus,
  splitChart,
} from '../../src/helm-output.ts';
import { readManifest } from '../../src/manifest.ts';
import { HOP_TO_MIXCOORD, HOP_TO_STREAMING } from '../../src/milvus.ts';
import { type ControlPlane, startControlPlane } from '../control-plane/cluster.ts';
import {
  chartArchive,
  MILVUS_CHART_VERSIONS,
  startChartRepository,
} from '../support/chart-repo.ts';
import { type FileServer, serveFiles } from '../support/file-server.ts';
import { HELM_VERSIONS, helmBinary } from '../support/helm-binaries.ts';
import { type ReleaseRecord, writeReleaseRecord } from '../support/release-records.ts';

const execFileAsync = promisify(execFile);
const scratch = mkdtempSync(join(tmpdir(), 'helm-test-'));
// Helm.create makes its private repository directory under RUNNER_TEMP: keep it in scratch.
process.env.RUNNER_TEMP = scratch;
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Namespace of the release records, and of each Helm version's own release. */
const RECORDS_NAMESPACE = 'milvus';
const helmNamespace = (version: string) => `web-${version.replace(/\./g, '-')}`;

/**
 * One control plane for the file, started by the first test that needs it: each Helm version
 * works in a namespace of its own, so they can share it.
 */
let controlPlane: Promise<ControlPlane> | undefined;
function cluster(): Promise<ControlPlane> {
  controlPlane ??= startControlPlane({
    rolloutMs: 50,
    namespaces: [RECORDS_NAMESPACE, ...HELM_VERSIONS.map(helmNamespace)],
  });
  return controlPlane;
}
after(async () => (await controlPlane)?.stop());

/** A HOME and Helm directories of the test's own, so the real user's Helm set-up is never read. */
function isolatedEnv(name: string): Record<string, string> {
  const home = join(scratch, name);
  mkdirSync(home, { recursive: true });
  return {
    HOME: home,
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_DATA_HOME: join(home, 'data'),
    KUBECACHEDIR: join(home, 'kubecache'),
  };
}

const hop1: UpgradeSpec = {
  release: 'my-milvus',
  namespace: 'milvus',
  chartRef: 'zilliztech/milvus',
  chartVersion: '4.2.58',
  sets: [['image.all.tag', 'v2.5.16'], ...HOP_TO_MIXCOORD.sets],
  helmMajor: 3,
  timeout: '20m',
};

describe('upgradeArgs', () => {
  const cases: { name: string; spec: UpgradeSpec; expected: string[] }[] = [
    {
      name: 'hop 1 on Helm 3',
      spec: hop1,
      expected: [
        'upgrade',
        'my-milvus',
        'zilliztech/milvus',
        '--namespace',
        'milvus',
        '--version',
        '4.2.58',
        '--reset-then-reuse-values',
        '--set',
        'image.all.tag=v2.5.16',
        '--set',
        'mixCoordinator.enabled=true',
        '--set',
        'rootCoordinator.enabled=false',
        '--set',
        'queryCoordinator.enabled=false',
        '--set',
        'dataCoordinator.enabled=false',
        '--set',
        'indexCoordinator.enabled=false',
        '--wait',
        '--timeout',
        '20m',
      ],
    },
    {
      name: 'hop 2 on Helm 4, with values files and queue pins',
      spec: {
        release: 'my-milvus',
        namespace: 'milvus',
        chartRef: 'zilliztech/milvus',
        chartVersion: '5.0.0',
        valuesFiles: ['/work/a values.yaml', 'b.yaml'],
        sets: [
          ['image.all.tag', 'v2.6.4'],
          ...HOP_TO_STREAMING.sets,
          ['pulsar.enabled', 'true'],
          ['pulsarv3.enabled', 'false'],
        ],
        helmMajor: 4,
        timeout: '1h30m',
      },
      expected: [
        'upgrade',
        'my-milvus',
        'zilliztech/milvus',
        '--namespace',
        'milvus',
        '--version',
        '5.0.0',
        '--reset-then-reuse-values',
        '-f',
        '/work/a values.yaml',
        '-f',
        'b.yaml',
        '--set',
        'image.all.tag=v2.6.4',
        '--set',
        'streaming.enabled=true',
        '--set',
        'indexNode.enabled=false',
        '--set',
        'pulsar.enabled=true',
        '--set',
        'pulsarv3.enabled=false',
        '--wait=watcher',
        '--timeout',
        '1h30m',
      ],
    },
    {
      name: 'a dry run on Helm 3: rendered on the server, no wait',
      spec: { ...hop1, sets: [['image.all.tag', 'v2.5.16']], dryRun: true },
      expected: [
        'upgrade',
        'my-milvus',
        'zilliztech/milvus',
        '--namespace',
        'milvus',
        '--version',
        '4.2.58',
        '--reset-then-reuse-values',
        '--set',
        'image.all.tag=v2.5.16',
        '--dry-run=server',
        '--output',
        'json',
        '--timeout',
        '20m',
      ],
    },
    {
      name: 'a dry run on Helm 4: the same flags',
      spec: { ...hop1, sets: [], helmMajor: 4, dryRun: true },
      expected: [
        'upgrade',
        'my-milvus',
        'zilliztech/milvus',
        '--namespace',
        'milvus',
        '--version',
        '4.2.58',
        '--reset-then-reuse-values',
        '--dry-run=server',
        '--output',
        'json',
        '--timeout',
        '20m',
      ],
    },
    {
      name: 'values with commas and backslashes stay literal',
      spec: { ...hop1, sets: [['extraEnv[0].value', 'a,b\\c']], helmMajor: 4 },
      expected: [
        'upgrade',
        'my-milvus',
        'zilliztech/milvus',
        '--namespace',
        'milvus',
        '--version',
        '4.2.58',
        '--reset-then-reuse-values',
        '--set',
        'extraEnv[0].value=a\\,b\\\\c',
        '--wait=watcher',
        '--timeout',
        '20m',
      ],
    },
  ];
  for (const { name, spec, expected } of cases) {
    test(name, () => assert.deepEqual(upgradeArgs(spec), expected));
  }

  test('never forces, rolls back, or installs', () => {
    for (const helmMajor of [3, 4] as const) {
      for (const dryRun of [false, true]) {
        const args = upgradeArgs({ ...hop1, helmMajor, dryRun });
        for (const flag of ['--force', '--atomic', '--rollback-on-failure', '--install', '-i']) {
          assert.ok(!args.some((arg) => arg === flag || arg.startsWith(`${flag}=`)), flag);
        }
        assert.equal(args.filter((a) => a === '--reset-then-reuse-values').length, 1);
      }
    }
  });

  test('refuses odd keys (the timeout was validated with the inputs)', () => {
    assert.throws(() => upgradeArgs({ ...hop1, sets: [['a=b', 'c']] }), /not a values key/);
    assert.throws(() => upgradeArgs({ ...hop1, sets: [['a,b', 'c']] }), /not a values key/);
    assert.deepEqual(upgradeArgs({ ...hop1, timeout: '1h2m3.5s' }).slice(-2), [
      '--timeout',
      '1h2m3.5s',
    ]);
    assert.deepEqual(upgradeArgs({ ...hop1, caFile: '/ca.pem' }).slice(7, 10), [
      '--reset-then-reuse-values',
      '--ca-file',
      '/ca.pem',
    ]);
  });
});

describe('parsing Helm output', () => {
  test('splits chart names that contain dashes', () => {
    const cases: [string, string, string][] = [
      ['milvus-4.2.58', 'milvus', '4.2.58'],
      ['my-chart-1.0.0-rc.1', 'my-chart', '1.0.0-rc.1'],
      ['milvus-operator-1.3.0', 'milvus-operator', '1.3.0'],
      ['a-2-b-10.20.30+build.5', 'a-2-b', '10.20.30+build.5'],
      ['chart-v1.2.3', 'chart', 'v1.2.3'],
      ['chart-1.2-3.4.5', 'chart-1.2', '3.4.5'],
      ['no-version', 'no-version', ''],
    ];
    for (const [chart, chartName, chartVersion] of cases) {
      assert.deepEqual(splitChart(chart), { chartName, chartVersion }, chart);
    }
  });

  test('exactFilter anchors and escapes', () => {
    assert.equal(exactFilter('my-milvus'), '^my-milvus$');
    assert.equal(exactFilter('a.b'), '^a\\.b$');
  });

  test('parses list and status JSON', () => {
    assert.deepEqual(
      parseList(
        '[{"name":"m","namespace":"ns","revision":"3","updated":"2025-01-01 00:00:00 +0000 UTC","status":"pending-upgrade","chart":"milvus-4.2.58","app_version":"2.5.16"}]',
      ),
      [
        {
          name: 'm',
          namespace: 'ns',
          revision: 3,
          status: 'pending-upgrade',
          chart: 'milvus-4.2.58',
          chartName: 'milvus',
          chartVersion: '4.2.58',
          appVersion: '2.5.16',
          updated: '2025-01-01 00:00:00 +0000 UTC',
        },
      ],
    );
    assert.deepEqual(parseList('[]'), []);
    const status = parseStatus(
      JSON.stringify({
        name: 'm',
        namespace: 'ns',
        version: 4,
        info: { status: 'deployed', description: 'Upgrade complete', last_deployed: 'x' },
        config: { secret: 'do-not-keep' },
        manifest: 'kind: Secret',
      }),
    );
    assert.deepEqual(status, {
      name: 'm',
      namespace: 'ns',
      revision: 4,
      status: 'deployed',
      description: 'Upgrade complete',
      lastDeployed: 'x',
      chartName: undefined,
      chartVersion: undefined,
      appVersion: undefined,
    });
    assert.throws(
      () => parseList('Error: nope'),
      (error: unknown) => {
        assert.ok(error instanceof HelmError);
        assert.doesNotMatch(error.message, /nope/, 'output is never quoted');
        return true;
      },
    );
  });

  test('parses a dry run and the history, keeping no manifest text beyond the release', () => {
    const json = JSON.stringify({
      name: 'my-milvus',
      config: { pulsar: { enabled: true } },
      chart: { metadata: { version: '4.2.58', appVersion: '2.5.16' }, values: { a: 1 } },
      manifest: 'kind: ConfigMap\nmetadata:\n  name: x\n',
    });
    assert.deepEqual(parseDryRun(json), {
      userValues: { pulsar: { enabled: true } },
      chartValues: { a: 1 },
      chartVersion: '4.2.58',
      appVersion: '2.5.16',
      manifest: 'kind: ConfigMap\nmetadata:\n  name: x\n',
      applyMethod: '',
    });
    assert.throws(() => parseDryRun('Release "x" has been upgraded'), HelmError);
    assert.deepEqual(
      parseHistory(
        '[{"revision":1,"status":"superseded","chart":"milvus-4.2.20","description":"Install complete"},{"revision":2,"status":"failed","chart":"milvus-4.2.58","description":"Upgrade failed"}]',
      ).map((r) => [r.revision, r.status, r.chart]),
      [
        [1, 'superseded', 'milvus-4.2.20'],
        [2, 'failed', 'milvus-4.2.58'],
      ],
    );
  });

  test('HelmError keeps the end of stderr, at most STDERR_LIMIT characters', () => {
    const long = `${'noise\n'.repeat(1000)}Error: UPGRADE FAILED: timed out waiting for the condition`;
    const error = new HelmError('upgrade', 1, long);
    assert.ok(error.stderr.length <= STDERR_LIMIT);
    assert.match(error.stderr, /^….*timed out waiting for the condition$/s);
    assert.match(error.message, /^helm upgrade failed \(exit code 1\): …/);
    assert.match(error.message, /raise the timeout input/);
    assert.equal(trimStderr('  short \n'), 'short');
    assert.match(
      new HelmError(
        'upgrade',
        1,
        'Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress',
      ).message,
      /Another Helm operation holds the release: .*do not roll back/,
    );
    const refused = new HelmError(
      'repo add',
      1,
      'Error: looks like "http://127.0.0.1:1" is not a valid chart repository or cannot be reached: dial tcp 127.0.0.1:1: connect: connection refused',
    );
    assert.match(refused.message, /chart-repository/);
    assert.doesNotMatch(refused.message, /kubeconfig|chart-ca-file/);
    const untrusted = new HelmError(
      'registry login',
      1,
      'Error: Get "https://127.0.0.1:5000/v2/": tls: failed to verify certificate: x509: certificate signed by unknown authority',
    );
    assert.match(untrusted.message, /chart-username and chart-password.*set chart-ca-file/);
  });
});

describe('Helm.create against the real binaries', () => {
  for (const version of HELM_VERSIONS) {
    test(version, async () => {
      const helm = await Helm.create({
        binary: helmBinary(version),
        version,
        env: isolatedEnv(`create-${version}`),
        kubeconfig: '/nonexistent/kubeconfig',
        kubeContext: 'ctx',
      });
      assert.equal(helm.version, version);
      assert.equal(helm.major, version.startsWith('v4') ? 4 : 3);
      assert.equal(helm.env.KUBECONFIG, '/nonexistent/kubeconfig');
      assert.equal(helm.env.HELM_KUBECONTEXT, 'ctx');
      assert.match(
        helm.env.HELM_REPOSITORY_CONFIG ?? '',
        /milvus-upgrade-helm-.*repositories\.yaml$/,
      );
      assert.match(helm.env.HELM_REPOSITORY_CACHE ?? '', /milvus-upgrade-helm-/);
      assert.equal(
        rollbackCommand('my-milvus', 'milvus', 7),
        'helm rollback my-milvus 7 --namespace milvus',
      );
      const repositoryDir = dirname(helm.env.HELM_REPOSITORY_CONFIG ?? '');
      assert.ok(existsSync(repositoryDir));
      await helm.dispose();
      assert.ok(!existsSync(repositoryDir), 'dispose removes the private repository directory');
      assert.deepEqual(upgradeArgs({ ...hop1, helmMajor: helm.major, sets: [] }).slice(-3), [
        helm.major === 4 ? '--wait=watcher' : '--wait',
        '--timeout',
        '20m',
      ]);
    });
  }

  test('a binary that does not exist: HelmError, exit code -1', async () => {
    const helm = await Helm.create({
      binary: join(scratch, 'no-helm'),
      version: 'v3.18.0',
      env: isolatedEnv('missing'),
    });
    await assert.rejects(helm.list('default'), (error: unknown) => {
      assert.ok(error instanceof HelmError);
      assert.match(error.message, /^helm list failed \(exit code -1\): could not run /);
      return true;
    });
    await helm.dispose();
  });

  test('upgrade refuses forbidden flags before running anything', async () => {
    const helm = await Helm.create({
      binary: helmBinary('v3.18.0'),
      version: 'v3.18.0',
      env: isolatedEnv('forbid'),
    });
    for (const flag of ['--force', '--atomic', '--rollback-on-failure', '--install']) {
      await assert.rejects(helm.upgrade([...upgradeArgs(hop1), flag]), /refuses/);
    }
    await assert.rejects(helm.upgrade(['rollback', 'x']), /needs arguments from upgradeArgs/);
    await assert.rejects(helm.upgrade(upgradeArgs({ ...hop1, dryRun: true })), /Helm\.dryRun/);
    await assert.rejects(helm.dryRun(upgradeArgs(hop1)), /needs --dry-run=server/);
  });
});

/** Writes a minimal chart directory. */
function writeChart(dir: string, name: string, version: string, appVersion: string): string {
  const chartDir = join(dir, `${name}-${version}`, name);
  mkdirSync(join(chartDir, 'templates'), { recursive: true });
  writeFileSync(
    join(chartDir, 'Chart.yaml'),
    `apiVersion: v2\nname: ${name}\nversion: ${version}\nappVersion: "${appVersion}"\ndescription: test chart\n`,
  );
  writeFileSync(
    join(chartDir, 'values.yaml'),
    [
      '# Defaults of the test chart.',
      'image:',
      '  all:',
      '    repository: milvusdb/milvus',
      `    tag: v${appVersion}`,
      'mixCoordinator:',
      '  enabled: true',
      'streaming:',
      `  enabled: ${version.startsWith('5.')}`,
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(chartDir, 'templates', 'configmap.yaml'),
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  tag: {{ .Values.image.all.tag | quote }}\n',
  );
  return chartDir;
}

describe('chart repository commands against a local repository', () => {
  let repoUrl = '';
  let server: FileServer | undefined;

  before(async () => {
    const source = join(scratch, 'charts');
    const repo = join(scratch, 'repo');
    mkdirSync(repo, { recursive: true });
    const helm = helmBinary('v3.18.0');
    const env = { ...process.env, ...isolatedEnv('packager') };
    for (const [name, version, app] of [
      ['milvus', '4.2.58', '2.5.16'],
      ['milvus', '5.0.0', '2.6.0'],
      ['milvus', '5.0.1-rc.1', '2.6.1'],
      ['milvus-operator', '1.3.0', '1.3.0'],
    ] as const) {
      const chartDir = writeChart(source, name, version, app);
      execFileSync(helm, ['package', chartDir, '--destination', repo], { env, stdio: 'ignore' });
    }
    execFileSync(helm, ['repo', 'index', repo], { env, stdio: 'ignore' });
    const files = new Map(
      readdirSync(repo).map((name) => [`/${name}`, readFileSync(join(repo, name))]),
    );
    server = await serveFiles(files, () => 'application/octet-stream');
    repoUrl = server.url;
  });
  after(() => server?.stop());

  for (const version of HELM_VERSIONS) {
    test(`${version}: repo add/update, search exact versions`, async () => {
      const env = isolatedEnv(`repo-${version}`);
      // The user's own repository list, which the action must leave alone.
      const userRepos = join(env.HOME ?? '', 'user-repositories.yaml');
      writeFileSync(userRepos, 'apiVersion: ""\nrepositories: []\n');
      const helm = await Helm.create({
        binary: helmBinary(version),
        version,
        env: { ...env, HELM_REPOSITORY_CONFIG: userRepos },
      });

      await assert.rejects(helm.searchVersions('zilliztech/milvus'), (error: unknown) => {
        assert.ok(error instanceof HelmError);
        assert.match(error.message, /^helm search repo failed /);
        assert.match(error.stderr, /no repositories/);
        assert.match(error.message, /chart-repository/);
        return true;
      });

      await helm.repoAdd('zilliztech', repoUrl);
      await helm.repoAdd('zilliztech', repoUrl); // --force-update: idempotent
      assert.equal(readFileSync(userRepos, 'utf8'), 'apiVersion: ""\nrepositories: []\n');
      assert.match(readFileSync(helm.env.HELM_REPOSITORY_CONFIG ?? '', 'utf8'), /zilliztech/);

      assert.deepEqual(await helm.searchVersions('zilliztech/milvus'), [
        { version: '5.0.0', appVersion: '2.6.0' },
        { version: '4.2.58', appVersion: '2.5.16' },
      ]);
      assert.deepEqual(await helm.searchVersions('zilliztech/milvus-operator'), [
        { version: '1.3.0', appVersion: '1.3.0' },
      ]);
      assert.deepEqual(await helm.searchVersions('zilliztech/milv'), []);

      await assert.rejects(helm.repoAdd('broken', 'http://127.0.0.1:1/'), HelmError);
    });
  }
});

describe('the fixture Milvus chart repository', () => {
  test('every Helm lists the fixture Milvus versions with their Milvus versions', async () => {
    const repository = await startChartRepository();
    try {
      for (const version of HELM_VERSIONS) {
        const helm = await Helm.create({
          binary: helmBinary(version),
          version,
          env: isolatedEnv(`fixtures-${version}`),
        });
        await helm.repoAdd('fixtures', repository.url);
        const versions = await helm.searchVersions('fixtures/milvus');
        assert.deepEqual(
          versions.map((v) => v.version),
          [...MILVUS_CHART_VERSIONS].reverse(),
          version,
        );
        assert.deepEqual(await helm.searchVersions('fixtures/webapp'), [
          { version: '1.0.0', appVersion: '1.27.0' },
        ]);
        const apps = Object.fromEntries(versions.map((v) => [v.version, v.appVersion]));
        assert.equal(apps['4.2.58'], '2.5.16');
        assert.equal(apps['5.0.0'], '2.6.0');
      }
    } finally {
      await repository.stop();
    }
  });
});

describe('read commands against release records in the test cluster', () => {
  const namespace = RECORDS_NAMESPACE;
  let plane: ControlPlane;

  before(async () => {
    plane = await cluster();
    const records: Omit<ReleaseRecord, 'namespace'>[] = [
      {
        name: 'my-milvus',
        version: 1,
        status: 'superseded',
        chart: ['milvus', '4.2.20', '2.5.4'],
        config: { pulsar: { enabled: true } },
      },
      {
        name: 'my-milvus',
        version: 2,
        status: 'pending-upgrade',
        chart: ['milvus', '4.2.58', '2.5.16'],
        config: { pulsar: { enabled: true }, image: { all: { tag: 'v2.5.16' } } },
      },
      {
        name: 'bare',
        version: 1,
        status: 'deployed',
        chart: ['my-chart', '1.0.0-rc.1', '1.0'],
        config: null,
      },
      {
        name: 'broken',
        version: 1,
        status: 'failed',
        chart: ['milvus', '4.2.58', '2.5.16'],
        config: {},
      },
    ];
    for (const record of records) {
      const [, , appVersion] = record.chart;
      await writeReleaseRecord(plane, {
        ...record,
        namespace,
        chartValues: { image: { all: { tag: `v${appVersion}` } } },
      });
    }
  });

  for (const version of HELM_VERSIONS) {
    test(`${version}: list, status, get values; status of a missing release`, async () => {
      const helm = await Helm.create({
        binary: helmBinary(version),
        version,
        env: { ...isolatedEnv(`store-${version}`), ...plane.env(`store-${version}`) },
      });

      const all = await helm.list(namespace);
      assert.deepEqual(
        all.map((e) => [e.name, e.revision, e.status, e.chartName, e.chartVersion, e.appVersion]),
        [
          ['bare', 1, 'deployed', 'my-chart', '1.0.0-rc.1', '1.0'],
          ['broken', 1, 'failed', 'milvus', '4.2.58', '2.5.16'],
          ['my-milvus', 2, 'pending-upgrade', 'milvus', '4.2.58', '2.5.16'],
        ],
        'every state is listed, pending-upgrade too',
      );
      const mine = await helm.list(namespace, { filter: exactFilter('my-milvus') });
      assert.deepEqual(
        mine.map((e) => e.name),
        ['my-milvus'],
      );
      assert.deepEqual(await helm.list(namespace, { filter: exactFilter('my') }), []);

      const [pending] = await helm.list(namespace, { filter: exactFilter('my-milvus') });
      assert.equal(pending?.status, 'pending-upgrade');
      assert.equal(
        (await helm.status('my-milvus', namespace))?.description,
        'pending-upgrade revision',
      );

      assert.deepEqual(await helm.getValues('my-milvus', namespace), {
        pulsar: { enabled: true },
        image: { all: { tag: 'v2.5.16' } },
      });
      assert.deepEqual(await helm.getValues('bare', namespace), {}, 'null values → {}');
      assert.deepEqual(await helm.getValues('bare', namespace, { all: true }), {
        image: { all: { tag: 'v1.0' } },
      });
      await assert.rejects(helm.getValues('nosuch', namespace), (error: unknown) => {
        assert.ok(error instanceof HelmError);
        assert.match(error.stderr, /release: not found/);
        return true;
      });

      assert.equal(await helm.status('nosuch', namespace), undefined);
    });

    test(`${version}: an unreachable cluster is an error, not a missing release`, async () => {
      const kubeconfig = join(scratch, 'unreachable');
      writeFileSync(
        kubeconfig,
        'apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: "http://127.0.0.1:1"}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\nusers:\n- name: u\n  user: {}\n',
      );
      const helm = await Helm.create({
        binary: helmBinary(version),
        version,
        env: isolatedEnv(`unreachable-${version}`),
        kubeconfig,
      });
      await assert.rejects(helm.status('my-milvus', namespace), (error: unknown) => {
        assert.ok(error instanceof HelmError);
        assert.match(error.message, /^helm status failed \(exit code 1\): /);
        assert.match(error.stderr, /cluster unreachable/i);
        assert.match(error.message, /Check the kubeconfig and kube-context inputs/);
        return true;
      });
      await assert.rejects(helm.list(namespace), /cluster unreachable/i);
    });
  }
});

describe('against the test cluster', { concurrency: true }, () => {
  let repository: Awaited<ReturnType<typeof startChartRepository>>;

  before(async () => {
    repository = await startChartRepository();
  });
  after(() => repository?.stop());

  for (const version of HELM_VERSIONS) {
    describe(`Helm ${version}`, { concurrency: 1 }, () => {
      const namespace = helmNamespace(version);
      let store: ControlPlane['store'];
      let helm: Helm;

      before(async () => {
        const plane = await cluster();
        store = plane.store;
        const env = { ...isolatedEnv(`cluster-${version}`), ...plane.env(version) };
        // Set-up only: the action never installs, so the release is made with Helm directly.
        await execFileAsync(
          helmBinary(version),
          ['install', 'web', chartArchive('1.0.0', 'webapp'), '--namespace', namespace],
          { env: { ...process.env, ...env } },
        );
        helm = await Helm.create({ binary: helmBinary(version), version, env: env });
        await helm.repoAdd('fixtures', repository.url);
      });
      after(() => helm?.dispose());

      test('status, list and values of a release', async () => {
        const status = await helm.status('web', namespace);
        assert.ok(status);
        assert.equal(status.name, 'web');
        assert.equal(status.namespace, namespace);
        assert.equal(status.revision, 1);
        assert.equal(status.status, 'deployed');
        assert.equal(await helm.status('nosuch', namespace), undefined);
        assert.equal(await helm.status('web', 'default'), undefined, 'other namespace');

        const [entry, ...rest] = await helm.list(namespace, { filter: exactFilter('web') });
        assert.deepEqual(rest, []);
        assert.equal(entry?.chartName, 'webapp');
        assert.equal(entry?.chartVersion, '1.0.0');
        assert.equal(entry?.appVersion, '1.27.0');
        assert.equal(entry?.revision, 1);

        assert.deepEqual(await helm.getValues('web', namespace), {});
        const all = await helm.getValues('web', namespace, { all: true });
        assert.deepEqual(all.image, { repository: 'nginx', tag: '1.27' });
      });

      test('a dry run renders on the server what Helm would record, and changes nothing', async () => {
        const release = await helm.dryRun(
          upgradeArgs({
            release: 'web',
            namespace,
            chartRef: 'fixtures/webapp',
            chartVersion: '1.0.0',
            sets: [['image.tag', '1.28']],
            helmMajor: helm.major,
            timeout: '60s',
            dryRun: true,
          }),
        );
        assert.deepEqual(release.userValues, { image: { tag: '1.28' } });
        assert.deepEqual(release.chartValues.image, { repository: 'nginx', tag: '1.27' });
        assert.deepEqual([release.chartVersion, release.appVersion], ['1.0.0', '1.27.0']);
        const rendered = readManifest(release.manifest);
        assert.deepEqual(rendered.objects.sort(), ['Deployment/web-webapp', 'Service/web-webapp']);
        assert.equal(rendered.workloads[0]?.fields['image web'], 'nginx:1.28');
        assert.equal((await helm.status('web', namespace))?.revision, 1);
        const deployment = await store.get('deployments', namespace, 'web-webapp');
        assert.match(JSON.stringify(deployment?.spec), /nginx:1\.27/);
      });

      test('an upgrade waits, keeps the values, and shows in the history', async () => {
        const valuesFile = join(scratch, `extra-values-${version}.yaml`);
        writeFileSync(valuesFile, 'service:\n  port: 8080\n');
        const args = upgradeArgs({
          helmMajor: helm.major,
          release: 'web',
          namespace,
          chartRef: 'fixtures/webapp',
          chartVersion: '1.0.0',
          valuesFiles: [valuesFile],
          sets: [
            ['image.tag', '1.28'],
            ['replicaCount', '2'],
          ],
          timeout: '60s',
        });
        assert.ok(args.includes(helm.major === 4 ? '--wait=watcher' : '--wait'));
        await helm.upgrade(args);

        const deployment = await store.get('deployments', namespace, 'web-webapp');
        assert.match(JSON.stringify(deployment?.spec), /nginx:1\.28/);
        // Helm returned once both new pods were ready; an old one may still be on its way out.
        const pods = await store.list('pods', { namespace });
        const readyNew = pods.filter(
          (pod) =>
            JSON.stringify(pod.spec).includes('nginx:1.28') &&
            (pod.status as V1Pod['status'])?.conditions?.some(
              (c) => c.type === 'Ready' && c.status === 'True',
            ),
        );
        assert.equal(readyNew.length, 2);
        assert.deepEqual(await helm.getValues('web', namespace), {
          image: { tag: '1.28' },
          replicaCount: 2,
          service: { port: 8080 },
        });
        const status = await helm.status('web', namespace);
        assert.equal(status?.revision, 2);
        assert.equal(status?.status, 'deployed');
        assert.deepEqual(
          (await helm.history('web', namespace)).map((r) => [r.revision, r.status]),
          [
            [1, 'superseded'],
            [2, 'deployed'],
          ],
        );
        assert.match(await helm.getManifest('web', namespace, 1), /nginx:1\.27/);
        assert.match(await helm.getManifest('web', namespace), /nginx:1\.28/);
        const first = await helm.getValues('web', namespace, { all: true, revision: 1 });
        assert.deepEqual(first.image, { repository: 'nginx', tag: '1.27' });

        // --reset-then-reuse-values: the next hop keeps what was set before.
        await helm.upgrade(
          upgradeArgs({
            helmMajor: helm.major,
            release: 'web',
            namespace,
            chartRef: 'fixtures/webapp',
            chartVersion: '1.0.0',
            sets: [['image.tag', '1.29']],
            timeout: '60s',
          }),
        );
        assert.deepEqual(await helm.getValues('web', namespace), {
          image: { tag: '1.29' },
          replicaCount: 2,
          service: { port: 8080 },
        });
      });

      test('a failed upgrade is a HelmError with a short stderr', async () => {
        await assert.rejects(
          helm.upgrade(
            upgradeArgs({
              helmMajor: helm.major,
              release: 'web',
              namespace,
              chartRef: 'fixtures/webapp',
              chartVersion: '9.9.9',
              sets: [],
              timeout: '60s',
            }),
          ),
          (error: unknown) => {
            assert.ok(error instanceof HelmError);
            assert.match(error.message, /^helm upgrade failed \(exit code 1\): /);
            assert.match(error.stderr, /9\.9\.9/);
            assert.ok(error.stderr.length <= STDERR_LIMIT);
            return true;
          },
        );
        await assert.rejects(
          helm.upgrade(
            upgradeArgs({
              helmMajor: helm.major,
              release: 'nosuch',
              namespace,
              chartRef: 'fixtures/webapp',
              chartVersion: '1.0.0',
              sets: [],
              timeout: '60s',
            }),
          ),
          (error: unknown) => {
            assert.ok(error instanceof HelmError);
            assert.match(error.stderr, /"nosuch" has no deployed releases/);
            assert.match(error.message, /check release-name and namespace/);
            return true;
          },
        );
      });
    });
  }
});
