// A real Milvus peer for tests: Milvus Lite (PyPI) serving gRPC on 127.0.0.1, and pymilvus to
// seed and change its data. Both are installed once into a virtualenv in the user's cache,
// outside the repository: the first run needs python3 and PyPI, later runs neither.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './paths.ts';

export const MILVUS_LITE_VERSION = '3.2.2';
export const PYMILVUS_VERSION = '3.0.2';

const run = promisify(execFile);

let installed: Promise<string> | undefined;

/** The virtualenv's python, installing it first if this machine has none yet. */
export function milvusLitePython(): Promise<string> {
  installed ??= install();
  return installed;
}

async function install(): Promise<string> {
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  const dir = join(
    cache,
    'milvus-upgrade-action',
    'milvus-lite',
    `${MILVUS_LITE_VERSION}-pymilvus-${PYMILVUS_VERSION}`,
  );
  const venv = join(dir, 'venv');
  const python = join(venv, 'bin', 'python');
  if (existsSync(python)) return python;
  mkdirSync(dir, { recursive: true });
  // Built aside and renamed into place, so a parallel test file never sees half an install.
  // Scripts in a renamed venv point to the old path, so everything runs as `python -m`.
  const partial = mkdtempSync(join(dir, 'partial-'));
  try {
    await run('python3', ['-m', 'venv', partial]);
    await run(join(partial, 'bin', 'python'), [
      '-m',
      'pip',
      'install',
      '--quiet',
      '--disable-pip-version-check',
      `milvus-lite==${MILVUS_LITE_VERSION}`,
      `pymilvus==${PYMILVUS_VERSION}`,
    ]);
    try {
      renameSync(partial, venv);
    } catch (error) {
      if (!existsSync(python)) throw error; // else another test file installed it first
    }
  } finally {
    rmSync(partial, { recursive: true, force: true });
  }
  return python;
}

export interface MilvusLite {
  /** `127.0.0.1:<port>`, for the SDK and pymilvus alike. */
  address: string;
  /** Stops the server and removes its data. */
  stop(): Promise<void>;
}

export async function startMilvusLite(): Promise<MilvusLite> {
  const python = await milvusLitePython();
  const dataDir = mkdtempSync(join(tmpdir(), 'milvus-lite-'));
  const port = await freePort();
  const child = spawn(
    python,
    [
      '-m',
      'milvus_lite',
      'server',
      '--data-dir',
      dataDir,
      '--host',
      '127.0.0.1',
      '--port',
      `${port}`,
    ],
    // Its own process group, so stop() reaches everything it started; unbuffered, so the
    // "listening" line arrives when it is printed.
    {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PYTHONUNBUFFERED: '1' },
    },
  );
  const kill = () => killGroup(child);
  process.once('exit', kill);
  const stop = async () => {
    process.off('exit', kill);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      kill();
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await listening(child, 60_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { address: `127.0.0.1:${port}`, stop };
}

/** Resolves once the server prints that it listens (it has bound the port by then). */
function listening(child: ChildProcess, timeoutMs: number): Promise<void> {
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`Milvus Lite did not start within ${timeoutMs} ms:\n${output}`)),
      timeoutMs,
    );
    const read = (chunk: Buffer) => {
      output += chunk;
      if (output.includes('gRPC server listening on')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', read);
    child.stderr?.on('data', read);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`Milvus Lite exited (${signal ?? code}) before it listened:\n${output}`));
    });
  });
}

// SIGKILL: its data is removed with it, so nothing needs a clean shutdown.
function killGroup(child: ChildProcess): void {
  try {
    if (child.pid) process.kill(-child.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** A port nothing listens on right now (Milvus Lite's CLI does not report a port it picked). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

export interface SeedCollection {
  /** Created when missing; `default` when absent. */
  database?: string;
  name: string;
  rows: number;
  /** On the vector field; none when absent. */
  index?: { type: string; metric: string };
  /** Loaded when absent or true. */
  load?: boolean;
}

export interface CollectionRef {
  database?: string;
  name: string;
}

/** What {@link seed} does, in this order: create, then drop, then delete. */
export interface SeedSpec {
  create?: SeedCollection[];
  drop?: CollectionRef[];
  /** Deletes the rows a Milvus filter expression matches, e.g. `id < 10`. */
  delete?: (CollectionRef & { filter: string })[];
}

/**
 * The tests' usual data: `default/books`, loaded with an HNSW index, and `shop/orders`, with an
 * IVF_FLAT index but not loaded (what count(*) cannot answer for).
 */
export function sampleCollections(books: number, orders: number): SeedCollection[] {
  return [
    { name: 'books', rows: books, index: { type: 'HNSW', metric: 'L2' } },
    {
      database: 'shop',
      name: 'orders',
      rows: orders,
      index: { type: 'IVF_FLAT', metric: 'IP' },
      load: false,
    },
  ];
}

/** Creates and changes data on the Milvus at `address` with pymilvus. */
export async function seed(address: string, spec: SeedSpec): Promise<void> {
  const script = join(ROOT, 'test', 'support', 'seed_milvus.py');
  await run(await milvusLitePython(), [script, address, JSON.stringify(spec)]);
}
