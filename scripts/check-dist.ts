// Fails when dist/ is not what the sources build (`npm run check-dist` runs the build first).
// `git diff` alone misses files the build adds (a new chunk) or no longer writes, so this asks
// `git status`, which reports changed, deleted and untracked files alike.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

const status = execFileSync(
  'git',
  ['status', '--porcelain', '--untracked-files=all', '--', 'dist'],
  {
    cwd: ROOT,
    encoding: 'utf8',
  },
);
if (status.trim()) {
  process.stderr.write(
    `dist/ differs from a fresh build; commit the rebuilt dist/:\n${status.trimEnd()}\n`,
  );
  process.exitCode = 1;
} else {
  process.stdout.write('dist/ matches a fresh build.\n');
}
