// The chart versions the hops use, checked against the repository before anything changes: each
// must exist, and each must be a chart of the Milvus series its hop lands on.
import { refusal } from './errors.ts';
import type { ChartVersion } from './helm-output.ts';
import { DEFAULT_PATH } from './milvus.ts';
import type { HopChoice } from './planner.ts';
import { normalizeVersion, series } from './versions.ts';

/** The input that names each hop's chart version. */
const CHART_INPUT = { 1: 'intermediate-chart-version', 2: 'target-chart-version' } as const;

export function checkChartVersions(
  where: { repository: string; chartName: string },
  available: readonly ChartVersion[],
  hops: readonly Pick<HopChoice, 'number' | 'chartVersion' | 'spec'>[],
): void {
  const missing = [...new Set(hops.map((hop) => hop.chartVersion))].filter(
    (version) => !available.some((chart) => chart.version === version),
  );
  if (missing.length > 0) {
    throw refusal(
      `The chart repository ${where.repository} has no ${where.chartName} chart version ${missing.join(', ')}.`,
      'Check chart-repository (a mirror must carry both chart versions) and the chart version inputs.',
    );
  }
  for (const hop of hops) {
    const chart = available.find((c) => c.version === hop.chartVersion);
    const appVersion = normalizeVersion(chart?.appVersion ?? '');
    if (appVersion && series(appVersion) === hop.spec.series) continue;
    const input = CHART_INPUT[hop.number];
    throw refusal(
      `${input} ${hop.chartVersion} is a chart of Milvus ${chart?.appVersion || 'of an unknown version'}, but hop ${hop.number} lands on Milvus ${hop.spec.series}: its defaults would deploy the wrong components.`,
      `Set ${input} to a ${where.chartName} chart of the ${hop.spec.series} series (helm search repo ${where.chartName} --versions lists chart and app versions; the documented one is ${hop.number === 1 ? DEFAULT_PATH.intermediateChartVersion : DEFAULT_PATH.targetChartVersion}).`,
    );
  }
}
