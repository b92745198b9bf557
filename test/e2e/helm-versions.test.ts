// The main two-hop scenario with the Helm releases the action must work with: the oldest it
// accepts, its default, and the newest of each major (the other e2e files use the official
// v3.18.0 and v4.1.4 binaries).
import { actionDefaults } from '../support/action-defaults.ts';
import { HELM_VERSIONS, type HelmVersion } from '../support/helm-binaries.ts';
import { twoHopScenario } from './main-scenario.ts';

const byMajor = (major: number) => HELM_VERSIONS.filter((v) => v.startsWith(`v${major}.`));
const defaultHelm = actionDefaults()['helm-version'] as HelmVersion;
if (!HELM_VERSIONS.includes(defaultHelm)) {
  throw new Error(`The tests have no Helm ${defaultHelm}, the action's default: add it to them.`);
}

const versions = new Set([
  byMajor(3)[0],
  defaultHelm,
  byMajor(3).at(-1),
  byMajor(4).at(-1),
] as HelmVersion[]);
for (const version of versions) twoHopScenario(version);
