// Building Go programs from the Go module proxy into a cache outside the repository, shared by the
// control plane (test/control-plane/build.ts) and the Helm releases built from source
// (helm-build.ts). A build fills a private directory that is renamed into place once it holds a
// `complete.json` marker, under a lock that parallel test files wait on, so each build runs once.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

const MARKER = 'complete.json';

/** `~/.cache/milvus-upgrade-action/<name>`, or under $MILVUS_UPGRADE_CACHE or $XDG_CACHE_HOME. */
export function userCacheDir(name: string): string {
  const base =
    process.env.MILVUS_UPGRADE_CACHE ||
    join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'milvus-upgrade-action');
  return join(base, name);
}

export function goEnv(): NodeJS.ProcessEnv {
  // GOWORK=off: a go.work higher up must not change what is built. CGO is not needed.
  return { ...process.env, GOWORK: 'off', GOFLAGS: '-mod=readonly', CGO_ENABLED: '0' };
}

let toolchain: string | undefined;

/** The Go toolchain's version, such as `go1.26.8`: part of every cache key. */
export function goVersion(): string {
  toolchain ??= execFileSync('go', ['env', 'GOVERSION'], { env: goEnv(), encoding: 'utf8' }).trim();
  return toolchain;
}

export function elapsed(since: number): string {
  const seconds = Math.round((performance.now() - since) / 1000);
  return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
}

export interface GoRun {
  /** Prefix of the progress lines, such as `control plane`. */
  label: string;
  /** What is built, for the progress lines. */
  what: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Runs `go`, saying on stderr what it builds and, every minute, that it still does; go's own
 * output is kept and shown only when it fails.
 */
export function runGo({ label, what, args, cwd, env = goEnv() }: GoRun): Promise<void> {
  const started = performance.now();
  console.error(`${label}: building ${what}`);
  const child = spawn('go', args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const ticker = setInterval(
    () => console.error(`${label}: still building ${what}, ${elapsed(started)}`),
    60_000,
  );
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(ticker);
      if (code === 0) {
        console.error(`${label}: built ${what} in ${elapsed(started)}`);
        resolve();
      } else {
        reject(new Error(`go ${args.join(' ')} failed (exit ${code}):\n${output}`));
      }
    });
  });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Takes `lock` (a directory, created atomically) or waits while a live process holds it, so that
 * parallel test files build once. Returns false when another process finished the build.
 */
async function acquireLock(lock: string, done: () => boolean): Promise<boolean> {
  for (;;) {
    if (done()) return false;
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let holder = 0;
    try {
      holder = Number(readFileSync(join(lock, 'pid'), 'utf8'));
    } catch {
      // Just created by its holder, or just released.
    }
    if (holder && !processAlive(holder)) rmSync(lock, { recursive: true, force: true });
    else await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

/** True once `dir` holds a complete build. */
export function isBuilt(dir: string): boolean {
  return existsSync(join(dir, MARKER));
}

/**
 * Returns `dir` once it holds a complete build. When it does not, `build` fills a private
 * directory and returns what the marker records (versions, flags); the directory is then renamed
 * to `dir`. A process that finds another one building waits for it instead.
 */
export async function buildOnce(
  dir: string,
  build: (partial: string) => Promise<Record<string, unknown>>,
): Promise<string> {
  if (isBuilt(dir)) return dir;
  mkdirSync(dirname(dir), { recursive: true });
  const lock = `${dir}.lock`;
  if (!(await acquireLock(lock, () => isBuilt(dir)))) return dir;
  const partial = `${dir}.${process.pid}.partial`;
  try {
    rmSync(partial, { recursive: true, force: true });
    mkdirSync(partial, { recursive: true });
    const record = await build(partial);
    writeFileSync(join(partial, MARKER), `${JSON.stringify(record, null, 2)}\n`);
    renameSync(partial, dir);
  } finally {
    rmSync(partial, { recursive: true, force: true });
    rmSync(lock, { recursive: true, force: true });
  }
  return dir;
}
