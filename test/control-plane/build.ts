// Builds the real control plane used by tests (kube-apiserver, kube-controller-manager,
// kube-scheduler, etcd, KWOK's controller, and Toxiproxy for connection faults) from the Go
// module proxy, once per set of versions, into a cache outside the repository. The versions are
// the ones pinned by the go.mod files next to this script. The first build takes about 15 minutes
// on 2 cores plus module downloads (and 3.4 GB of Go build cache); with that cache, a rebuild after
// a change here takes under a minute; later calls return at once. Builds are reproducible.
//
//   node test/control-plane/build.ts    build if missing, then print the binaries' paths as JSON
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const run = promisify(execFile);

export interface ControlPlaneBinaries {
  apiserver: string;
  controllerManager: string;
  scheduler: string;
  etcd: string;
  kwok: string;
  toxiproxy: string;
  /** KWOK's Stage CustomResourceDefinition, copied from its module: Stages are created at run time. */
  kwokStageCrd: string;
}

interface Target {
  key: Exclude<keyof ControlPlaneBinaries, 'kwokStageCrd'>;
  file: string;
  module: keyof typeof PINNED;
  pkg: string;
}

const TARGETS: Target[] = [
  { key: 'etcd', file: 'etcd', module: 'etcd', pkg: 'go.etcd.io/etcd/server/v3' },
  { key: 'kwok', file: 'kwok', module: 'kwok', pkg: 'sigs.k8s.io/kwok/cmd/kwok' },
  {
    key: 'apiserver',
    file: 'kube-apiserver',
    module: 'kubernetes',
    pkg: 'k8s.io/kubernetes/cmd/kube-apiserver',
  },
  {
    key: 'controllerManager',
    file: 'kube-controller-manager',
    module: 'kubernetes',
    pkg: 'k8s.io/kubernetes/cmd/kube-controller-manager',
  },
  {
    key: 'scheduler',
    file: 'kube-scheduler',
    module: 'kubernetes',
    pkg: 'k8s.io/kubernetes/cmd/kube-scheduler',
  },
  {
    key: 'toxiproxy',
    file: 'toxiproxy-server',
    module: 'toxiproxy',
    pkg: 'github.com/Shopify/toxiproxy/v2/cmd/server',
  },
];

/** The module each Go module directory exists to pin. */
const PINNED = {
  kubernetes: 'k8s.io/kubernetes',
  etcd: 'go.etcd.io/etcd/server/v3',
  kwok: 'sigs.k8s.io/kwok',
  toxiproxy: 'github.com/Shopify/toxiproxy/v2',
} as const;

const STAGE_CRD = 'kwok-stage-crd.yaml';

const MARKER = 'complete.json';

export function cacheRoot(): string {
  const base =
    process.env.MILVUS_UPGRADE_CACHE ||
    join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'milvus-upgrade-action');
  return join(base, 'control-plane');
}

/** The version `go.mod` in `module` requires of the module it pins. */
export function pinnedVersion(module: keyof typeof PINNED): string {
  const goMod = readFileSync(join(HERE, module, 'go.mod'), 'utf8');
  const line = goMod.match(new RegExp(`^(?:require)?\\s*${PINNED[module]} (v\\S+)`, 'm'));
  if (!line?.[1]) throw new Error(`${module}/go.mod does not require ${PINNED[module]}`);
  return line[1];
}

function goEnv(): NodeJS.ProcessEnv {
  // GOWORK=off: a go.work higher up must not change what is built. CGO is not needed.
  return { ...process.env, GOWORK: 'off', GOFLAGS: '-mod=readonly', CGO_ENABLED: '0' };
}

/** Cache directory name: pinned versions, Go toolchain, digest of the module files and this script. */
async function cacheKey(): Promise<string> {
  const { stdout } = await run('go', ['env', 'GOVERSION'], { env: goEnv() });
  const digest = createHash('sha256').update(readFileSync(fileURLToPath(import.meta.url)));
  for (const module of Object.keys(PINNED)) {
    for (const file of ['go.mod', 'go.sum']) digest.update(readFileSync(join(HERE, module, file)));
  }
  return [
    `k8s-${pinnedVersion('kubernetes')}`,
    `etcd-${pinnedVersion('etcd')}`,
    `kwok-${pinnedVersion('kwok')}`,
    `toxiproxy-${pinnedVersion('toxiproxy')}`,
    stdout.trim(),
    digest.digest('hex').slice(0, 8),
  ].join('_');
}

