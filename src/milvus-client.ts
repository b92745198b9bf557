// Asks Milvus itself, over gRPC with the official SDK, whether it serves and what it holds.
// The SDK (grpc-js, protobufjs, its proto definitions) takes most of a second to load, so it is
// imported only when a check runs. The token never appears in a message this module makes.
import type { IndexDescription, ResStatus } from '@zilliz/milvus2-sdk-node';
import type { Collection, Index, Inventory, LoadState } from './inventory.ts';

export interface MilvusOptions {
  /** `host:port` of a proxy's gRPC port (19530), e.g. the local end of a port-forward. */
  address: string;
  /** `user:password` or an API key; absent when Milvus authentication is off. */
  token?: string;
  /** The most one call may take. */
  timeoutMs?: number;
}

export interface Health {
  healthy: boolean;
  reasons: string[];
}

export interface Milvus {
  checkHealth(): Promise<Health>;
  /** Every database, and per collection its rows, load state and indexes. */
  inventory(): Promise<Inventory>;
  /** `count(*)`: exact, but only a loaded collection can answer it. */
  exactCount(database: string, collection: string): Promise<number>;
  close(): Promise<void>;
}

// Milvus' code for "index not found", which describeIndex answers for a collection without one.
const INDEX_NOT_FOUND = 700;

const LOAD_STATES: Record<string, LoadState> = {
  LoadStateLoaded: 'loaded',
  LoadStateLoading: 'loading',
  LoadStateNotLoad: 'not-loaded',
  LoadStateNotExist: 'missing',
};

export async function connectMilvus({
  address,
  token,
  timeoutMs = 30_000,
}: MilvusOptions): Promise<Milvus> {
  const { ConsistencyLevelEnum, MilvusClient } = await import('@zilliz/milvus2-sdk-node');
  const client = new MilvusClient({
    address,
    token,
    timeout: timeoutMs,
    // Its log goes to stdout; every failure reaches the caller as an Error instead.
    logLevel: 'error',
    // No heartbeats to the server and no timers that outlive the check.
    telemetry: { enabled: false },
    // The address is the local end of a port-forward: a runner's https_proxy must not take it.
    channelOptions: { 'grpc.enable_http_proxy': 0 },
    isGlobal: false,
  });

  const failed = (what: string, why: string) => {
    const text = token ? why.replaceAll(token, '***') : why;
    return new Error(`Milvus at ${address} could not ${what}: ${text}`);
  };

  /** Runs one SDK call within the timeout (the SDK retries, each retry with a new deadline). */
  async function call<T>(what: string, run: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      const why = `no answer within ${timeoutMs / 1000} s`;
      timer = setTimeout(() => reject(failed(what, why)), timeoutMs);
    });
    const answer = run().catch((error: unknown) => {
      throw failed(what, error instanceof Error ? error.message : String(error));
    });
    try {
      return await Promise.race([answer, expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** A call whose answer must carry a success status; `allow` lists codes that are answers too. */
  async function ask<T extends { status: ResStatus }>(
    what: string,
    run: () => Promise<T>,
    allow: number[] = [],
  ): Promise<T> {
    const answer = await call(what, run);
    const { error_code, code = 0, reason } = answer.status;
    if (!succeeded(answer.status) && !allow.includes(code)) {
      throw failed(what, `${reason || error_code} (code ${code})`);
    }
    return answer;
  }

  async function exactCount(database: string, collection: string): Promise<number> {
    const what = `count the rows of ${database}/${collection}`;
    const answer = await ask(what, () =>
      client.query({
        db_name: database,
        collection_name: collection,
        output_fields: ['count(*)'],
        filter: '',
        // Counts every row written so far, not a snapshot a few seconds old.
        consistency_level: ConsistencyLevelEnum.Strong,
      }),
    );
    return count(answer.data[0]?.['count(*)'], () => failed(what, 'no count(*) in the answer'));
  }

  async function collection(database: string, name: string): Promise<Collection> {
    const of = `${database}/${name}`;
    const [statistics, load, indexes] = await Promise.all([
      ask(`read the statistics of ${of}`, () =>
        client.getCollectionStatistics({ db_name: database, collection_name: name }),
      ),
      ask(`read the load state of ${of}`, () =>
        client.getLoadState({ db_name: database, collection_name: name }),
      ),
      ask(
        `describe the indexes of ${of}`,
        () => client.describeIndex({ db_name: database, collection_name: name }),
        [INDEX_NOT_FOUND],
      ),
    ]);
    const state = LOAD_STATES[load.state] ?? 'not-loaded';
    return {
      database,
      name,
      rows: count(statistics.data.row_count, () =>
        failed(`read the statistics of ${of}`, 'no row_count in the answer'),
      ),
      ...(state === 'loaded' ? { exactRows: await exactCount(database, name) } : {}),
      load: state,
      indexes: indexes.index_descriptions.map(toIndex),
    };
  }

  // The client connects as it is made. Waiting here makes an unreachable address fail this call,
  // not the process (an unhandled rejection); and as a client whose connect failed fails every
  // later call, trying again takes a new client.
  try {
    await call('connect', () => client.connectPromise);
  } catch (error) {
    await client.closeConnection();
    throw error;
  }

  return {
    async checkHealth() {
      const answer = await call('check its health', () => client.checkHealth());
      // The SDK's type omits the status, which a proxy that cannot serve yet sets to an error.
      const { status } = answer as typeof answer & { status?: ResStatus };
      const refused = status && !succeeded(status) ? [status.reason] : [];
      return {
        healthy: answer.isHealthy && refused.length === 0,
        reasons: [...answer.reasons, ...refused],
      };
    },

    async inventory() {
      const { db_names } = await ask('list its databases', () => client.listDatabases());
      const databases = [...db_names].sort();
      const collections: Collection[] = [];
      for (const database of databases) {
        const shown = await ask(`list the collections of database ${database}`, () =>
          client.showCollections({ db_name: database }),
        );
        for (const name of shown.data.map((c) => c.name).sort()) {
          collections.push(await collection(database, name));
        }
      }
      return { databases, collections };
    },

    exactCount,

    async close() {
      await call('close the connection', () => client.closeConnection());
    },
  };
}

function toIndex(d: IndexDescription): Index {
  const param = (key: string) => {
    const value = d.params.find((p) => p.key === key)?.value;
    return value === undefined ? undefined : String(value);
  };
  const metric = param('metric_type');
  return {
    name: d.index_name,
    field: d.field_name,
    type: param('index_type') ?? 'unknown',
    ...(metric ? { metric } : {}),
    state: d.state,
    indexedRows: Number(d.indexed_rows),
    pendingRows: Number(d.pending_index_rows),
    ...(d.index_state_fail_reason ? { failReason: d.index_state_fail_reason } : {}),
  };
}

// Older servers set only the legacy error_code, newer ones the code: success needs both clear.
function succeeded({ error_code, code = 0 }: ResStatus): boolean {
  return error_code === 'Success' && code === 0;
}

/** Milvus sends 64-bit counts as decimal strings. */
function count(value: unknown, missing: () => Error): number {
  const n = Number(value);
  if (value === undefined || value === '' || !Number.isSafeInteger(n) || n < 0) throw missing();
  return n;
}
