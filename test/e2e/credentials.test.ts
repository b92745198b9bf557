// A chart repository and a Helm mirror behind Basic authentication, with the credentials in the
// URL inputs, and an OCI registry with its own CA, with them in chart-username and chart-password:
// they are used (the servers answer 401 without them) and never shown.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { installMilvus, startWorld, type World } from '../support/harness.ts';
import { type OciRegistry, startOciRegistry } from '../support/oci-registry.ts';
import { act, assertAt264, assertSucceeded, failure, jsonOutputs, log, tail } from './checks.ts';

const CREDENTIALS = { username: 'deploy-bot', password: 'pa55:w@rd/Zq81' };
const ENCODED = encodeURIComponent(CREDENTIALS.password);

/** `http://user:password@host:port` from a server URL. */
function withCredentials(url: string, password = ENCODED): string {
  return url.replace('http://', `http://${CREDENTIALS.username}:${password}@`);
}

describe('credentials for chart repositories, OCI registries and the Helm download', () => {
  let world: World;
  let registry: OciRegistry;
  before(async () => {
    const [started, opened] = await Promise.allSettled([
      startWorld({ rolloutMs: 30, credentials: CREDENTIALS }),
      startOciRegistry(CREDENTIALS),
    ]);
    // Kept for `after` to stop even when the other failed to start.
    if (started.status === 'fulfilled') world = started.value;
    if (opened.status === 'fulfilled') registry = opened.value;
    for (const result of [started, opened]) if (result.status === 'rejected') throw result.reason;
    await installMilvus(world, {
      chartVersion: '4.2.58',
      milvusVersion: 'v2.5.16',
      layout: 'mixcoord',
      mq: 'pulsarv3',
    });
  });
  after(() => Promise.all([world?.stop(), registry?.stop()]));

  /** The inputs of a run that takes the chart from the registry. */
  const fromRegistry = (password = CREDENTIALS.password) => ({
    'chart-repository': registry.url,
    'chart-username': CREDENTIALS.username,
    'chart-password': password,
  });
  /** The oldest Helm the action takes, from the mirror (behind the password), for Helm 3 runs. */
  const helm3 = () => ({
    'helm-version': 'v3.14.4',
    'helm-sha256': world.mirror.sha256['v3.14.4'],
    'helm-download-base-url': withCredentials(world.mirror.baseUrl),
  });

  function assertHidden(run: Awaited<ReturnType<typeof act>>, registered = true) {
    const shown = [
      run.stdout
        .split('\n')
        .filter((line) => !line.startsWith('::add-mask::'))
        .join('\n'),
      run.stderr,
      JSON.stringify(run.outputs),
      run.summary,
    ].join('\n');
    for (const secret of [CREDENTIALS.password, ENCODED]) {
      assert.ok(
        !shown.includes(secret),
        `the password (${secret === ENCODED ? 'encoded' : 'plain'}) is not shown`,
      );
    }
    assert.equal(
      run.stdout.includes(`::add-mask::${CREDENTIALS.password}\n`),
      registered,
      'the password of a valid URL is registered as a secret',
    );
  }

  test('the credentials download Helm and read the repository; the log shows the URLs without them', async () => {
    const run = await act(world, {
      'chart-repository': withCredentials(world.repo.url),
      'helm-download-base-url': withCredentials(world.mirror.baseUrl),
      'dry-run': 'true',
    });
    assertSucceeded(run);
    assertHidden(run);
    assert.ok(log(run).includes(`from ${world.repo.url} (milvus)`), tail(run));
    assert.ok(log(run).includes(`downloading ${world.mirror.baseUrl}/helm-`), tail(run));
  });

  test('a wrong password is refused by the repository, and neither password is shown', async () => {
    const run = await act(world, {
      'chart-repository': withCredentials(world.repo.url, 'wrong-Pa55'),
      'helm-download-base-url': withCredentials(world.mirror.baseUrl),
    });
    assert.equal(run.exitCode, 1, tail(run));
    assert.match(failure(run), /helm repo add failed/);
    assert.match(failure(run), /401/);
    assert.ok(!run.stdout.replace(/::add-mask::.*\n/g, '').includes('wrong-Pa55'));
    assert.ok(!run.summary.includes('wrong-Pa55'));
  });

  test('an invalid URL with user info is named without it', async () => {
    const run = await act(
      world,
      { 'chart-repository': `ftp://${CREDENTIALS.username}:${ENCODED}@example.com/charts` },
      { masked: false },
    );
    assert.equal(run.exitCode, 1);
    assert.match(
      failure(run),
      /chart-repository: 'ftp:\/\/\*\*\*@example\.com\/charts' is not valid/,
    );
    assertHidden(run, false);
  });

  test('an OCI registry signed by a private CA needs chart-ca-file, and the error says so', async () => {
    const run = await act(world, { ...fromRegistry(), ...helm3() });
    assert.equal(run.exitCode, 1, tail(run));
    assert.match(failure(run), /helm registry login failed .*certificate/s);
    assert.match(failure(run), /For a private CA, set chart-ca-file to its PEM certificate\./);
    assertHidden(run);
  });

  test('a wrong chart-password is refused by the registry, and neither password is shown', async () => {
    const run = await act(world, {
      ...fromRegistry('wrong-Pa55'),
      'chart-ca-file': registry.caFile,
    });
    assert.equal(run.exitCode, 1, tail(run));
    assert.match(failure(run), /helm registry login failed/);
    assert.match(failure(run), /chart-username and chart-password/);
    assert.ok(!run.stdout.replace(/::add-mask::.*\n/g, '').includes('wrong-Pa55'));
    assert.ok(!run.summary.includes('wrong-Pa55'));
  });

  test('Helm 3 dry-runs the hop with the chart from the OCI registry', async () => {
    const inputs = { ...fromRegistry(), 'chart-ca-file': registry.caFile, 'dry-run': 'true' };
    const run = await act(world, { ...inputs, ...helm3() });
    assertSucceeded(run);
    assertHidden(run);
    assert.match(log(run), /Helm v3\.14\.4 (cached in|found in the tool cache)/);
    assert.ok(log(run).includes("Helm's dry run of hop 2 renders"), tail(run));
  });

  test('the chart from an OCI registry, with chart-username, chart-password and chart-ca-file', async () => {
    const run = await act(world, { ...fromRegistry(), 'chart-ca-file': registry.caFile });
    assertSucceeded(run);
    assertHidden(run);
    const [hop, ...more] = jsonOutputs(run).plan;
    assert.equal(more.length, 0);
    assert.deepEqual(hop?.args.slice(0, 5), [
      'helm',
      'upgrade',
      'my-milvus',
      `${registry.url}/milvus`,
      '--namespace',
    ]);
    assert.ok(
      hop?.args.join(' ').includes(`--reset-then-reuse-values --ca-file ${registry.caFile}`),
    );
    assert.ok(log(run).includes('Chart milvus 5.0.0: found, Milvus 2.6.0'), tail(run));
    await assertAt264(world, 2);
  });
});
