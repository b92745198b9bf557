// Global set-up for `npm test`: prepares, once per run, what many test files share.
import { buildChartRepository } from './support/chart-repo.ts';
import { HELM_VERSIONS, helmBinary } from './support/helm-binaries.ts';
import { buildHelmMirror } from './support/helm-mirror.ts';

export async function globalSetup(): Promise<void> {
  for (const version of HELM_VERSIONS) helmBinary(version);
  await buildHelmMirror();
  await buildChartRepository();
}
