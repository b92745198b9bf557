// Known problems of the Milvus versions a plan lands on, from the release table: warnings that
// name the first release clear of them, never refusals.
import { ADVISORIES, type Advisory } from './milvus.ts';
import { compareVersions, series } from './versions.ts';

/** The advisories that apply to `version` (a normalised `vX.Y.Z`). */
export function advisoriesFor(version: string): Advisory[] {
  return ADVISORIES.filter((a) => {
    const fixed = a.fixedIn[series(version) as '2.5' | '2.6'];
    return fixed !== undefined && compareVersions(version, fixed) < 0;
  });
}

/** The first 2.6 release that the table knows to be clear of every advisory. */
export function clearTarget(): string {
  return ADVISORIES.map((a) => a.fixedIn['2.6'])
    .filter((v): v is string => v !== undefined)
    .reduce((a, b) => (compareVersions(a, b) >= 0 ? a : b));
}

/** One warning per version of the plan that has advisories. */
export function advisoryWarnings(
  landings: readonly { version: string; input: string }[],
): string[] {
  return landings.flatMap(({ version, input }) => {
    const found = advisoriesFor(version);
    if (found.length === 0) return [];
    const list = found.map((a) => `${a.id}: ${a.summary} (${a.source})`).join('; ');
    const clear = clearTarget();
    const advice =
      series(version) === '2.6'
        ? ` ${clear} is the first 2.6 release the action knows to be clear of them: set target-version to it, with a target-chart-version of the 2.6 series that deploys it, to upgrade straight there.`
        : ' The cluster runs it only between the hops.';
    return [`Milvus ${version} (${input}) has known problems: ${list}.${advice}`];
  });
}
