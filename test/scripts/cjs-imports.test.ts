// A code-split bundle gives `import()` of a CommonJS module the same names Node gives it: the
// plugin in scripts/cjs-imports.ts, against Node itself on small modules of each kind.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { init } from 'cjs-module-lexer';
import { build } from 'esbuild';
import {
  cjsNamedExports,
  isCommonJs,
  namedExports,
  wrapperSource,
} from '../../scripts/cjs-imports.ts';
import { ROOT } from '../support/paths.ts';

const run = promisify(execFile);
const NODE = join(ROOT, 'node_modules', '.bin', 'node');

/** Prints, per module, the names `import()` gives and what its function exports return. */
const MAIN = `
const show = async (label, load) => {
  const m = await load();
  const names = Object.keys(m).sort();
  const calls = names.filter((n) => typeof m[n] === 'function' && n !== 'default').map((n) => m[n]());
  console.log(label, JSON.stringify(names), JSON.stringify(calls), typeof m.default);
};
await show('exports', () => import('./lib/exports.cjs'));
await show('reexports', () => import('pkg'));
await show('function', () => import('./lib/function.cjs'));
await show('esm', () => import('./lib/esm.mjs'));
`;

describe('import() of CommonJS in a code-split bundle', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'cjs-imports-'));
    const write = (path: string, text: string) => {
      mkdirSync(join(dir, path, '..'), { recursive: true });
      writeFileSync(join(dir, path), text);
    };
    write('package.json', '{"type":"module"}');
    write('main.mjs', MAIN);
    write('lib/exports.cjs', 'exports.one = () => 1;\nexports["two-words"] = () => 2;\n');
    write('lib/function.cjs', 'module.exports = function whole() { return 0; };\n');
    write('lib/esm.mjs', 'export const esm = () => "esm";\n');
    // A TypeScript-style package: __esModule, and names re-exported from another file.
    write('node_modules/pkg/package.json', '{"name":"pkg","main":"index.js"}');
    write(
      'node_modules/pkg/index.js',
      [
        '"use strict";',
        'Object.defineProperty(exports, "__esModule", { value: true });',
        'var __exportStar = (m, e) => { for (const k in m) if (k !== "default") e[k] = m[k]; };',
        '__exportStar(require("./inner"), exports);',
        'exports.outer = () => "outer";',
        '',
      ].join('\n'),
    );
    write('node_modules/pkg/inner.js', 'exports.inner = () => "inner";\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('gives the names and values Node gives, and leaves the rest to esbuild', async () => {
    await build({
      absWorkingDir: dir,
      entryPoints: ['main.mjs'],
      bundle: true,
      platform: 'node',
      format: 'esm',
      splitting: true,
      outdir: 'out',
      plugins: [cjsNamedExports()],
      logLevel: 'error',
    });
    const native = await run(NODE, ['main.mjs'], { cwd: dir });
    const bundled = await run(NODE, [join('out', 'main.js')], { cwd: dir });
    assert.equal(bundled.stdout, native.stdout);
    assert.match(native.stdout, /^reexports .*"inner".*"outer"/m);
  });

  it('the same build without the plugin shows what it prevents', async () => {
    await build({
      absWorkingDir: dir,
      entryPoints: ['main.mjs'],
      bundle: true,
      platform: 'node',
      format: 'esm',
      splitting: true,
      outdir: 'plain',
      logLevel: 'error',
    });
    const { stdout } = await run(NODE, [join('plain', 'main.js')], { cwd: dir });
    assert.match(stdout, /^exports \["default"\] \[\] object$/m);
  });

  it('reads the module format and the names as Node does', async () => {
    await init();
    assert.equal(isCommonJs(join(dir, 'lib/exports.cjs')), true);
    assert.equal(isCommonJs(join(dir, 'lib/esm.mjs')), false);
    assert.equal(isCommonJs(join(dir, 'node_modules/pkg/index.js')), true);
    assert.equal(isCommonJs(join(dir, 'main.mjs')), false);
    assert.deepEqual([...(namedExports(join(dir, 'node_modules/pkg/index.js')) ?? [])].sort(), [
      '__esModule',
      'inner',
      'outer',
    ]);
    assert.deepEqual([...(namedExports(join(dir, 'lib/function.cjs')) ?? [])], []);
    // ES module syntax does not lex as CommonJS: such a file is left to esbuild.
    assert.equal(namedExports(join(dir, 'lib/esm.mjs')), undefined);
    assert.match(wrapperSource('/x/y.js', ['a-b']), /e0 as "a-b"/);
    assert.match(wrapperSource('/x/y.js', []), /require\("\.\/y\.js"\)/);
  });
});
