import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { getInputs, InputError, parseDuration, redactUrl } from '../../src/inputs.ts';
import { DEFAULT_PATH } from '../../src/milvus.ts';
import { actionDefaults } from '../support/action-defaults.ts';

const workspace = mkdtempSync(join(tmpdir(), 'inputs-'));
writeFileSync(join(workspace, 'ok.yaml'), 'queryNode:\n  replicas: 2\n');
writeFileSync(join(workspace, 'list.yaml'), '- a\n- b\n');
writeFileSync(join(workspace, 'broken.yaml'), 'a: 1\npassword: "s3cr3t-in-yaml\n');
writeFileSync(
  join(workspace, 'ca.pem'),
  '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
);
writeFileSync(join(workspace, 'huge.yaml'), `a: "${'x'.repeat(600 * 1024)}"\n`);

function inputs(overrides: Record<string, string>) {
  const all: Record<string, string> = {
    ...actionDefaults(),
    'release-name': 'milvus',
    ...overrides,
  };
  return getInputs((name) => all[name] ?? '', workspace);
}

function problems(overrides: Record<string, string>): string {
  try {
    inputs(overrides);
  } catch (error) {
    assert.ok(error instanceof InputError);
    return error.message;
  }
  assert.fail('expected an InputError');
}

describe('inputs', () => {
  test('the defaults of action.yml are valid and normalised', () => {
    const i = inputs({});
    assert.equal(i.releaseName, 'milvus');
    assert.equal(i.namespace, 'default');
    assert.equal(i.targetVersion, 'v2.6.4');
    assert.equal(i.intermediateVersion, 'v2.5.16');
    assert.equal(i.targetChartVersion, '5.0.0');
    assert.equal(i.intermediateChartVersion, '4.2.58');
    assert.equal(i.chartRepository, 'https://zilliztech.github.io/milvus-helm');
    assert.equal(i.chartName, 'milvus');
    assert.equal(i.helmVersion, 'v4.2.4');
    assert.equal(i.helmDownloadBaseUrl, 'https://get.helm.sh');
    assert.equal(i.helmSha256, undefined);
    assert.equal(i.timeout, '20m');
    assert.equal(i.timeoutMs, 20 * 60_000);
    assert.equal(i.dryRun, false);
    assert.deepEqual(i.valuesFiles, []);
    assert.equal(i.kubeconfig, undefined);
    assert.equal(i.kubeContext, undefined);
  });

  test("the release table's documented path is action.yml's default", () => {
    const { intermediateVersion, intermediateChartVersion, targetVersion, targetChartVersion } =
      inputs({});
    assert.deepEqual(
      { intermediateVersion, intermediateChartVersion, targetVersion, targetChartVersion },
      DEFAULT_PATH,
    );
  });

  test('versions without v are accepted and normalised', () => {
    const i = inputs({
      'target-version': '2.6.5',
      'intermediate-version': '2.5.17',
      'helm-version': '4.1.4',
    });
    assert.equal(i.targetVersion, 'v2.6.5');
    assert.equal(i.intermediateVersion, 'v2.5.17');
    assert.equal(i.helmVersion, 'v4.1.4');
    assert.equal(inputs({ 'helm-version': ' 3.14.0 ' }).helmVersion, 'v3.14.0');
  });

  test('values files are resolved against the workspace and parsed', () => {
    const i = inputs({ 'values-files': 'ok.yaml\n\n' });
    assert.deepEqual(i.valuesFiles, [
      { path: join(workspace, 'ok.yaml'), values: { queryNode: { replicas: 2 } } },
    ]);
  });

  test('dry-run accepts the YAML 1.2 core booleans', () => {
    assert.equal(inputs({ 'dry-run': 'True' }).dryRun, true);
    assert.equal(inputs({ 'dry-run': 'FALSE' }).dryRun, false);
  });

  const invalid: [string, Record<string, string>, RegExp][] = [
    ['missing release name', { 'release-name': '' }, /release-name is required/],
    ['release name with capitals', { 'release-name': 'My-Milvus' }, /release-name: 'My-Milvus'/],
    ['release name too long', { 'release-name': 'a'.repeat(54) }, /release-name/],
    ['namespace with underscore', { namespace: 'milvus_prod' }, /namespace: 'milvus_prod'/],
    ['target not semver', { 'target-version': 'latest' }, /target-version: 'latest'.*v2\.6\.4/],
    ['target not 2.6', { 'target-version': 'v2.5.16' }, /target-version.*2\.6\.x/],
    ['target a pre-release', { 'target-version': 'v2.6.0-rc1' }, /target-version: 'v2\.6\.0-rc1'/],
    [
      'intermediate below 2.5.16',
      { 'intermediate-version': 'v2.5.15' },
      /intermediate-version.*2\.5\.16/,
    ],
    ['intermediate in 2.6', { 'intermediate-version': 'v2.6.0' }, /intermediate-version/],
    [
      'chart version a range',
      { 'target-chart-version': '^5.0.0' },
      /target-chart-version: '\^5\.0\.0'/,
    ],
    ['chart version empty', { 'intermediate-chart-version': '' }, /intermediate-chart-version/],
    [
      'repository not a URL',
      { 'chart-repository': 'zilliztech' },
      /chart-repository: 'zilliztech'/,
    ],
    [
      'repository of another scheme',
      { 'chart-repository': 'ftp://charts.example/milvus' },
      /chart-repository: 'ftp:\/\/charts\.example\/milvus'.*https:\/\/, http:\/\/, oci:\/\/ URL/,
    ],
    [
      'repository with a query',
      { 'chart-repository': 'https://charts.example/?token=x' },
      /chart-repository: .*no query/,
    ],
    [
      'chart password without a user name',
      { 'chart-password': 'pw' },
      /chart-username and chart-password: set both, or neither\./,
    ],
    [
      'chart credentials twice',
      {
        'chart-repository': 'https://u:p@charts.example',
        'chart-username': 'u',
        'chart-password': 'p',
      },
      /credentials in its URL too; give them once/,
    ],
    ['CA file missing', { 'chart-ca-file': 'nope.pem' }, /chart-ca-file: 'nope\.pem'.*ENOENT/],
    [
      'CA file without a certificate',
      { 'chart-ca-file': 'list.yaml' },
      /chart-ca-file: 'list\.yaml'.*no certificate in it/,
    ],
    ['chart name with a slash', { 'chart-name': 'zilliztech/milvus' }, /chart-name/],
    ['helm too old', { 'helm-version': 'v3.13.3' }, /helm-version: 'v3\.13\.3'.*3\.14\.0/],
    ['helm not a version', { 'helm-version': 'latest' }, /helm-version/],
    [
      'download base not a URL',
      { 'helm-download-base-url': 'ftp://mirror' },
      /helm-download-base-url/,
    ],
    ['sha256 too short', { 'helm-sha256': 'abc123' }, /helm-sha256: 'abc123'/],
    [
      'sha256 with a prefix',
      { 'helm-sha256': `sha256:${'a'.repeat(64)}` },
      /helm-sha256: 'sha256:a+' is not valid; expected 64 hexadecimal digits/,
    ],
    [
      'download base of another scheme',
      { 'helm-download-base-url': 'file:///etc' },
      /helm-download-base-url: 'file:\/\/\/etc'.*https:\/\/, http:\/\/ URL/,
    ],
    [
      'download base without a scheme',
      { 'helm-download-base-url': 'get.helm.sh' },
      /helm-download-base-url: 'get\.helm\.sh'/,
    ],
    ['timeout without unit', { timeout: '20' }, /timeout: '20'.*Go duration/],
    ['timeout zero', { timeout: '0s' }, /timeout: '0s'/],
    ['timeout too short to apply a hop', { timeout: '1ns' }, /timeout: '1ns'.*from 5s to 24h/],
    ['timeout past a day', { timeout: '25h' }, /timeout: '25h'.*from 5s to 24h/],
    ['dry-run not a boolean', { 'dry-run': 'yes' }, /dry-run: 'yes'/],
    ...['latest', '3.19', '^3.19.0', 'v3.x', 'v3.19.0 && true', 'v4.0.0-rc.1'].map(
      (raw): [string, Record<string, string>, RegExp] => [
        `helm-version ${raw}`,
        { 'helm-version': raw },
        /helm-version: .* expected a Helm release of at least v3\.14\.0/,
      ],
    ),
    ['Helm older than 3.14', { 'helm-version': 'v3.13.3' }, /helm-version: 'v3\.13\.3'/],
    ['Helm 5', { 'helm-version': 'v5.0.0' }, /helm-version: 'v5\.0\.0'.*Helm 3 and Helm 4 only/],
    ['values file missing', { 'values-files': 'nope.yaml' }, /values-files: 'nope\.yaml'.*ENOENT/],
    [
      'values file not a mapping',
      { 'values-files': 'list.yaml' },
      /values-files: 'list\.yaml'.*mapping/,
    ],
    [
      'values file not YAML, naming the line and not its text',
      { 'values-files': 'broken.yaml' },
      /values-files: 'broken\.yaml'.*\(not valid YAML at line \d, column \d+\)\.\n/,
    ],
    [
      'values file over the size limit',
      { 'values-files': 'huge.yaml' },
      /values-files: 'huge\.yaml'.*more than the 262144 a values file may have/,
    ],
  ];
  for (const [name, overrides, expected] of invalid) {
    test(`refuses ${name}`, () => assert.match(problems(overrides), expected));
  }

  test('lists every problem at once and says nothing changed', () => {
    const message = problems({ namespace: 'A', timeout: 'x' });
    assert.match(message, /Invalid inputs:/);
    assert.match(message, /namespace/);
    assert.match(message, /timeout/);
    assert.match(message, /Nothing was changed/);
  });

  test('a YAML error never echoes the file', () => {
    assert.doesNotMatch(problems({ 'values-files': 'broken.yaml' }), /s3cr3t-in-yaml/);
  });

  test('credentials in URLs are taken out of them', () => {
    const i = inputs({
      'chart-repository': 'https://bot:p%40ss%3Aword@charts.example/milvus/',
      'helm-download-base-url': 'https://mirror.example',
    });
    assert.equal(i.chartRepository, 'https://charts.example/milvus');
    assert.deepEqual(i.chartRepositoryAuth, { username: 'bot', password: 'p@ss:word' });
    assert.equal(i.helmDownloadAuth, undefined);
    assert.equal(redactUrl('http://u:p@host:8080/x'), 'http://***@host:8080/x');
    assert.equal(redactUrl('http://host/a@b'), 'http://host/a@b');
  });

  test('helm-sha256 is taken in either case and kept in lower case', () => {
    assert.equal(inputs({ 'helm-sha256': ` ${'AB'.repeat(32)} ` }).helmSha256, 'ab'.repeat(32));
  });

  test('an OCI registry path, its credentials and a CA file', () => {
    const i = inputs({
      'chart-repository': 'OCI://registry.example:5000/charts/',
      'chart-username': 'robot$ci',
      'chart-password': ' s3cret ',
      'chart-ca-file': 'ca.pem',
    });
    assert.equal(i.chartRepository, 'oci://registry.example:5000/charts');
    assert.equal(i.ociRegistry, true);
    assert.deepEqual(i.chartRepositoryAuth, { username: 'robot$ci', password: 's3cret' });
    assert.equal(i.chartCaFile, join(workspace, 'ca.pem'));
    const http = inputs({ 'chart-repository': 'https://charts.example/milvus' });
    assert.deepEqual(
      [http.ociRegistry, http.chartRepositoryAuth, http.chartCaFile],
      [false, undefined, undefined],
    );
  });

  test('verify-milvus is on unless set false; the Milvus token is optional', () => {
    assert.deepEqual([inputs({}).verifyMilvus, inputs({}).milvusToken], [true, undefined]);
    const off = inputs({ 'verify-milvus': 'false', 'milvus-token': ' root:Milvus \n' });
    assert.deepEqual([off.verifyMilvus, off.milvusToken], [false, 'root:Milvus']);
    assert.match(problems({ 'verify-milvus': 'no' }), /verify-milvus: 'no'.*true or false/);
  });

  test('never echoes the kubeconfig', () => {
    const message = problems({ kubeconfig: 'token: s3cr3t', namespace: 'A' });
    assert.doesNotMatch(message, /s3cr3t/);
  });
});

describe('Go durations', () => {
  const cases: [string, number | undefined][] = [
    ['20m', 1_200_000],
    ['1h30m', 5_400_000],
    ['90s', 90_000],
    ['1.5h', 5_400_000],
    ['500ms', 500],
    ['0s', undefined],
    ['20', undefined],
    ['m', undefined],
    ['-5m', undefined],
    ['5 m', undefined],
  ];
  for (const [raw, ms] of cases) test(raw, () => assert.equal(parseDuration(raw), ms));
});
