// dist/licenses.txt is built from esbuild's metafile and the bundled packages' own files: which
// packages count, what is read from them, and how the notices are laid out.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Metafile } from 'esbuild';
import {
  type BundledPackage,
  bundledPackageDirs,
  licenseIds,
  licenseProblems,
  packageDir,
  readPackage,
  renderLicenses,
  standardTexts,
} from '../../scripts/licenses.ts';

const pkg = (over: Partial<BundledPackage>): BundledPackage => ({
  name: 'a',
  version: '1.0.0',
  license: 'MIT',
  files: [{ name: 'LICENSE', text: 'MIT License\n\nCopyright (c) A' }],
  ...over,
});

describe('which packages the bundle contains', () => {
  it('a file belongs to the innermost node_modules package, scoped or not', () => {
    assert.equal(packageDir('node_modules/yaml/dist/index.js'), 'node_modules/yaml');
    assert.equal(
      packageDir('node_modules/a/node_modules/@s/b/lib/x.js'),
      'node_modules/a/node_modules/@s/b',
    );
    assert.equal(packageDir('src/main.ts'), undefined);
  });

  it('counts packages with bytes in some output, once each, sorted', () => {
    const output = (inputs: Record<string, number>) => ({
      bytes: 1,
      imports: [],
      exports: [],
      inputs: Object.fromEntries(
        Object.entries(inputs).map(([path, bytesInOutput]) => [path, { bytesInOutput }]),
      ),
    });
    const metafile = {
      inputs: {},
      outputs: {
        'dist/index.js': output({ 'src/index.ts': 10, 'node_modules/z/a.js': 5 }),
        'dist/chunks/x.js': output({
          'node_modules/z/b.js': 3,
          'node_modules/@s/y/i.js': 7,
          'node_modules/shaken/i.js': 0,
        }),
      },
    } as Metafile;
    assert.deepEqual(bundledPackageDirs(metafile), ['node_modules/@s/y', 'node_modules/z']);
  });
});

describe('reading a package', () => {
  const root = mkdtempSync(join(tmpdir(), 'licenses-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const make = (name: string, manifest: object, files: Record<string, string>) => {
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest));
    for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
    return dir;
  };

  it('takes the licence, author, repository, licence files then NOTICE, with tidy text', () => {
    const dir = make(
      'p',
      {
        name: 'p',
        version: '2.0.0',
        license: 'Apache-2.0',
        author: 'Ann Author <ann@example.com> (https://example.com)',
        repository: { type: 'git', url: 'https://example.com/p.git' },
      },
      { 'NOTICE.txt': 'Notice  \r\n', 'LICENSE.md': 'Apache  \r\nLicense\r\n\r\n', 'x.js': '' },
    );
    assert.deepEqual(readPackage(dir), {
      name: 'p',
      version: '2.0.0',
      license: 'Apache-2.0',
      author: 'Ann Author',
      repository: 'https://example.com/p.git',
      files: [
        { name: 'LICENSE.md', text: 'Apache\nLicense' },
        { name: 'NOTICE.txt', text: 'Notice' },
      ],
    });
  });

  it('understands the older licence fields and an UNLICENSE file', () => {
    const old = readPackage(
      make(
        'o',
        { name: 'o', version: '1.0.0', licenses: [{ type: 'MIT' }, { type: 'GPL-2.0' }] },
        {},
      ),
    );
    assert.equal(old.license, 'MIT OR GPL-2.0');
    const typed = readPackage(
      make('t', { name: 't', version: '1.0.0', license: { type: 'ISC' } }, {}),
    );
    assert.equal(typed.license, 'ISC');
    const unlicense = readPackage(
      make('u', { name: 'u', version: '1.0.0', license: 'Unlicense' }, { UNLICENSE: 'free' }),
    );
    assert.deepEqual(unlicense.files, [{ name: 'UNLICENSE', text: 'free' }]);
  });
});

describe('packages without a licence file', () => {
  it('get the standard texts of the licences their expression names', () => {
    assert.deepEqual(licenseIds('(MIT OR Apache-2.0)'), ['MIT', 'Apache-2.0']);
    assert.deepEqual(licenseIds('BSD-3-Clause'), ['BSD-3-Clause']);
    assert.match(standardTexts('MIT')?.[0]?.text ?? '', /^MIT License/);
    assert.equal(standardTexts('(MIT OR Apache-2.0)')?.length, 2);
    assert.equal(standardTexts('SEE LICENSE IN LICENSE.txt'), undefined);
  });

  it('are a problem only when no text can be given', () => {
    assert.deepEqual(licenseProblems([pkg({ files: [] })]), []);
    assert.deepEqual(licenseProblems([pkg({ license: '', files: [] })]), [
      'a@1.0.0 declares no licence in package.json',
    ]);
    assert.match(
      licenseProblems([pkg({ license: 'SEE LICENSE IN EULA', files: [] })])[0] ?? '',
      /ships no licence file/,
    );
    assert.match(
      licenseProblems([pkg({ files: [{ name: 'NOTICE', text: 'n' }], license: 'Custom' })])[0] ??
        '',
      /ships no licence file/,
    );
  });
});

describe('the notices', () => {
  const shared = [{ name: 'LICENSE', text: 'Same text' }];
  const packages = [
    pkg({ name: 'zeta', files: shared }),
    pkg({ name: 'alpha', files: shared, repository: 'https://example.com/alpha' }),
    pkg({ name: 'beta', files: [], author: 'Bea' }),
  ];

  it('list packages sharing the same texts once above them, in name order', () => {
    const text = renderLicenses(packages);
    assert.equal(text.match(/Same text/g)?.length, 1);
    const alpha = text.indexOf('- alpha 1.0.0: MIT, https://example.com/alpha');
    const beta = text.indexOf('- beta 1.0.0: MIT, Bea (the package ships no licence file');
    const zeta = text.indexOf('- zeta 1.0.0: MIT');
    assert.ok(alpha > 0 && beta > 0 && zeta > 0, text);
    assert.ok(alpha < zeta && zeta < text.indexOf('Same text') && text.indexOf('Same text') < beta);
    assert.match(text, /the standard MIT text \(SPDX licence list\):\n\nMIT License/);
    assert.match(text, /includes the 3 npm packages/);
  });

  it('do not depend on the order the packages come in', () => {
    assert.equal(renderLicenses([...packages].reverse()), renderLicenses(packages));
  });
});
