// Start-up of the bundled action and the cost of installing Helm from the tool cache.
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DIST, NODE } from '../test/support/harness.ts';
import type { HelmVersion } from '../test/support/helm-binaries.ts';
import { startHelmMirror } from '../test/support/helm-mirror.ts';
import { ROOT } from '../test/support/paths.ts';

const run = promisify(execFile);

/** Bytes of every file in dist/, its chunks/ included. */
export function distBytes(): number {
  const dir = join(ROOT, 'dist');
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((name) => statSync(join(dir, name)))
    .filter((stat) => stat.isFile())
    .reduce((sum, stat) => sum + stat.size, 0);
}

/** Size of the Milvus SDK's chunk in dist/: code split off, loaded only when Milvus is asked. */
export function sdkChunkBytes(): number {
  const dir = join(ROOT, 'dist', 'chunks');
  const chunk = readdirSync(dir).find((name) => /^milvus-[A-Z0-9]+\.js$/.test(name));
  return chunk ? statSync(join(dir, chunk)).size : 0;
}

/**
 * Milliseconds from spawning `node dist/index.js` (as a runner does, without inputs) to the first
 * byte on its stdout, the `::group::Inputs` line. The process is stopped there.
 */
export async function startupMs(): Promise<number> {
  const job = mkdtempSync(join(tmpdir(), 'bench-startup-'));
  const output = join(job, 'output');
  writeFileSync(output, '');
  try {
    const started = performance.now();
    const child = spawn(NODE, [DIST], {
      cwd: job,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        GITHUB_ACTIONS: 'true',
        GITHUB_OUTPUT: output,
        RUNNER_TEMP: job,
      },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const closed = new Promise((resolve) => child.on('close', resolve));
    const ms = await new Promise<number>((resolve, reject) => {
      child.on('error', reject);
      child.stdout.once('data', () => resolve(performance.now() - started));
    });
    child.kill();
    await closed;
    return ms;
  } finally {
    rmSync(job, { recursive: true, force: true });
  }
}

export interface InstallTimes {
  missMs: number[];
  hitMs: number[];
}

/**
 * Times the action's installHelm (bench/install-helm.ts on Node 24) against the local mirror:
 * `misses` times into an empty tool cache (download, verify, extract, cache), then `hits` times
 * into the warm one. Leaves the warm tool cache in `toolCache` for the end-to-end runs.
 */
export async function installTimes(
  version: HelmVersion,
  toolCache: string,
  misses: number,
  hits: number,
): Promise<InstallTimes> {
  const mirror = await startHelmMirror();
  const scratch = mkdtempSync(join(tmpdir(), 'bench-install-'));
  const once = async (cache: string) => {
    const temp = mkdtempSync(join(scratch, 'temp-'));
    const path = join(temp, 'github-path');
    writeFileSync(path, '');
    const { stdout } = await run(NODE, [join(ROOT, 'bench', 'install-helm.ts')], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        RUNNER_TOOL_CACHE: cache,
        RUNNER_TEMP: temp,
        GITHUB_PATH: path,
        BENCH_HELM_VERSION: version,
        BENCH_HELM_BASE_URL: mirror.baseUrl,
        BENCH_HELM_SHA256: mirror.sha256[version],
      },
    });
    const line = stdout.split('\n').find((l) => l.startsWith('bench-result '));
    if (!line) throw new Error(`install-helm printed no result:\n${stdout}`);
    return JSON.parse(line.slice('bench-result '.length)) as { ms: number; cacheHit: boolean };
  };
  try {
    const missMs: number[] = [];
    for (let n = 0; n < misses; n++) {
      const cache = n === misses - 1 ? toolCache : join(scratch, `cache-${n}`);
      rmSync(cache, { recursive: true, force: true });
      mkdirSync(cache, { recursive: true });
      const result = await once(cache);
      if (result.cacheHit) throw new Error('an empty tool cache reported a hit');
      missMs.push(result.ms);
    }
    const hitMs: number[] = [];
    for (let n = 0; n < hits; n++) {
      const result = await once(toolCache);
      if (!result.cacheHit) throw new Error('a warm tool cache reported a miss');
      hitMs.push(result.ms);
    }
    return { missMs, hitMs };
  } finally {
    await mirror.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}
