// Global set-up for `npm test`: prepares, once per run, what many test files share.
import { HELM_VERSIONS, helmBinary } from './support/helm-binaries.ts';

export async function globalSetup(): Promise<void> {
  for (const version of HELM_VERSIONS) helmBinary(version);
}
