import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type Collection,
  compareInventories,
  confirmRows,
  describeProblem,
  type Index,
  type Inventory,
  inventoryJson,
  inventoryTable,
  type Problem,
} from '../../src/inventory.ts';

const hnsw: Index = {
  name: 'vector',
  field: 'vector',
  type: 'HNSW',
  metric: 'L2',
  state: 'Finished',
  indexedRows: 100,
  pendingRows: 0,
};
const books: Collection = {
  database: 'default',
  name: 'books',
  rows: 100,
  exactRows: 100,
  load: 'loaded',
  indexes: [hnsw],
};
const cold: Collection = {
  database: 'shop',
  name: 'cold',
  rows: 30,
  load: 'not-loaded',
  indexes: [],
};
const BEFORE: Inventory = { databases: ['default', 'shop'], collections: [books, cold] };

/** BEFORE with `books` changed by `change`. */
const withBooks = (change: Partial<Collection>): Inventory => ({
  ...BEFORE,
  collections: [{ ...books, ...change }, cold],
});

describe('compareInventories names what the upgrade lost or broke', () => {
  const cases: [string, Inventory, Pick<Problem, 'kind' | 'detail'>[]][] = [
    ['nothing when all is the same', BEFORE, []],
    [
      'nothing for a new database or collection',
      {
        databases: [...BEFORE.databases, 'new'],
        collections: [...BEFORE.collections, { ...cold, database: 'new', name: 'fresh' }],
      },
      [],
    ],
    ['nothing for more rows', withBooks({ rows: 120, exactRows: 120 }), []],
    [
      'a missing database, once (not again per collection)',
      { databases: ['default'], collections: [books] },
      [{ kind: 'database-missing', detail: 'the database is missing' }],
    ],
    [
      'a missing collection',
      { ...BEFORE, collections: [cold] },
      [{ kind: 'collection-missing', detail: 'the collection is missing (it had 100 rows)' }],
    ],
    [
      'a missing index',
      withBooks({ indexes: [] }),
      [{ kind: 'index-missing', detail: 'index on vector (HNSW, L2) is missing' }],
    ],
    [
      'an index of another type',
      withBooks({ indexes: [{ ...hnsw, type: 'IVF_FLAT' }] }),
      [{ kind: 'index-changed', detail: 'index on vector (HNSW, L2) is now IVF_FLAT, L2' }],
    ],
    [
      'an index with another metric',
      withBooks({ indexes: [{ ...hnsw, metric: 'COSINE' }] }),
      [{ kind: 'index-changed', detail: 'index on vector (HNSW, L2) is now HNSW, COSINE' }],
    ],
    [
      'an index still building',
      withBooks({ indexes: [{ ...hnsw, state: 'InProgress', pendingRows: 40 }] }),
      [
        {
          kind: 'index-unfinished',
          detail: 'index on vector (HNSW, L2) is InProgress, 40 rows pending',
        },
      ],
    ],
    [
      'an index that failed, with the reason',
      withBooks({ indexes: [{ ...hnsw, state: 'Failed', failReason: 'out of memory' }] }),
      [{ kind: 'index-unfinished', detail: 'index on vector (HNSW, L2) is Failed: out of memory' }],
    ],
    [
      'a loaded collection now loading (its exact count is not known yet)',
      withBooks({ load: 'loading', exactRows: undefined }),
      [{ kind: 'not-loaded', detail: 'the collection was loaded and is now loading' }],
    ],
    [
      'a statistics count lower while loading: to be confirmed',
      withBooks({ load: 'loading', rows: 90, exactRows: undefined }),
      [
        { kind: 'not-loaded', detail: 'the collection was loaded and is now loading' },
        { kind: 'rows-lower', detail: '90 rows by statistics, 100 before' },
      ],
    ],
    [
      'an exact count lower: lost',
      withBooks({ rows: 100, exactRows: 90 }),
      [{ kind: 'rows-lost', detail: '10 rows lost: count(*) is 90, 100 before' }],
    ],
    [
      'a lower statistics count that the exact count explains: fine',
      withBooks({ rows: 80, exactRows: 100 }),
      [],
    ],
    [
      'an unloaded collection with fewer rows by statistics: to be confirmed',
      { ...BEFORE, collections: [books, { ...cold, rows: 20 }] },
      [{ kind: 'rows-lower', detail: '20 rows by statistics, 30 before' }],
    ],
  ];
  for (const [name, after, expected] of cases) {
    test(name, () => {
      const found = compareInventories(BEFORE, after).map(({ kind, detail }) => ({ kind, detail }));
      assert.deepEqual(found, expected);
    });
  }

  test('compares with the exact count from before, not the statistics', () => {
    // 10 rows deleted before the upgrade, purged by a compaction during it: nothing lost.
    const before = withBooks({ rows: 100, exactRows: 90 });
    const after = withBooks({ rows: 90, load: 'loading', exactRows: undefined });
    assert.deepEqual(
      compareInventories(before, after).map((p) => p.kind),
      ['not-loaded'],
    );
  });

  test('a lower count asks for count(*), with what to compare it to', () => {
    const [problem] = compareInventories(BEFORE, {
      ...BEFORE,
      collections: [books, { ...cold, rows: 20 }],
    });
    assert.deepEqual(problem, {
      kind: 'rows-lower',
      database: 'shop',
      collection: 'cold',
      detail: '20 rows by statistics, 30 before',
      rowsBefore: 30,
      needsExactCount: true,
    });
  });
});

