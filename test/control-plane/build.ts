// Builds the real control plane used by tests (kube-apiserver, kube-controller-manager,
// kube-scheduler, etcd, KWOK's controller, and Toxiproxy for connection faults) from the Go
// module proxy, once per set of versions, into a cache outside the repository. The versions are
// the ones pinned by the go.mod files next to this script. The first build takes about 15 minutes
// on 2 cores plus module downloads (and 3.4 GB of Go build cache); with that cache, a rebuild after
// a change here takes under a minute; later calls return at once. Builds are reproducible.
//
//   node test/control-plane/build.ts    build if missing, then print the binaries' paths as JSON
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  buildOnce,
  elapsed,
  goEnv,
  goVersion,
  isBuilt,
  runGo,
  userCacheDir,
} from '../support/go-build.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const run = promisify(execFile);

export interface ControlPlaneBinaries {
  apiserver: string;
  controllerManager: string;
  scheduler: string;
  etcd: string;
  kwok: string;
  toxiproxy: string;
  /**
   * CustomResourceDefinitions of the KWOK kinds tests create at run time (Stage,
   * ClusterPortForward), copied from its module.
   */
  kwokCrds: string[];
}

interface Target {
  key: Exclude<keyof ControlPlaneBinaries, 'kwokCrds'>;
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

/** Plurals of the KWOK kinds whose definitions go into `kwokCrds`. */
const KWOK_CRDS = ['stages', 'clusterportforwards'];
const crdFile = (plural: string) => `kwok.x-k8s.io_${plural}.yaml`;

export function cacheRoot(): string {
  return userCacheDir('control-plane');
}

/** The version `go.mod` in `module` requires of the module it pins. */
export function pinnedVersion(module: keyof typeof PINNED): string {
  const goMod = readFileSync(join(HERE, module, 'go.mod'), 'utf8');
  const line = goMod.match(new RegExp(`^(?:require)?\\s*${PINNED[module]} (v\\S+)`, 'm'));
  if (!line?.[1]) throw new Error(`${module}/go.mod does not require ${PINNED[module]}`);
  return line[1];
}

/** Cache directory name: pinned versions, Go toolchain, digest of the module files and the scripts. */
function cacheKey(): string {
  const digest = createHash('sha256').update(readFileSync(fileURLToPath(import.meta.url)));
  digest.update(readFileSync(new URL('../support/go-build.ts', import.meta.url)));
  for (const module of Object.keys(PINNED)) {
    for (const file of ['go.mod', 'go.sum']) digest.update(readFileSync(join(HERE, module, file)));
  }
  return [
    `k8s-${pinnedVersion('kubernetes')}`,
    `etcd-${pinnedVersion('etcd')}`,
    `kwok-${pinnedVersion('kwok')}`,
    `toxiproxy-${pinnedVersion('toxiproxy')}`,
    goVersion(),
    digest.digest('hex').slice(0, 8),
  ].join('_');
}

function paths(dir: string): ControlPlaneBinaries {
  const entries: [string, string | string[]][] = TARGETS.map((t) => [t.key, join(dir, t.file)]);
  entries.push(['kwokCrds', KWOK_CRDS.map((plural) => join(dir, crdFile(plural)))]);
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

function goBuild(target: Target, outDir: string, ldflags: string): Promise<void> {
  return runGo({
    label: 'control plane',
    what: `${target.file} (${PINNED[target.module]})`,
    args: [
      'build',
      '-trimpath',
      '-p',
      '2',
      '-ldflags',
      ldflags,
      '-o',
      join(outDir, target.file),
      target.pkg,
    ],
    cwd: join(HERE, target.module),
  });
}

/** Paths of the control-plane binaries, building them first when the cache lacks them. */
export async function controlPlaneBinaries(): Promise<ControlPlaneBinaries> {
  const dir = join(cacheRoot(), cacheKey());
  if (isBuilt(dir)) return paths(dir);
  await buildOnce(dir, async (partial) => {
    const started = performance.now();
    console.error(`control plane: first build into ${dir}; about 15 minutes on 2 cores`);
    const kubeLdflags = await kubernetesLdflags();
    for (const target of TARGETS) {
      await goBuild(target, partial, target.module === 'kubernetes' ? kubeLdflags : '-s -w');
    }
    const { stdout: kwokDir } = await run('go', ['list', '-m', '-f', '{{.Dir}}', PINNED.kwok], {
      cwd: join(HERE, 'kwok'),
      env: goEnv(),
    });
    for (const plural of KWOK_CRDS) {
      const crd = join(kwokDir.trim(), 'kustomize', 'crd', 'bases', crdFile(plural));
      copyFileSync(crd, join(partial, crdFile(plural)));
    }
    console.error(`control plane: built everything in ${elapsed(started)}`);
    const versions = Object.fromEntries(
      Object.keys(PINNED).map((m) => [m, pinnedVersion(m as keyof typeof PINNED)]),
    );
    return { versions };
  });
  return paths(dir);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(await controlPlaneBinaries(), null, 2));
}
