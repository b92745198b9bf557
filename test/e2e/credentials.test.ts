// A chart repository and a Helm mirror behind Basic authentication, with the credentials in the
// URL inputs: they are used (the servers answer 401 without them) and never shown.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { installMilvus, startWorld, type World } from '../support/harness.ts';
import { act, assertSucceeded, failure, log, tail } from './checks.ts';

const CREDENTIALS = { username: 'deploy-bot', password: 'pa55:w@rd/Zq81' };
const ENCODED = encodeURIComponent(CREDENTIALS.password);

/** `http://user:password@host:port` from a server URL. */
function withCredentials(url: string, password = ENCODED): string {
  return url.replace('http://', `http://${CREDENTIALS.username}:${password}@`);
}

describe('credentials in chart-repository and helm-download-base-url', () => {
  let world: World;
  before(async () => {
    world = await startWorld({ rolloutMs: 30, credentials: CREDENTIALS });
    await installMilvus(world, {
      chartVersion: '4.2.58',
      milvusVersion: 'v2.5.16',
      layout: 'mixcoord',
      mq: 'pulsarv3',
    });
  });
  after(() => world.stop());

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
});
