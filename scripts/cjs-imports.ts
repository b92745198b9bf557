// An esbuild plugin that keeps `await import('some-commonjs-package')` working in a code-split
// bundle. Node gives such an import the package's named exports (found by cjs-module-lexer) and
// `default`; esbuild, when splitting, makes the CommonJS module a chunk whose only export is
// `default` (evanw/esbuild#3245), so `const { MilvusClient } = await import(…)` would be
// undefined in dist/ and defined in the tests that run src/. The plugin puts a small ES module in
// between that exports the same names Node would, from the same lexer.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, extname, isAbsolute, join, relative, resolve } from 'node:path';
import { init, parse } from 'cjs-module-lexer';
import type { Plugin } from 'esbuild';

const NAMESPACE = 'cjs-named-exports';
/** Marks the plugin's own resolve calls, which must not be intercepted again. */
const INNER = Symbol('inner');

/** Whether Node loads the file as CommonJS: .cjs, or .js outside a "type": "module" package. */
export function isCommonJs(file: string): boolean {
  const ext = extname(file);
  if (ext === '.cjs') return true;
  if (ext !== '.js') return false;
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        type?: string;
      };
      return manifest.type !== 'module';
    } catch {
      if (dir === dirname(dir)) return true;
    }
  }
}

/**
 * The names Node's ESM loader gives a CommonJS file besides `default`: the lexer's exports, and
 * those of the modules it re-exports (`module.exports = require(…)`, TypeScript's
 * `__exportStar`), followed as Node follows them. Undefined when the file does not lex as
 * CommonJS (ES module syntax in a .js file that esbuild reads as an ES module anyway).
 */
export function namedExports(file: string, seen = new Set<string>()): Set<string> | undefined {
  if (seen.has(file)) return new Set();
  seen.add(file);
  let lexed: { exports: readonly string[]; reexports: readonly string[] };
  try {
    lexed = parse(readFileSync(file, 'utf8'), file);
  } catch {
    return undefined;
  }
  const { exports, reexports } = lexed;
  const names = new Set<string>(exports);
  const requireFrom = createRequire(file);
  for (const specifier of reexports) {
    let target: string;
    try {
      target = requireFrom.resolve(specifier);
    } catch {
      continue;
    }
    if (!isAbsolute(target) || !['.js', '.cjs'].includes(extname(target))) continue;
    for (const name of namedExports(target, seen) ?? []) names.add(name);
  }
  names.delete('default');
  names.delete('module.exports');
  return names;
}

/**
 * The ES module put in front of a CommonJS file (loaded from the file's directory): its exports
 * object as `default` and as `module.exports` (as Node 24 gives it), and each name, as a string
 * so that any name can be exported.
 */
export function wrapperSource(file: string, names: Iterable<string>): string {
  const sorted = [...names].sort();
  return [
    `const m = require(${JSON.stringify(`./${basename(file)}`)});`,
    `export { m as default, m as "module.exports" };`,
    ...sorted.map((name, index) => `const e${index} = m[${JSON.stringify(name)}];`),
    `export { ${sorted.map((name, index) => `e${index} as ${JSON.stringify(name)}`).join(', ')} };`,
  ].join('\n');
}

export function cjsNamedExports(): Plugin {
  return {
    name: NAMESPACE,
    async setup(build) {
      await init();
      const root = build.initialOptions.absWorkingDir ?? process.cwd();
      build.onResolve({ filter: /.*/ }, async (args) => {
        if (args.kind !== 'dynamic-import' || args.pluginData === INNER) return undefined;
        const result = await build.resolve(args.path, {
          kind: args.kind,
          importer: args.importer,
          resolveDir: args.resolveDir,
          pluginData: INNER,
        });
        // Anything else is left to esbuild, which resolves it again the same way.
        if (result.errors.length > 0 || result.external || result.namespace !== 'file') {
          return undefined;
        }
        if (!isCommonJs(result.path) || !namedExports(result.path)) return undefined;
        // Relative, so that nothing in dist/ depends on where the repository is checked out.
        return { path: relative(root, result.path), namespace: NAMESPACE };
      });
      build.onLoad({ filter: /.*/, namespace: NAMESPACE }, (args) => {
        const file = resolve(root, args.path);
        return {
          contents: wrapperSource(file, namedExports(file) ?? []),
          resolveDir: dirname(file),
          loader: 'js',
        };
      });
    },
  };
}
