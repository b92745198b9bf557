// What Milvus holds, before and after the upgrade, and what differs: pure functions, no I/O.
// Only names, counts, index types and states go in here: never data or credentials.

export type LoadState = 'loaded' | 'loading' | 'not-loaded' | 'missing';

export interface Index {
  name: string;
  field: string;
  type: string;
  /** Absent for scalar indexes. */
  metric?: string;
  /** Milvus' IndexState: `Finished`, `InProgress`, `Failed`, … */
  state: string;
  indexedRows?: number;
  pendingRows?: number;
  failReason?: string;
}

export interface Collection {
  database: string;
  name: string;
  /** `getCollectionStatistics`: a sum over segments, which counts deleted rows until compaction. */
  rows: number;
  /** `count(*)`, exact; only a loaded collection can answer it. */
  exactRows?: number;
  load: LoadState;
  indexes: Index[];
}

export interface Inventory {
  databases: string[];
  collections: Collection[];
}

export type ProblemKind =
  | 'database-missing'
  | 'collection-missing'
  | 'index-missing'
  | 'index-changed'
  | 'index-unfinished'
  | 'not-loaded'
  | 'rows-lower'
  | 'rows-lost';

export interface Problem {
  kind: ProblemKind;
  database: string;
  /** Absent when a whole database is missing. */
  collection?: string;
  detail: string;
  /** The rows the collection had before: set on `rows-lower` and `rows-lost`. */
  rowsBefore?: number;
  /**
   * A statistics count is lower, which deletes being purged or segments moving can explain:
   * confirm with `count(*)` and {@link confirmRows} before calling it a loss.
   */
  needsExactCount?: boolean;
}

/** One line per problem, naming what it is about. */
export function describeProblem(p: Problem): string {
  const subject = p.collection === undefined ? 'database' : 'collection';
  return `${subject} ${[p.database, p.collection].filter(Boolean).join('/')}: ${p.detail}`;
}

function collectionKey(c: { database: string; name: string }): string {
  return `${c.database}/${c.name}`;
}

/** Everything `after` lost or broke of what `before` had; what is new in `after` is fine. */
export function compareInventories(before: Inventory, after: Inventory): Problem[] {
  const problems: Problem[] = before.databases
    .filter((db) => !after.databases.includes(db))
    .map((database) => ({ kind: 'database-missing', database, detail: 'the database is missing' }));
  const now = new Map(after.collections.map((c) => [collectionKey(c), c]));
  for (const was of before.collections) {
    if (!after.databases.includes(was.database)) continue;
    const is = now.get(collectionKey(was));
    problems.push(...(is ? compareCollection(was, is) : [missing(was)]));
  }
  return problems;
}

function missing(was: Collection): Problem {
  return {
    kind: 'collection-missing',
    database: was.database,
    collection: was.name,
    detail: `the collection is missing (it had ${was.exactRows ?? was.rows} rows)`,
  };
}

function compareCollection(was: Collection, is: Collection): Problem[] {
  const problem = (kind: ProblemKind, detail: string): Problem => ({
    kind,
    database: was.database,
    collection: was.name,
    detail,
  });
  const problems: Problem[] = [];
  for (const index of was.indexes) {
    const found = is.indexes.find((i) => i.name === index.name);
    if (!found) {
      problems.push(problem('index-missing', `index ${describeIndex(index)} is missing`));
    } else if (found.type !== index.type || found.metric !== index.metric) {
      problems.push(
        problem(
          'index-changed',
          `index ${describeIndex(index)} is now ${found.type}${found.metric ? `, ${found.metric}` : ''}`,
        ),
      );
    }
  }
  for (const index of is.indexes.filter((i) => i.state !== 'Finished')) {
    const pending = index.pendingRows ? `, ${index.pendingRows} rows pending` : '';
    const reason = index.failReason ? `: ${index.failReason}` : '';
    problems.push(
      problem(
        'index-unfinished',
        `index ${describeIndex(index)} is ${index.state}${pending}${reason}`,
      ),
    );
  }
  if (was.load === 'loaded' && is.load !== 'loaded') {
    problems.push(problem('not-loaded', `the collection was loaded and is now ${is.load}`));
  }
  // The exact count where there is one: the statistics count rows deleted but not yet compacted.
  const rowsBefore = was.exactRows ?? was.rows;
  const lower: Problem = {
    ...problem('rows-lower', `${is.rows} rows by statistics, ${rowsBefore} before`),
    rowsBefore,
    needsExactCount: true,
  };
  const verdict =
    is.exactRows === undefined ? is.rows < rowsBefore && lower : confirmRows(lower, is.exactRows);
  if (verdict) problems.push(verdict);
  return problems;
}

