// Runs the action's source (src/main.ts) on this machine with @github/local-action, which reads the
// inputs from a dotenv file and stands in for @actions/core:
//
//   cp .env.example .env      then edit it
//   npm run local-action      or: npm run local-action -- other.env
//
// A runner provides RUNNER_TEMP and RUNNER_TOOL_CACHE, without which the action cannot install
// Helm; here they default to directories under .cache/local-action/, where the verified Helm stays
// cached between runs. The dotenv file (or the shell) may point them elsewhere.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const HOME = join(ROOT, '.cache', 'local-action');

const envFile = process.argv[2] ?? '.env';
if (!existsSync(resolve(ROOT, envFile))) {
  process.stderr.write(
    `${envFile} not found. Copy .env.example to .env and set at least INPUT_RELEASE-NAME.\n`,
  );
  process.exit(2);
}

const temp = join(HOME, 'temp');
const toolCache = join(HOME, 'tool-cache');
const summary = join(HOME, 'summary.md');
mkdirSync(temp, { recursive: true });
mkdirSync(toolCache, { recursive: true });
// A fresh summary per run, as a runner gives each step.
writeFileSync(summary, '');
const defaults = { RUNNER_TEMP: temp, RUNNER_TOOL_CACHE: toolCache, GITHUB_STEP_SUMMARY: summary };

const result = spawnSync(
  join(ROOT, 'node_modules', '.bin', 'local-action'),
  ['.', 'src/main.ts', envFile],
  { cwd: ROOT, stdio: 'inherit', env: { ...defaults, ...process.env } },
);
if (result.error) throw result.error;
process.exitCode = result.status ?? 1;
