// The main scenario, run with each Helm version the action supports: a 2.5 cluster with separate
// coordinators is dry-run, upgraded in both hops to 2.6.4, then run again, which changes nothing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { installMilvus, startWorld, type World } from '../support/harness.ts';
import type { HelmVersion } from '../support/helm-binaries.ts';
import { archiveName } from '../support/helm-mirror.ts';
import { FIXTURE_SECRETS } from '../support/milvus-release.ts';
import {
  act,
  apiWrites,
  assertAt264,
  assertRecordsUnchanged,
  assertSucceeded,
  hopArgs,
  jsonOutputs,
  log,
  objectUids,
  releaseRecords,
  summaryRow,
} from './checks.ts';

const SEPARATE_25 = [
  'datacoord',
  'datanode',
  'indexcoord',
  'indexnode',
  'proxy',
  'querycoord',
  'querynode',
  'rootcoord',
].join(', ');
const MILVUS_26 = 'datanode, mixcoord, proxy, querynode, streamingnode';

export function twoHopScenario(helmVersion: HelmVersion): void {
  const helmMajor = helmVersion.startsWith('v4') ? 4 : 3;

  describe(`Helm ${helmVersion}: 2.5.6 with separate coordinators (chart 4.2.30, Pulsar v3) to 2.6.4`, () => {
    let world: World;
    let archive: string;
    let queueObjects: Record<string, string>;
    before(async () => {
      world = await startWorld({ helmVersion, rolloutMs: 30 });
      archive = `/${archiveName(helmVersion)}`;
      await installMilvus(world, {
        chartVersion: '4.2.30',
        milvusVersion: 'v2.5.6',
        layout: 'separate',
        mq: 'pulsarv3',
      });
      queueObjects = await objectUids(world, 'default');
    });
    after(() => world.stop());

    test('a dry run prints the plan and the objects of hop 1, and changes nothing', async () => {
      const records = await releaseRecords(world);
      // The values the action reads carry credentials: the secret checks of every run mean something.
      const values = (records[0]?.config ?? {}) as Record<string, Record<string, unknown>>;
      const minio = values.minio;
      assert.equal(minio?.secretKey, FIXTURE_SECRETS.minioSecretKey);
      const generations = async () =>
        (await world.cluster.store.list('deployments', { namespace: 'default' })).map((d) => [
          d.metadata.name,
          d.metadata.generation,
        ]);
      const deployments = await generations();
      const since = Date.now();

      const run = await act(world, { 'dry-run': 'true' });
      assertSucceeded(run);

      await assertRecordsUnchanged(world, records);
      assert.deepEqual(await generations(), deployments, 'no Deployment was touched');
      // `--dry-run=server` renders with the cluster at hand (lookups, discovery, OpenAPI) and
      // sends no object: Helm wrote nothing, not even a dry-run request.
      assert.deepEqual(apiWrites(world, since), [], 'nothing was written');

      assert.equal(run.outputs.upgraded, 'false');
      assert.equal(run.outputs.revision, '1');
      assert.equal(run.outputs['previous-version'], 'v2.5.6');
      assert.equal(run.outputs['milvus-version'], 'v2.5.6');
      assert.equal(run.outputs['chart-version'], '4.2.30');
      assert.equal(run.outputs['message-queue'], 'pulsarv3');
      const { hops, plan } = jsonOutputs(run);
      assert.deepEqual(hops, []);
      assert.deepEqual(
        plan.map((h) => h.args),
        [
          hopArgs(1, { helmMajor, extra: plan[0]?.imagePins }),
          hopArgs(2, { helmMajor, extra: plan[1]?.imagePins }),
        ],
      );

      const text = log(run);
      assert.match(
        text,
        /Hop 1: v2\.5\.6 → v2\.5\.16 with chart 4\.2\.58, because the cluster runs v2\.5\.6, below v2\.5\.16 and still runs separate coordinators \(datacoord, indexcoord, querycoord, rootcoord\)\./,
      );
      assert.match(text, /Hop 2: v2\.5\.16 → v2\.6\.4 with chart 5\.0\.0/);
      for (const [index, hop] of plan.entries()) {
        const args = hopArgs(hop.hop as 1 | 2, { helmMajor, extra: plan[index]?.imagePins });
        assert.ok(text.includes(`  ${args.join(' ')}`), `hop ${hop.hop} command`);
      }
      const objects = /Helm's dry run of hop 1 renders (\d+) objects:/.exec(text);
      assert.ok(objects, 'the dry run lists the objects');
      for (const object of [
        'Deployment/my-milvus-mixcoord',
        'Deployment/my-milvus-indexnode',
        'ConfigMap/my-milvus',
        'StatefulSet/my-milvus-pulsarv3-broker',
      ]) {
        assert.ok(text.includes(`\n  ${object}\n`), `the dry run lists ${object}`);
      }
      const hop1Objects = text.slice(objects.index, text.indexOf("Helm's dry run of hop 2"));
      assert.ok(!hop1Objects.includes('Deployment/my-milvus-rootcoord'), 'hop 1 drops rootcoord');
      assert.match(
        text,
        /Helm's dry run of hop 2 renders \d+ objects:\n(.*\n)* {2}Deployment\/my-milvus-streamingnode\n/,
      );
      assert.match(text, /Dry run: nothing was changed\./);

      assert.match(
        run.summary,
        /<h2>🔎 Dry run: 2 hop\(s\) planned for my-milvus; nothing was changed<\/h2>/,
      );
      assert.match(run.summary, /<li>Hop 1: v2\.5\.6 → v2\.5\.16 with chart 4\.2\.58: /);
      assert.match(run.summary, /<li>Hop 2: v2\.5\.16 → v2\.6\.4 with chart 5\.0\.0: /);
      assert.ok(
        run.summary.includes(
          `Helm's server-side dry run rendered hop 1: ${objects[1]} objects, hop 2: `,
        ),
      );
      assert.ok(world.mirror.requests.includes(archive), 'the first run downloaded Helm');
    });

    test('upgrades in both hops to 2.6.4, keeping Pulsar v3', async () => {
      const mirrorRequests = world.mirror.requests.length;
      const run = await act(world, { timeout: '1m' });
      assertSucceeded(run);

      await assertAt264(world, 3);
      const records = await releaseRecords(world);
      assert.deepEqual(
        records.map((r) => [r.revision, r.status, r.chartVersion]),
        [
          [1, 'superseded', '4.2.30'],
          [2, 'superseded', '4.2.58'],
          [3, 'deployed', '5.0.0'],
        ],
      );
      const hop1 = records[1]?.config as Record<string, Record<string, unknown>>;
      assert.deepEqual(hop1.image, { all: { tag: 'v2.5.16' } });
      assert.equal(hop1.mixCoordinator?.enabled, true);
      assert.equal(hop1.rootCoordinator?.enabled, false);
      const hop2 = records[2]?.config as Record<string, Record<string, unknown>>;
      assert.deepEqual(hop2.image, { all: { tag: 'v2.6.4' } });
      assert.equal(hop2.streaming?.enabled, true);
      assert.equal(hop2.indexNode?.enabled, false);

      // The queue and the other dependencies were kept, not recreated.
      const now = await objectUids(world, 'default');
      for (const [name, uid] of Object.entries(queueObjects)) {
        if (/^(StatefulSet|PersistentVolumeClaim)\//.test(name)) {
          assert.equal(now[name], uid, `${name} kept`);
        }
      }
      assert.ok(now['StatefulSet/my-milvus-pulsarv3-broker'], 'Pulsar v3 still there');

      assert.deepEqual(
        {
          'previous-version': run.outputs['previous-version'],
          'milvus-version': run.outputs['milvus-version'],
          'chart-version': run.outputs['chart-version'],
          revision: run.outputs.revision,
          'helm-version': run.outputs['helm-version'],
          'message-queue': run.outputs['message-queue'],
          upgraded: run.outputs.upgraded,
        },
        {
          'previous-version': 'v2.5.6',
          'milvus-version': 'v2.6.4',
          'chart-version': '5.0.0',
          revision: '3',
          'helm-version': helmVersion,
          'message-queue': 'pulsarv3',
          upgraded: 'true',
        },
      );
      const { hops, plan } = jsonOutputs(run);
      assert.deepEqual(
        hops.map(({ seconds, order, ...hop }) => hop),
        [
          { from: 'v2.5.6', to: 'v2.5.16', chartVersion: '4.2.58', revision: 2 },
          { from: 'v2.5.16', to: 'v2.6.4', chartVersion: '5.0.0', revision: 3 },
        ],
      );
      for (const hop of hops) assert.ok(Number.isInteger(hop.seconds) && hop.seconds >= 0);
      assert.deepEqual(
        hops.map((hop) => hop.order?.map((step) => step.component)),
        [
          ['mixcoord', 'indexnode', 'querynode', 'datanode', 'proxy'],
          ['streamingnode', 'mixcoord', 'querynode', 'datanode', 'proxy'],
        ],
      );
      assert.deepEqual(
        plan.map(({ reason, changes, imagePins, ...hop }) => hop),
        [
          {
            hop: 1,
            from: 'v2.5.6',
            to: 'v2.5.16',
            chartVersion: '4.2.58',
            resume: false,
            pins: [],
            args: hopArgs(1, { helmMajor, extra: plan[0]?.imagePins }),
          },
          {
            hop: 2,
            from: 'v2.5.16',
            to: 'v2.6.4',
            chartVersion: '5.0.0',
            resume: false,
            pins: [],
            args: hopArgs(2, { helmMajor, extra: plan[1]?.imagePins }),
          },
        ],
      );

      const text = log(run);
      assert.match(text, new RegExp(`Helm ${helmVersion} found in the tool cache`));
      assert.ok(
        !world.mirror.requests.slice(mirrorRequests).includes(archive),
        'no download the second time',
      );
      assert.match(text, /::group::Hop 1: v2\.5\.6 → v2\.5\.16 \(chart 4\.2\.58\)/);
      assert.match(text, /::group::Hop 2: v2\.5\.16 → v2\.6\.4 \(chart 5\.0\.0\)/);
      assert.match(
        text,
        /Components added: mixcoord; removed: datacoord, indexcoord, querycoord, rootcoord/,
      );
      assert.match(text, /Components added: streamingnode; removed: indexnode/);
      assert.match(text, /my-milvus: Milvus v2\.6\.4, chart milvus-5\.0\.0, revision 3, deployed/);

      const s = run.summary;
      assert.match(s, /<h2>✅ my-milvus upgraded v2\.5\.6 → v2\.6\.4 in 2 hop\(s\), \d+ s<\/h2>/);
      assert.match(s, summaryRow(['Milvus', 'v2.5.6', 'v2.6.4']));
      assert.match(s, summaryRow(['Chart', '4.2.30', '5.0.0']));
      assert.match(s, summaryRow(['Revision', '1', '3']));
      assert.match(s, summaryRow(['Status', 'deployed', 'deployed']));
      assert.match(s, summaryRow(['Components', SEPARATE_25, MILVUS_26]));
      assert.match(s, summaryRow(['Message queue', 'pulsarv3', 'pulsarv3']));
      assert.match(s, /<h3>Hops<\/h3>/);
      assert.match(
        s,
        summaryRow([
          '1',
          'v2.5.6 → v2.5.16',
          '4.2.58',
          '2',
          /\d+/,
          '+mixcoord −datacoord −indexcoord −querycoord −rootcoord',
          'none',
          /mixcoord \([\d.]+ s\) → indexnode \([\d.]+ s\) → querynode \([\d.]+ s\) → datanode \([\d.]+ s\) → proxy \([\d.]+ s\)/,
        ]),
      );
      assert.match(
        s,
        summaryRow([
          '2',
          'v2.5.16 → v2.6.4',
          '5.0.0',
          '3',
          /\d+/,
          '+streamingnode −indexnode',
          'none',
          /streamingnode \([\d.]+ s\) → mixcoord \([\d.]+ s\) → querynode \([\d.]+ s\) → datanode \([\d.]+ s\) → proxy \([\d.]+ s\)/,
        ]),
      );
    });

    test('a second run changes nothing', async () => {
      const records = await releaseRecords(world);
      const mirrorRequests = world.mirror.requests.length;
      const since = Date.now();
      const run = await act(world);
      assertSucceeded(run);

      await assertRecordsUnchanged(world, records);
      assert.deepEqual(apiWrites(world, since), [], 'nothing was written');
      await assertAt264(world, 3);
      assert.equal(run.outputs.upgraded, 'false');
      assert.equal(run.outputs.revision, '3');
      assert.equal(run.outputs['previous-version'], 'v2.6.4');
      assert.equal(run.outputs['milvus-version'], 'v2.6.4');
      assert.deepEqual(jsonOutputs(run), { hops: [], plan: [] });
      assert.match(log(run), /Already at v2\.6\.4 with the 2\.6 components: nothing to do\./);
      assert.match(log(run), new RegExp(`Helm ${helmVersion} found in the tool cache`));
      assert.deepEqual(world.mirror.requests.slice(mirrorRequests), [], 'nothing downloaded');
      assert.match(run.summary, /<h2>✅ my-milvus is already at v2\.6\.4; nothing to do<\/h2>/);
      assert.match(run.summary, summaryRow(['Revision', '3', '3']));
      assert.doesNotMatch(run.summary, /<h3>Hops<\/h3>/);
    });
  });
}
