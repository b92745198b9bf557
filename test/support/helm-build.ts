// Helm releases built from source, from the Go module proxy, for the versions no npm package
// ships. Each is built once per release and Go toolchain into
// ~/.cache/milvus-upgrade-action/helm/ with the flags of Helm's own Makefile, so `helm version`
// reports the release and, for Helm 3, the default Kubernetes version follows its client-go.
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildOnce, goEnv, goVersion, isBuilt, runGo, userCacheDir } from './go-build.ts';

const run = promisify(execFile);

let recipe: string | undefined;

/** Digest of this file and the shared Go build code: a change in how Helm is built rebuilds it. */
function recipeDigest(): string {
  recipe ??= createHash('sha256')
    .update(readFileSync(new URL(import.meta.url)))
    .update(readFileSync(new URL('./go-build.ts', import.meta.url)))
    .digest('hex')
    .slice(0, 8);
  return recipe;
}

function buildDir(version: string): string {
  return join(userCacheDir('helm'), `${version}_${goVersion()}_${recipeDigest()}`);
}

/** Where the Helm built from `version` is, or undefined before it has been built. */
export function builtHelm(version: string): string | undefined {
  const dir = buildDir(version);
  return isBuilt(dir) ? join(dir, 'helm') : undefined;
}

function helmModule(version: string): string {
  const major = /^v(\d+)\./.exec(version)?.[1];
  if (!major) throw new Error(`not a Helm release: ${version}`);
  return `helm.sh/helm/v${major}`;
}

/** The `-X` values Helm's Makefile sets for a release build. */
async function ldflags(version: string): Promise<string> {
  const module = helmModule(version);
  const { stdout } = await run('go', ['mod', 'download', '-json', `${module}@${version}`], {
    env: goEnv(),
  });
  const download = JSON.parse(stdout) as { Info: string; GoMod: string };
  // The proxy records the tag's commit for most releases; without it Helm reports none.
  const info = JSON.parse(readFileSync(download.Info, 'utf8')) as { Origin?: { Hash?: string } };
  const values: Record<string, string> = {
    [`${module}/internal/version.version`]: version,
    [`${module}/internal/version.gitCommit`]: info.Origin?.Hash ?? '',
    [`${module}/internal/version.gitTreeState`]: 'clean',
  };
  if (module === 'helm.sh/helm/v3') {
    // Helm 3 defaults .Capabilities.KubeVersion (and lint's deprecation checks) to the
    // Kubernetes release of its client-go, set at build time; Helm 4 reads it at run time.
    const goMod = readFileSync(download.GoMod, 'utf8');
    const clientGo = /^\s*k8s\.io\/client-go v0\.(\d+)\./m.exec(goMod)?.[1];
    if (!clientGo) throw new Error(`${module}@${version} does not require k8s.io/client-go`);
    for (const pkg of ['pkg/chartutil', 'pkg/lint/rules']) {
      values[`${module}/${pkg}.k8sVersionMajor`] = '1';
      values[`${module}/${pkg}.k8sVersionMinor`] = clientGo;
    }
  }
  const flags = ['-s', '-w'];
  for (const [name, value] of Object.entries(values)) flags.push(`-X=${name}=${value}`);
  return flags.join(' ');
}

/** Builds Helm `version` from source unless the cache holds it; returns the binary's path. */
export async function buildHelm(version: string): Promise<string> {
  const dir = await buildOnce(buildDir(version), async (partial) => {
    const flags = await ldflags(version);
    const pkg = `${helmModule(version)}/cmd/helm@${version}`;
    await runGo({
      label: 'helm',
      what: `${version} from ${pkg}`,
      // `go install pkg@version` builds with the release's own go.mod and go.sum.
      args: ['install', '-trimpath', '-p', '2', '-ldflags', flags, pkg],
      env: { ...goEnv(), GOBIN: partial },
    });
    const helm = join(partial, 'helm');
    const reported = execFileSync(helm, ['version', '--template', '{{.Version}}'], {
      encoding: 'utf8',
    }).trim();
    if (reported !== version) throw new Error(`the Helm built from ${pkg} reports ${reported}`);
    return { version, module: helmModule(version), go: goVersion(), ldflags: flags };
  });
  return join(dir, 'helm');
}
