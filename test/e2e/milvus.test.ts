// Milvus itself confirms the upgrade: Milvus Lite stands behind the proxy pods (a KWOK port-forward
// rule), the action reaches it through the API server, and pymilvus changes its data mid-run.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { actionDefaults } from '../support/action-defaults.ts';
import { installMilvus, startWorld, type World } from '../support/harness.ts';
import type { HelmVersion } from '../support/helm-binaries.ts';
import { sampleCollections, seed } from '../support/milvus-lite.ts';
import {
  act,
  apiWrites,
  assertAt264,
  assertRecordsUnchanged,
  assertRefused,
  assertSucceeded,
  failure,
  log,
  readmeRbac,
  releaseRecords,
} from './checks.ts';

const TOKEN = 'root:Milvus-S3cret-Pw';
const DEFAULT_HELM = actionDefaults()['helm-version'] as HelmVersion;

const install = (world: World, namespace: string) =>
  installMilvus(world, {
    namespace,
    chartVersion: '4.2.30',
    milvusVersion: 'v2.5.6',
    layout: 'separate',
    mq: 'pulsarv3',
  });

/** The token is registered with the runner and shows nowhere else. */
function assertTokenHidden(run: Awaited<ReturnType<typeof act>>): void {
  const lines = run.stdout.split('\n');
  assert.ok(lines.includes(`::add-mask::${TOKEN}`), 'the token is masked');
  const shown = [
    ...lines.filter((line) => !line.startsWith('::add-mask::')),
    run.stderr,
    run.summary,
    JSON.stringify(run.outputs),
  ].join('\n');
  assert.ok(!shown.includes('Milvus-S3cret-Pw'), 'the token is shown nowhere');
}

// The checks run with Helm 4 here (the action's default), and with Helm 3 in the demo's test and
// in the refusals below.
describe('verify-milvus: Milvus answers through a port-forward', () => {
  let world: World;
  before(async () => {
    world = await startWorld({
      rolloutMs: 30,
      namespaces: ['kept', 'changed'],
      milvus: true,
      helmVersion: DEFAULT_HELM,
    });
    const address = world.milvus?.address ?? '';
    await Promise.all([
      install(world, 'kept'),
      install(world, 'changed'),
      seed(address, {
        create: sampleCollections(100, 30),
      }),
    ]);
  });
  after(() => world.stop());

  test('data kept: both hops land, Milvus answers healthy after each, the inventory is in the summary', async () => {
    const where = { namespace: 'kept' };
    const run = await act(world, { ...where, 'milvus-token': TOKEN });
    assertSucceeded(run);
    assertTokenHidden(run);
    await assertAt264(world, 3, where);
    const text = log(run);
    assert.match(text, /^Milvus answers healthy\.$/m);
    assert.match(text, /^Milvus v2\.5\.16 answers healthy\.$/m);
    assert.match(text, /^Milvus v2\.6\.4 answers healthy\.$/m);
    assert.match(
      text,
      /^Milvus holds every database, collection, index and row it held before\.$/m,
    );
    const inventory = JSON.parse(run.outputs.inventory ?? '[]');
    const books = inventory.find((c: { collection: string }) => c.collection === 'books');
    assert.deepEqual(
      [books.before.rows, books.after.rows, books.after.load, books.after.indexes[0].type],
      [100, 100, 'loaded', 'HNSW'],
    );
    assert.match(run.summary, /Milvus data, before and after/);
    assert.match(run.summary, /<td>default\/books<\/td><td>100<\/td><td>loaded<\/td>/);
    assert.match(run.summary, /<td>shop\/orders<\/td><td>30<\/td><td>not loaded<\/td>/);
  });

  test('a collection dropped and rows deleted between the hops: the run fails naming each', async () => {
    const address = world.milvus?.address ?? '';
    await seed(address, {
      create: [
        { name: 'doomed', rows: 50 },
        { name: 'trimmed', rows: 40 },
      ],
    });
    // The streaming node, new in hop 2, stays unready until the data has changed: hop 2 cannot
    // finish, and the final inventory cannot be taken, before that.
    await world.cluster.faults.unready('component=streamingnode', 'NotReady');
    let seen = '';
    let changed: Promise<void> | undefined;
    const run = await act(
      world,
      { namespace: 'changed' },
      {
        onStdout: (chunk) => {
          seen += chunk;
          if (changed || !/::group::Hop 2:/.test(seen)) return;
          changed = seed(address, {
            drop: [{ name: 'doomed' }],
            delete: [{ name: 'trimmed', filter: 'id < 10' }],
          }).finally(() => world.cluster.faults.clearUnready());
        },
      },
    );
    await changed;
    assert.equal(run.exitCode, 1, log(run));
    await assertAt264(world, 3, { namespace: 'changed' });
    const message = failure(run);
    assert.match(
      message,
      /^Milvus does not hold what it held before the upgrade:\n- collection default\/doomed: the collection is missing \(it had 50 rows\)\n- collection default\/trimmed: 10 rows lost: count\(\*\) is 30, 40 before\n/,
    );
    assert.match(
      message,
      /^Cluster state: hop 1 done \(v2\.5\.16, revision 2\); hop 2 done \(v2\.6\.4, revision 3\)/m,
    );
    assert.match(
      message,
      /^Next step: Nothing was rolled back\..*Do not roll back across the 2\.6 boundary/m,
    );
    assert.match(
      run.summary,
      /<td>default\/doomed<\/td><td>50 → –<\/td>.*❌ the collection is missing/,
    );
    assert.match(run.summary, /<td>default\/books<\/td><td>100<\/td>.*✅/);
  });
});

describe('verify-milvus refusals, before anything changes', () => {
  let world: World;
  before(async () => {
    // No Milvus behind the pods: a port-forward reaches nothing.
    world = await startWorld({ rolloutMs: 30, namespaces: ['milvus'] });
    await install(world, 'milvus');
  });
  after(() => world.stop());

  test('Milvus unreachable: refused with what the port-forward met, nothing changed', async () => {
    const where = { namespace: 'milvus' };
    const records = await releaseRecords(world, where);
    const since = Date.now();
    const run = await act(world, { ...where, 'verify-milvus': 'true' });
    assertRefused(run, /^Milvus could not be asked: .+/, /^Fix Milvus first.*verify-milvus: false/);
    assert.deepEqual(apiWrites(world, since), []);
    await assertRecordsUnchanged(world, records, where);
  });

  test('credentials without pods/portforward: refused naming the rule to add', async () => {
    const role = readmeRbac();
    const without = role.replace(
      /\n {2}# verify-milvus[^\n]*\n {2}- apiGroups: \[""\]\n {4}resources: \[pods\/portforward\]\n {4}verbs: \[create\]/,
      '',
    );
    assert.notEqual(without, role, 'the README Role grants pods/portforward');
    const kubeconfig = await world.cluster.serviceAccountKubeconfig(
      'milvus',
      'no-forward',
      without.replaceAll('milvus-upgrader', 'no-forward'),
    );
    const run = await act(
      world,
      { namespace: 'milvus', kubeconfig, 'verify-milvus': 'true' },
      { masked: false },
    );
    assertRefused(
      run,
      /may not create pods\/portforward in milvus/,
      /\{ apiGroups: \[""\], resources: \[pods\/portforward\], verbs: \[create\] \}.*verify-milvus: false/,
    );
    assert.match(failure(run), /^Cluster state: unchanged/m);
  });
});
