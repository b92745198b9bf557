// Builds dist/, what a runner executes (`npm run build`):
//
//   dist/index.js        the entry action.yml names
//   dist/chunks/*.js     code split off at dynamic import()s, loaded only when a run needs it
//   dist/**/*.js.map     source maps (mappings only, no sources: src/ is in the repository)
//   dist/licenses.txt    licences of the third-party packages the bundle contains
//
// dist/ is committed and check-dist compares it byte for byte with a fresh build, so the output
// must depend on the sources and the lockfile alone: the old dist/ is removed, nothing carries a
// date or an absolute path.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { cjsNamedExports } from './cjs-imports.ts';
import { bundledPackageDirs, licenseProblems, readPackage, renderLicenses } from './licenses.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const DIST = join(ROOT, 'dist');

// Bundled CommonJS packages call require() for Node built-ins; an ES module has no require.
const REQUIRE_SHIM =
  "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);";

async function main(): Promise<void> {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: ['src/index.ts'],
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'esm',
    splitting: true,
    outdir: 'dist',
    entryNames: '[name]',
    chunkNames: 'chunks/[name]-[hash]',
    sourcemap: 'linked',
    sourcesContent: false,
    // The licences are collected in licenses.txt instead of scattered comments.
    legalComments: 'none',
    minifyWhitespace: true,
    minifySyntax: true,
    banner: { js: REQUIRE_SHIM },
    // import() of a CommonJS package keeps the named exports it has under Node.
    plugins: [cjsNamedExports()],
    metafile: true,
    write: false,
    logLevel: 'warning',
  });

  const packages = bundledPackageDirs(result.metafile).map((dir) => readPackage(join(ROOT, dir)));
  const problems = licenseProblems(packages);
  if (problems.length > 0) {
    throw new Error(`Cannot write dist/licenses.txt:\n  ${problems.join('\n  ')}`);
  }

  // Written only once everything succeeded, so a failed build leaves the old dist/ in place.
  rmSync(DIST, { recursive: true, force: true });
  for (const file of result.outputFiles) {
    mkdirSync(dirname(file.path), { recursive: true });
    writeFileSync(file.path, file.contents);
  }
  writeFileSync(join(DIST, 'licenses.txt'), `${renderLicenses(packages)}\n`);

  const written = result.outputFiles.filter((file) => file.path.endsWith('.js'));
  process.stdout.write(
    `${written.map((file) => `${relative(ROOT, file.path)}  ${file.contents.length} bytes`).join('\n')}\n` +
      `dist/licenses.txt  ${packages.length} packages\n`,
  );
}

try {
  await main();
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
