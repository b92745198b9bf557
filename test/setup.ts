// Global set-up for `npm test`: prepares, once per run, what many test files share.
import { buildChartRepository } from './support/chart-repo.ts';
import { prepareHelmBinaries } from './support/helm-binaries.ts';
import { buildHelmMirror } from './support/helm-mirror.ts';

export async function globalSetup(): Promise<void> {
  await prepareHelmBinaries();
  await buildHelmMirror();
  await buildChartRepository();
}
