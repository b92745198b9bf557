// src/milvus-client.ts against a real Milvus peer: Milvus Lite, seeded with pymilvus.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { compareInventories, confirmRows, type Inventory } from '../../src/inventory.ts';
import { connectMilvus, type Milvus } from '../../src/milvus-client.ts';
import {
  type MilvusLite,
  sampleCollections,
  seed,
  startMilvusLite,
} from '../support/milvus-lite.ts';

describe('Milvus answers health and inventory through the SDK', () => {
  let lite: MilvusLite;
  let milvus: Milvus;
  let first: Inventory;

  before(async () => {
    lite = await startMilvusLite();
    await seed(lite.address, {
      create: sampleCollections(100, 30),
    });
    milvus = await connectMilvus({ address: lite.address, timeoutMs: 10_000 });
    first = await milvus.inventory();
  });
  after(async () => {
    await milvus?.close();
    await lite?.stop();
  });

  test('checkHealth', async () => {
    assert.deepEqual(await milvus.checkHealth(), { healthy: true, reasons: [] });
  });

  test("a runner's https_proxy does not take the local connection", async () => {
    // Nothing listens on port 9: a connection sent through this proxy would fail.
    process.env.https_proxy = 'http://127.0.0.1:9';
    try {
      const proxied = await connectMilvus({ address: lite.address, timeoutMs: 10_000 });
      assert.deepEqual(await proxied.checkHealth(), { healthy: true, reasons: [] });
      await proxied.close();
    } finally {
      delete process.env.https_proxy;
    }
  });

  test('inventory: databases, rows, load state and indexes', () => {
    assert.deepEqual(first, {
      databases: ['default', 'shop'],
      collections: [
        {
          database: 'default',
          name: 'books',
          rows: 100,
          exactRows: 100,
          load: 'loaded',
          indexes: [
            {
              name: 'vector',
              field: 'vector',
              type: 'HNSW',
              metric: 'L2',
              state: 'Finished',
              indexedRows: 100,
              pendingRows: 0,
            },
          ],
        },
        {
          database: 'shop',
          name: 'orders',
          rows: 30,
          load: 'not-loaded',
          indexes: [
            {
              name: 'vector',
              field: 'vector',
              type: 'IVF_FLAT',
              metric: 'IP',
              state: 'Finished',
              indexedRows: 30,
              pendingRows: 0,
            },
          ],
        },
      ],
    });
    assert.deepEqual(compareInventories(first, first), []);
  });

  test('a dropped collection and deleted rows are named', async () => {
    await seed(lite.address, {
      drop: [{ database: 'shop', name: 'orders' }],
      delete: [{ name: 'books', filter: 'id < 10' }],
    });
    const problems = compareInventories(first, await milvus.inventory());
    assert.deepEqual(
      problems.map((p) => [p.kind, `${p.database}/${p.collection}`, p.detail]),
      [
        ['rows-lost', 'default/books', '10 rows lost: count(*) is 90, 100 before'],
        ['collection-missing', 'shop/orders', 'the collection is missing (it had 30 rows)'],
      ],
    );
  });

  test('a lower statistics count is confirmed with exactCount', async () => {
    // As right after an upgrade, with the collection still loading: statistics only.
    const now = await milvus.inventory();
    const loading = now.collections.map((c) => ({
      ...c,
      load: 'loading' as const,
      exactRows: undefined,
    }));
    const lower = compareInventories(first, { ...now, collections: loading }).find(
      (p) => p.needsExactCount,
    );
    assert.ok(lower);
    assert.equal(lower.detail, '90 rows by statistics, 100 before');
    const exact = await milvus.exactCount('default', 'books');
    assert.equal(exact, 90);
    assert.equal(confirmRows(lower, exact)?.detail, '10 rows lost: count(*) is 90, 100 before');
  });

  test('errors say what was asked of which Milvus', async () => {
    await assert.rejects(milvus.exactCount('default', 'nope'), (error: Error) => {
      const asked = `Milvus at ${lite.address} could not count the rows of default/nope: `;
      assert.equal(error.message, `${asked}collection 'nope' does not exist (code 100)`);
      return true;
    });
  });

  test('an unreachable Milvus fails to connect, without the token', async () => {
    const token = 'root:s3cret-token';
    await assert.rejects(
      connectMilvus({ address: '127.0.0.1:1', token, timeoutMs: 5_000 }),
      (error: Error) => {
        assert.match(error.message, /^Milvus at 127\.0\.0\.1:1 could not connect: .*ECONNREFUSED/);
        assert.doesNotMatch(error.message, /s3cret/);
        return true;
      },
    );
  });

  test('a Milvus that never answers fails within the timeout', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket)).listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const { port } = silent.address() as AddressInfo;
    const started = Date.now();
    await assert.rejects(
      connectMilvus({ address: `127.0.0.1:${port}`, timeoutMs: 1_000 }),
      /could not connect: (.*Deadline exceeded|no answer within 1 s)/,
    );
    assert.ok(Date.now() - started < 3_000);
    for (const socket of sockets) socket.destroy();
    silent.close();
  });
});