function paths(dir: string): ControlPlaneBinaries {
  const entries = TARGETS.map((target) => [target.key, join(dir, target.file)]);
  entries.push(['kwokStageCrd', join(dir, STAGE_CRD)]);
  return Object.fromEntries(entries) as unknown as ControlPlaneBinaries;
}

/** `-X` flags so that /version (and Helm's .Capabilities.KubeVersion) report the real release. */
async function kubernetesLdflags(): Promise<string> {
  const version = pinnedVersion('kubernetes');
  const { stdout } = await run('go', ['mod', 'download', '-json', `k8s.io/kubernetes@${version}`], {
    cwd: join(HERE, 'kubernetes'),
    env: goEnv(),
  });
  const download = JSON.parse(stdout) as { Info: string; Origin?: { Hash?: string } };
  const info = JSON.parse(readFileSync(download.Info, 'utf8')) as { Time?: string };
  const [, major, minor] = version.match(/^v(\d+)\.(\d+)\./) ?? [];
  // The release's commit time keeps the build reproducible.
  const values = {
    gitVersion: version,
    gitMajor: major,
    gitMinor: minor,
    gitCommit: download.Origin?.Hash ?? '',
    gitTreeState: 'clean',
    buildDate: (info.Time ?? '1970-01-01T00:00:00Z').replace(/\.\d+Z$/, 'Z'),
  };
  const flags = ['-s', '-w'];
  for (const pkg of ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']) {
    for (const [name, value] of Object.entries(values)) flags.push(`-X=${pkg}.${name}=${value}`);
  }
  return flags.join(' ');
}

function elapsed(since: number): string {
  const seconds = Math.round((performance.now() - since) / 1000);
  return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
}

/** Runs `go build`; its output is kept and shown only when it fails. */
function goBuild(target: Target, outDir: string, ldflags: string): Promise<void> {
  const args = [
    'build',
    '-trimpath',
    '-p',
    '2',
    '-ldflags',
    ldflags,
    '-o',
    join(outDir, target.file),
  ];
  args.push(target.pkg);
  const started = performance.now();
  console.error(`control plane: building ${target.file} (${PINNED[target.module]})`);
  const child = spawn('go', args, {
    cwd: join(HERE, target.module),
    env: goEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const ticker = setInterval(
    () => console.error(`control plane: still building ${target.file}, ${elapsed(started)}`),
    60_000,
  );
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(ticker);
      if (code === 0) {
        console.error(`control plane: built ${target.file} in ${elapsed(started)}`);
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

/** Paths of the control-plane binaries, building them first when the cache lacks them. */
export async function controlPlaneBinaries(): Promise<ControlPlaneBinaries> {
  const root = cacheRoot();
  const dir = join(root, await cacheKey());
  const done = () => existsSync(join(dir, MARKER));
  if (done()) return paths(dir);
  mkdirSync(root, { recursive: true });
  const lock = `${dir}.lock`;
  if (!(await acquireLock(lock, done))) return paths(dir);
  const partial = `${dir}.${process.pid}.partial`;
  try {
    const started = performance.now();
    console.error(`control plane: first build into ${dir}; about 15 minutes on 2 cores`);
    rmSync(partial, { recursive: true, force: true });
    mkdirSync(partial, { recursive: true });
    const kubeLdflags = await kubernetesLdflags();
    for (const target of TARGETS) {
      await goBuild(target, partial, target.module === 'kubernetes' ? kubeLdflags : '-s -w');
    }
    const { stdout: kwokDir } = await run('go', ['list', '-m', '-f', '{{.Dir}}', PINNED.kwok], {
      cwd: join(HERE, 'kwok'),
      env: goEnv(),
    });
    const crd = join(kwokDir.trim(), 'kustomize', 'crd', 'bases', 'kwok.x-k8s.io_stages.yaml');
    copyFileSync(crd, join(partial, STAGE_CRD));
    const versions = Object.fromEntries(
      Object.keys(PINNED).map((m) => [m, pinnedVersion(m as keyof typeof PINNED)]),
    );
    writeFileSync(join(partial, MARKER), `${JSON.stringify({ versions }, null, 2)}\n`);
    renameSync(partial, dir);
    console.error(`control plane: built everything in ${elapsed(started)}`);
  } finally {
    rmSync(partial, { recursive: true, force: true });
    rmSync(lock, { recursive: true, force: true });
  }
  return paths(dir);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(await controlPlaneBinaries(), null, 2));
}