/**
 * The verdict on a `rows-lower` problem once `count(*)` answered `exact`: no problem when the
 * rows are all there, else a confirmed `rows-lost`.
 */
export function confirmRows(p: Problem, exact: number): Problem | undefined {
  const before = p.rowsBefore ?? 0;
  if (exact >= before) return undefined;
  return {
    kind: 'rows-lost',
    database: p.database,
    collection: p.collection,
    detail: lost(before, exact),
    rowsBefore: before,
  };
}

function lost(before: number, after: number): string {
  return `${before - after} rows lost: count(*) is ${after}, ${before} before`;
}

function describeIndex(i: Index): string {
  return `on ${i.field} (${[i.type, i.metric].filter(Boolean).join(', ')})`;
}

const LOAD_TEXT: Record<LoadState, string> = {
  loaded: 'loaded',
  loading: 'loading',
  'not-loaded': 'not loaded',
  missing: 'missing',
};

/**
 * The job summary's table: a header and one row per collection of either inventory. Cells are
 * plain text: Milvus allows only letters, digits and `_` in database, collection and field names.
 */
export function inventoryTable(
  before: Inventory,
  after?: Inventory,
  problems: readonly Problem[] = [],
): string[][] {
  const show = (was: string | undefined, is: string | undefined) =>
    after ? change(was, is) : (was ?? '–');
  const rows = pairs(before, after).map(({ database, name, was, is }) => {
    const mine = problems.filter(
      (p) => p.database === database && (p.collection === undefined || p.collection === name),
    );
    return [
      `${database}/${name}`,
      show(rowCount(was), rowCount(is)),
      show(was && LOAD_TEXT[was.load], LOAD_TEXT[is?.load ?? 'missing']),
      show(was && indexText(was), is && indexText(is)),
      ...(after ? [mine.map((p) => `❌ ${p.detail}`).join('; ') || '✅'] : []),
    ];
  });
  const header = ['Collection', 'Rows', 'Load', 'Indexes', ...(after ? ['Check'] : [])];
  return [header, ...rows];
}

/** The `inventory` output: one compact JSON entry per collection, before and after. */
export function inventoryJson(before: Inventory, after?: Inventory): string {
  const brief = (c: Collection | undefined) =>
    c
      ? {
          rows: c.rows,
          exactRows: c.exactRows,
          load: c.load,
          indexes: c.indexes.map(({ field, type, metric, state }) => ({
            field,
            type,
            metric,
            state,
          })),
        }
      : null;
  return JSON.stringify(
    pairs(before, after).map(({ database, name, was, is }) => ({
      database,
      collection: name,
      before: brief(was),
      ...(after ? { after: brief(is) } : {}),
    })),
  );
}

interface Pair {
  database: string;
  name: string;
  was?: Collection;
  is?: Collection;
}

/** Every collection of either inventory, by database and name, in a stable order. */
function pairs(before: Inventory, after: Inventory | undefined): Pair[] {
  const all = new Map<string, Pair>();
  const add = (side: 'was' | 'is') => (c: Collection) => {
    const key = collectionKey(c);
    all.set(key, { database: c.database, name: c.name, ...all.get(key), [side]: c });
  };
  before.collections.forEach(add('was'));
  after?.collections.forEach(add('is'));
  return [...all.keys()].sort().map((key) => all.get(key) as Pair);
}

function rowCount(c: Collection | undefined): string | undefined {
  return c && String(c.exactRows ?? c.rows);
}

function indexText(c: Collection): string {
  return (
    c.indexes
      .map((i) => `${i.field}: ${[i.type, i.metric].filter(Boolean).join('/')} ${i.state}`)
      .join(', ') || 'none'
  );
}

/** `a → b`, or `a` alone when nothing changed; `–` stands for a side that has nothing. */
function change(was: string | undefined, is: string | undefined): string {
  return was === is ? (was ?? '–') : `${was ?? '–'} → ${is ?? '–'}`;
}
