// dist/ as a runner gets it: the committed files alone, with no node_modules. The entry and every
// chunk load from a copy of dist/ outside the repository, Node applies the source maps so stack
// traces lead back to src/, the Milvus SDK stays out of what a run loads up front, and
// licenses.txt names every package whose code the bundle carries.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire, SourceMap, type SourceMapPayload } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { packageDir } from '../../scripts/licenses.ts';
import { ROOT } from '../support/paths.ts';

const run = promisify(execFile);
const NODE = join(ROOT, 'node_modules', '.bin', 'node');
const DIST = join(ROOT, 'dist');

/** Every file under dir, as paths relative to it with forward slashes. */
function files(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true })
    .flatMap((entry) =>
      entry.isDirectory() ? files(dir, `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`],
    )
    .sort();
}

const JS = files(DIST).filter((name) => name.endsWith('.js'));
const mapOf = (name: string) =>
  JSON.parse(readFileSync(join(DIST, `${name}.map`), 'utf8')) as SourceMapPayload & {
    sourcesContent?: unknown;
  };
/**
 * Sources of a bundle file, relative to the repository root; modules a build plugin generated
 * keep their `namespace:path` name.
 */
const sourcesOf = (name: string): string[] =>
  mapOf(name).sources.map((source) =>
    /^[\w-]+:/.test(source)
      ? source
      : relative(ROOT, resolve(dirname(join(DIST, name)), source))
          .split(sep)
          .join('/'),
  );

/** Bundle files a file imports statically (`import … from "./x.js"`), not through `import()`. */
function staticImports(name: string): string[] {
  const code = readFileSync(join(DIST, name), 'utf8');
  const found = new Set<string>();
  for (const [, specifier = ''] of code.matchAll(
    /(?<![\w$.])(?:import|export)\s*(?:[\w$*{},\s]*?from\s*)?["'](\.{1,2}\/[^"']+)["']/g,
  )) {
    const target = relative(DIST, resolve(dirname(join(DIST, name)), specifier))
      .split(sep)
      .join('/');
    if (JS.includes(target)) found.add(target);
  }
  return [...found];
}

/** A file and everything it imports statically, transitively. */
function staticClosure(name: string): Set<string> {
  const seen = new Set<string>();
  const queue = [name];
  for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
    if (seen.has(next)) continue;
    seen.add(next);
    queue.push(...staticImports(next));
  }
  return seen;
}

const holding = (path: string) => JS.filter((name) => sourcesOf(name).includes(path));

/** The file Node loads for `import('@zilliz/milvus2-sdk-node')`. */
const SDK_ENTRY = relative(
  ROOT,
  createRequire(join(ROOT, 'package.json')).resolve('@zilliz/milvus2-sdk-node'),
)
  .split(sep)
  .join('/');

