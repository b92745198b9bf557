// Driver for the tool-cache measurement: runs the action's own installHelm once, on Node 24,
// with the runner directories and mirror given in the environment, and prints how long it took.
import { installHelm } from '../src/installer.ts';

const started = performance.now();
const installed = await installHelm({
  version: process.env.BENCH_HELM_VERSION ?? '',
  baseUrl: process.env.BENCH_HELM_BASE_URL ?? '',
  sha256: process.env.BENCH_HELM_SHA256 ?? '',
});
const ms = performance.now() - started;
process.stdout.write(`bench-result ${JSON.stringify({ ms, cacheHit: installed.cacheHit })}\n`);