describe('confirmRows turns count(*) into the verdict', () => {
  const lower: Problem = {
    kind: 'rows-lower',
    database: 'shop',
    collection: 'cold',
    detail: '20 rows by statistics, 30 before',
    rowsBefore: 30,
    needsExactCount: true,
  };
  const cases: [string, number, Problem | undefined][] = [
    ['all rows there', 30, undefined],
    ['more rows than before', 31, undefined],
    [
      'fewer rows: lost',
      25,
      {
        kind: 'rows-lost',
        database: 'shop',
        collection: 'cold',
        detail: '5 rows lost: count(*) is 25, 30 before',
        rowsBefore: 30,
      },
    ],
  ];
  for (const [name, exact, expected] of cases) {
    test(name, () => assert.deepEqual(confirmRows(lower, exact), expected));
  }
});

describe('describeProblem names the collection or database', () => {
  const cases: [Problem, string][] = [
    [
      { kind: 'collection-missing', database: 'default', collection: 'books', detail: 'gone' },
      'collection default/books: gone',
    ],
    [
      { kind: 'database-missing', database: 'shop', detail: 'the database is missing' },
      'database shop: the database is missing',
    ],
  ];
  for (const [problem, text] of cases) {
    test(text, () => assert.equal(describeProblem(problem), text));
  }
});

describe('inventoryTable', () => {
  test('before the upgrade: one row per collection, no check column', () => {
    assert.deepEqual(inventoryTable(BEFORE), [
      ['Collection', 'Rows', 'Load', 'Indexes'],
      ['default/books', '100', 'loaded', 'vector: HNSW/L2 Finished'],
      ['shop/cold', '30', 'not loaded', 'none'],
    ]);
  });

  test('after: changes as before → after, and what each check found', () => {
    const after: Inventory = {
      databases: ['default', 'shop'],
      collections: [
        { ...books, rows: 90, exactRows: 90 },
        { ...cold, database: 'shop', name: 'new', rows: 5 },
      ],
    };
    const problems = compareInventories(BEFORE, after);
    assert.deepEqual(inventoryTable(BEFORE, after, problems), [
      ['Collection', 'Rows', 'Load', 'Indexes', 'Check'],
      [
        'default/books',
        '100 → 90',
        'loaded',
        'vector: HNSW/L2 Finished',
        '❌ 10 rows lost: count(*) is 90, 100 before',
      ],
      [
        'shop/cold',
        '30 → –',
        'not loaded → missing',
        'none → –',
        '❌ the collection is missing (it had 30 rows)',
      ],
      ['shop/new', '– → 5', '– → not loaded', '– → none', '✅'],
    ]);
  });

  test('a missing database marks each of its collections', () => {
    const after: Inventory = { databases: ['default'], collections: [books] };
    const rows = inventoryTable(BEFORE, after, compareInventories(BEFORE, after));
    assert.equal(rows[2]?.[4], '❌ the database is missing');
  });
});

describe('inventoryJson', () => {
  test('before only', () => {
    assert.deepEqual(JSON.parse(inventoryJson(BEFORE)), [
      {
        database: 'default',
        collection: 'books',
        before: {
          rows: 100,
          exactRows: 100,
          load: 'loaded',
          indexes: [{ field: 'vector', type: 'HNSW', metric: 'L2', state: 'Finished' }],
        },
      },
      {
        database: 'shop',
        collection: 'cold',
        before: { rows: 30, load: 'not-loaded', indexes: [] },
      },
    ]);
  });

  test('before and after, null for a side without the collection, on one line', () => {
    const json = inventoryJson(BEFORE, { ...BEFORE, collections: [books] });
    assert.doesNotMatch(json, /\n/);
    const cold = JSON.parse(json)[1];
    assert.deepEqual(cold, {
      database: 'shop',
      collection: 'cold',
      before: { rows: 30, load: 'not-loaded', indexes: [] },
      after: null,
    });
  });
});