describe('dist/', () => {
  let copy = '';
  before(() => {
    copy = mkdtempSync(join(tmpdir(), 'dist-alone-'));
    cpSync(DIST, join(copy, 'dist'), { recursive: true });
  });
  after(() => rmSync(copy, { recursive: true, force: true }));

  it('has the entry action.yml names, its chunks, their maps and the licences', () => {
    assert.ok(JS.includes('index.js'));
    assert.ok(JS.length > 1, 'no chunks: the build no longer splits code');
    for (const name of JS) assert.ok(existsSync(join(DIST, `${name}.map`)), `${name}.map`);
    assert.ok(existsSync(join(DIST, 'licenses.txt')));
  });

  it('runs without node_modules: a copy of dist/ alone starts and checks its inputs', async () => {
    for (let dir = copy; dir !== dirname(dir); dir = dirname(dir)) {
      assert.ok(!existsSync(join(dir, 'node_modules')), `${dir} has node_modules`);
    }
    const output = join(copy, 'output');
    const result = await run(NODE, [join(copy, 'dist', 'index.js')], {
      cwd: copy,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', GITHUB_OUTPUT: output, RUNNER_TEMP: copy },
    }).then(
      () => assert.fail('the action succeeded without inputs'),
      (error: { code?: number; stdout: string; stderr: string }) => error,
    );
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stdout, /::error::.*release-name is required/);
    assert.doesNotMatch(result.stderr, /ERR_MODULE_NOT_FOUND|Cannot find (module|package)/);
  });

  it('every chunk loads from that copy, so none needs a package from node_modules', async () => {
    // The entry runs the action; the test above covers it.
    const chunks = JS.filter((name) => name !== 'index.js');
    const urls = chunks.map((name) => pathToFileURL(join(copy, 'dist', name)).href);
    const script = `for (const url of ${JSON.stringify(urls)}) await import(url);`;
    await run(NODE, ['--input-type=module', '--eval', script], { cwd: copy });
  });

  it('Node applies the source maps: the chunks a run loads have them when it ends', async () => {
    const [main] = holding('src/main.ts');
    assert.ok(main, 'no bundle file holds src/main.ts');
    const url = pathToFileURL(join(copy, 'dist', main)).href;
    // Preloaded before the entry, and asks at exit whether Node read the chunk's map.
    const probe = [
      `import { findSourceMap } from 'node:module';`,
      `process.on('exit', () => process.stderr.write('map:' + Boolean(findSourceMap(${JSON.stringify(url)}))));`,
    ].join('\n');
    const result = await run(
      NODE,
      ['--import', `data:text/javascript,${encodeURIComponent(probe)}`, 'dist/index.js'],
      { cwd: copy, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', RUNNER_TEMP: copy } },
    ).then(
      () => assert.fail('the action succeeded without inputs'),
      (error: { stderr: string }) => error,
    );
    assert.match(result.stderr, /map:true/);
  });

  it('the maps name src/ and node_modules files, carry no sources, and map run() to main.ts', () => {
    for (const name of JS) {
      const code = readFileSync(join(DIST, name), 'utf8');
      const basename = name.split('/').pop() ?? '';
      assert.ok(code.trimEnd().endsWith(`//# sourceMappingURL=${basename}.map`), name);
      assert.equal(mapOf(name).sourcesContent, undefined, `${name}.map embeds the sources`);
      for (const source of sourcesOf(name)) {
        assert.match(
          source,
          /^((cjs-named-exports:)?node_modules|src)\//,
          `${name}.map names ${source}`,
        );
        // Packages' own maps lead on to sources they do not ship; ours must all be there.
        if (source.startsWith('src/')) assert.ok(existsSync(join(ROOT, source)), source);
      }
    }
    // esbuild renames clashing names (run2): one of the run()s must map to main.ts.
    const [main = ''] = holding('src/main.ts');
    const map = new SourceMap(mapOf(main));
    const origins = readFileSync(join(DIST, main), 'utf8')
      .split('\n')
      .flatMap((text, line) =>
        [...text.matchAll(/async function run\d*\(/g)].map((match) => {
          const entry = map.findEntry(line, match.index);
          return 'originalSource' in entry ? entry.originalSource : '(unmapped)';
        }),
      );
    assert.ok(
      origins.some((source) => source.endsWith('/src/main.ts')),
      `run() maps to ${origins.join(', ')}`,
    );
  });

  it('the Milvus SDK is a chunk of its own that the action loads only through import()', (t) => {
    const sdk = JS.filter((name) =>
      sourcesOf(name).some((source) => source.startsWith('node_modules/@zilliz/milvus2-sdk-node/')),
    );
    if (sdk.length === 0) return t.skip('the bundle does not contain the Milvus SDK');
    const [main = ''] = holding('src/main.ts');
    const loadedUpFront = [...staticClosure('index.js'), ...staticClosure(main)];
    assert.deepEqual(
      sdk.filter((name) => loadedUpFront.includes(name)),
      [],
      'the SDK is imported statically',
    );
  });

  it('import() of the Milvus SDK gives, from dist/ alone, the names Node gives it', async (t) => {
    // The module scripts/cjs-imports.ts puts in front of the SDK's entry starts the SDK's chunk.
    const sdk = JS.filter((name) => sourcesOf(name).includes(`cjs-named-exports:${SDK_ENTRY}`));
    if (sdk.length === 0) return t.skip('the bundle does not contain the Milvus SDK');
    const url = pathToFileURL(join(copy, 'dist', sdk[0] ?? '')).href;
    const names = (specifier: string) =>
      `console.log(JSON.stringify(Object.keys(await import(${JSON.stringify(specifier)}))));process.exit();`;
    const [native, bundled] = await Promise.all([
      run(NODE, ['--input-type=module', '--eval', names('@zilliz/milvus2-sdk-node')], {
        cwd: ROOT,
      }),
      run(NODE, ['--input-type=module', '--eval', names(url)], { cwd: copy }),
    ]);
    assert.deepEqual(JSON.parse(bundled.stdout), JSON.parse(native.stdout));
    assert.ok((JSON.parse(bundled.stdout) as string[]).includes('MilvusClient'));
  });

  it('licenses.txt names every package the bundle carries code of, and no other', () => {
    const notices = readFileSync(join(DIST, 'licenses.txt'), 'utf8');
    const listed = new Set(
      [...notices.matchAll(/^- (\S+) (\S+):/gm)].map(([, n, v]) => `${n}@${v}`),
    );
    const bundled = new Set<string>();
    for (const name of JS) {
      for (const source of sourcesOf(name)) {
        const dir = packageDir(source);
        // A package's own map may name a directory beside it (…/@scope/.build-data/…).
        if (!dir || !existsSync(join(ROOT, dir, 'package.json'))) continue;
        const { name: pkg, version } = JSON.parse(
          readFileSync(join(ROOT, dir, 'package.json'), 'utf8'),
        ) as { name: string; version: string };
        bundled.add(`${pkg}@${version}`);
      }
    }
    assert.deepEqual([...bundled].filter((id) => !listed.has(id)).sort(), [], 'not listed');
    assert.deepEqual([...listed].filter((id) => !bundled.has(id)).sort(), [], 'not bundled');
    assert.match(notices, /@kubernetes\/client-node .*Apache-2\.0/);
  });
});
