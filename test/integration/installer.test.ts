import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { UpgradeError } from '../../src/errors.ts';
import {
  helmArchiveUrl,
  helmPlatform,
  knownChecksum,
  parseChecksumFile,
} from '../../src/installer.ts';
import { HELM_CHECKSUMS } from '../../src/milvus.ts';
import { actionDefaults } from '../support/action-defaults.ts';
import { HELM_VERSIONS, type HelmVersion } from '../support/helm-binaries.ts';
import { type HelmMirror, startHelmMirror } from '../support/helm-mirror.ts';
import { ROOT } from '../support/paths.ts';

const LINUX_X64 = helmPlatform('linux', 'x64');
const HASH_A = 'a'.repeat(64);
const HASH_B = 'b'.repeat(64);

describe('installer helpers', () => {
  test('names the platform the way Helm archives do', () => {
    assert.deepEqual(helmPlatform('linux', 'x64'), {
      os: 'linux',
      arch: 'amd64',
      id: 'linux-amd64',
      nodeArch: 'x64',
    });
    assert.equal(helmPlatform('linux', 'arm64').id, 'linux-arm64');
    assert.equal(helmPlatform('darwin', 'x64').id, 'darwin-amd64');
    assert.equal(helmPlatform('darwin', 'arm64').id, 'darwin-arm64');
  });

  for (const [platform, arch] of [
    ['win32', 'x64'],
    ['linux', 'ia32'],
    ['linux', 's390x'],
    ['freebsd', 'x64'],
  ] as const) {
    test(`refuses ${platform}/${arch} with what to do`, () => {
      assert.throws(
        () => helmPlatform(platform, arch),
        (error: unknown) => {
          assert.ok(error instanceof UpgradeError);
          assert.match(error.what, new RegExp(`${platform}/${arch}`));
          assert.match(error.what, /Linux or macOS/);
          assert.match(error.next, /runs-on/);
          return true;
        },
      );
    });
  }

  test('builds the archive URL from the base URL', () => {
    assert.equal(
      helmArchiveUrl('https://get.helm.sh', 'v3.19.0', LINUX_X64),
      'https://get.helm.sh/helm-v3.19.0-linux-amd64.tar.gz',
    );
    assert.equal(
      helmArchiveUrl('https://mirror.example/helm///', 'v4.1.4', helmPlatform('darwin', 'arm64')),
      'https://mirror.example/helm/helm-v4.1.4-darwin-arm64.tar.gz',
    );
  });

  test('parses sha256sum files', () => {
    const name = 'helm-v3.19.0-linux-amd64.tar.gz';
    assert.equal(parseChecksumFile(`${HASH_A}  ${name}\n`, name), HASH_A);
    assert.equal(parseChecksumFile(`${HASH_A.toUpperCase()} *${name}`, name), HASH_A);
    assert.equal(parseChecksumFile(`${HASH_A}\n`, name), HASH_A, 'the bare .sha256 form');
    assert.equal(
      parseChecksumFile(`${HASH_B}  helm-v3.19.0-darwin-amd64.tar.gz\n${HASH_A}  ${name}\n`, name),
      HASH_A,
    );
    assert.equal(parseChecksumFile(`${HASH_B}  other.tar.gz\n`, name), undefined);
    assert.equal(parseChecksumFile('<html>not found</html>', name), undefined);
    assert.equal(parseChecksumFile(`${HASH_A.slice(1)}  ${name}`, name), undefined);
  });

  test('takes the input checksum first, then the carried one', () => {
    const carried = { 'v3.18.0': { 'linux-amd64': HASH_B } };
    assert.deepEqual(knownChecksum('v3.18.0', LINUX_X64, HASH_A, carried), {
      sha256: HASH_A,
      source: 'input',
    });
    assert.deepEqual(knownChecksum('v3.18.0', LINUX_X64, '', carried), {
      sha256: HASH_B,
      source: 'carried',
    });
    assert.equal(knownChecksum('v3.18.0', helmPlatform('linux', 'arm64'), '', carried), undefined);
    assert.equal(knownChecksum('v3.17.3', LINUX_X64, undefined, carried), undefined);
  });

  test("carries the default version (action.yml's) and v3.19.0 for every platform", () => {
    const defaultHelm = actionDefaults()['helm-version'] ?? '';
    for (const version of [defaultHelm, 'v3.19.0']) {
      for (const platform of ['linux-amd64', 'linux-arm64', 'darwin-amd64', 'darwin-arm64']) {
        const [os = '', arch = ''] = platform.split('-');
        const known = knownChecksum(
          version,
          helmPlatform(os, arch === 'amd64' ? 'x64' : 'arm64'),
          '',
        );
        assert.equal(known?.source, 'carried', `${version} ${platform}`);
        assert.match(known?.sha256 ?? '', /^[0-9a-f]{64}$/);
        assert.equal(known?.sha256, HELM_CHECKSUMS[version]?.[platform]);
      }
    }
  });
});

interface ChildRun {
  code: number;
  stdout: string;
  stderr: string;
  result?: { path: string; version: string; cacheHit: boolean; ms: number };
}

const INSTALLER_URL = pathToFileURL(join(ROOT, 'src/installer.ts')).href;
const DRIVER = `
const { installHelm } = await import(${JSON.stringify(INSTALLER_URL)});
const options = JSON.parse(process.env.TEST_INSTALL_OPTIONS);
try {
  const started = performance.now();
  const result = await installHelm(options);
  const ms = performance.now() - started;
  console.log('RESULT ' + JSON.stringify({ ...result, ms }));
} catch (error) {
  console.error(error.message);
  process.exitCode = 1;
}
`;

/**
 * A runner of its own: tool cache, temp dir and GITHUB_PATH file, so core.addPath and
 * core.warning act on files and output the test reads, never on the job running the tests.
 */
class Runner {
  readonly root = mkdtempSync(join(tmpdir(), 'installer-test-'));
  readonly toolCache = join(this.root, 'toolcache');
  readonly temp = join(this.root, 'temp');
  readonly githubPath = join(this.root, 'github_path');

  constructor() {
    writeFileSync(this.githubPath, '');
  }

  install(options: Record<string, unknown>): Promise<ChildRun> {
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: this.root,
      RUNNER_TOOL_CACHE: this.toolCache,
      RUNNER_TEMP: this.temp,
      GITHUB_PATH: this.githubPath,
      TEST_INSTALL_OPTIONS: JSON.stringify(options),
    };
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        ['--input-type=module', '--eval', DRIVER],
        { env, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 },
        (error, stdout, stderr) => {
          const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
          resolve({
            code: error ? Number(error.code ?? 1) : 0,
            stdout,
            stderr,
            ...(line ? { result: JSON.parse(line.slice('RESULT '.length)) } : {}),
          });
        },
      );
    });
  }

  cachedHelm(): string[] {
    const dir = join(this.toolCache, 'helm');
    return existsSync(dir) ? readdirSync(dir) : [];
  }

  tempLeftovers(): string[] {
    return existsSync(this.temp) ? readdirSync(this.temp) : [];
  }

  dispose(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

function reportedVersion(binary: string): string {
  return execFileSync(binary, ['version', '--template', '{{.Version}}'], {
    encoding: 'utf8',
  }).trim();
}

const onLinuxX64 = process.platform === 'linux' && process.arch === 'x64';

describe('installHelm against a local mirror', { skip: !onLinuxX64 && 'needs linux/x64' }, () => {
  let mirror: HelmMirror;
  const runners: Runner[] = [];
  const runner = () => {
    const created = new Runner();
    runners.push(created);
    return created;
  };

  before(async () => {
    mirror = await startHelmMirror();
  });
  after(async () => {
    await mirror?.stop();
    for (const r of runners) r.dispose();
  });

  // One Helm 3 and one Helm 4 from npm, and the oldest and newest built ones: the archives differ
  // only in what they hold, which each run checks.
  const versions = [HELM_VERSIONS[0], 'v3.18.0', 'v4.1.4', HELM_VERSIONS.at(-1)] as HelmVersion[];
  for (const version of versions) {
    test(`${version}: a miss downloads, verifies and caches; the next call is a hit`, async () => {
      const r = runner();
      const from = mirror.requests.length;
      const first = await r.install({
        version,
        baseUrl: mirror.baseUrl,
        sha256: mirror.sha256[version],
      });
      assert.equal(first.code, 0, first.stderr);
      assert.ok(first.result);
      assert.equal(first.result.cacheHit, false);
      assert.equal(first.result.version, version);
      assert.equal(first.result.path, join(r.toolCache, 'helm', version.slice(1), 'x64', 'helm'));
      assert.equal(reportedVersion(first.result.path), version);
      assert.deepEqual(mirror.requests.slice(from), [`/helm-${version}-linux-amd64.tar.gz`]);
      assert.match(first.stdout, /is not in the tool cache; downloading http:\/\/127\.0\.0\.1/);
      assert.match(first.stdout, /Checksum source: the helm-sha256 input/);
      assert.match(first.stdout, new RegExp(`Verified SHA-256 ${mirror.sha256[version]}`));
      assert.ok(existsSync(join(r.toolCache, 'helm', version.slice(1), 'x64.complete')));
      assert.deepEqual(r.tempLeftovers(), [], 'the archive and the unpacked copy are removed');
      assert.equal(readFileSync(r.githubPath, 'utf8').trim(), dirname(first.result.path));

      // No checksum expected: the mirror's archives are not the official ones, whose checksums
      // the action carries for some of these versions (its default among them).
      const again = await r.install({ version, baseUrl: mirror.baseUrl, checksums: {} });
      assert.equal(again.code, 0, again.stderr);
      assert.ok(again.result);
      assert.equal(again.result.cacheHit, true);
      assert.equal(again.result.path, first.result.path);
      assert.ok(again.result.ms < 500, `a hit took ${again.result.ms} ms`);
      assert.equal(mirror.requests.length, from + 1, 'a hit makes no request');
      assert.match(again.stdout, /found in the tool cache/);
      assert.equal(
        readFileSync(r.githubPath, 'utf8').trim().split('\n').at(-1),
        dirname(first.result.path),
        'a hit also puts Helm on PATH',
      );
    });
  }

  test('a helm-sha256 pin is checked against what the tool cache holds', async () => {
    const r = runner();
    const version = 'v3.18.0';
    const first = await r.install({
      version,
      baseUrl: mirror.baseUrl,
      sha256: mirror.sha256[version],
    });
    assert.equal(first.code, 0, first.stderr);
    const from = mirror.requests.length;

    const pinned = await r.install({
      version,
      baseUrl: mirror.baseUrl,
      sha256: mirror.sha256[version],
    });
    assert.equal(pinned.result?.cacheHit, true, pinned.stderr);

    const wrong = await r.install({ version, baseUrl: mirror.baseUrl, sha256: HASH_A });
    assert.equal(wrong.code, 1);
    assert.match(
      wrong.stderr,
      new RegExp(
        `holds Helm v3\\.18\\.0 unpacked from an archive with SHA-256 ${mirror.sha256[version]}, but the expected checksum \\(the helm-sha256 input\\) is ${HASH_A}`,
      ),
    );
    assert.match(wrong.stderr, /Next step: Check that helm-sha256/);
    assert.equal(mirror.requests.length, from, 'neither call downloaded anything');

    // An entry cached without a record (by another tool) is downloaded again and verified.
    rmSync(join(dirname(first.result?.path ?? ''), 'helm-archive.sha256'));
    const unrecorded = await r.install({
      version,
      baseUrl: mirror.baseUrl,
      sha256: mirror.sha256[version],
    });
    assert.equal(unrecorded.code, 0, unrecorded.stderr);
    assert.equal(unrecorded.result?.cacheHit, false);
    assert.match(unrecorded.stdout, /has no record of the archive it came from; downloading/);
    assert.equal(mirror.requests.length, from + 1);
  });

  test('a wrong helm-sha256 is refused before extracting, and nothing is cached', async () => {
    const r = runner();
    const run = await r.install({ version: 'v3.18.0', baseUrl: mirror.baseUrl, sha256: HASH_A });
    assert.equal(run.code, 1);
    const url = `${mirror.baseUrl}/helm-v3.18.0-linux-amd64.tar.gz`;
    assert.match(run.stderr, new RegExp(`expected SHA-256 ${HASH_A}`));
    assert.match(run.stderr, new RegExp(`got ${mirror.sha256['v3.18.0']}`));
    assert.ok(run.stderr.includes(url), 'names the URL');
    assert.match(run.stderr, /Next step: Check that helm-sha256/);
    assert.doesNotMatch(run.stdout, /\[command\].*tar/, 'tar never ran');
    assert.deepEqual(r.cachedHelm(), []);
    assert.deepEqual(r.tempLeftovers(), [], 'the download is deleted');
    assert.equal(readFileSync(r.githubPath, 'utf8'), '', 'nothing put on PATH');
  });

  test('a tampered archive fails against the published checksum', async () => {
    const tampering = await startHelmMirror();
    try {
      tampering.corrupt('v3.17.3');
      const r = runner();
      const run = await r.install({ version: 'v3.17.3', baseUrl: tampering.baseUrl });
      assert.equal(run.code, 1);
      assert.match(run.stderr, /does not match its checksum/);
      assert.match(run.stderr, new RegExp(`expected SHA-256 ${tampering.sha256['v3.17.3']}`));
      assert.match(run.stderr, /Retry the job/);
      assert.deepEqual(r.cachedHelm(), []);
      assert.deepEqual(r.tempLeftovers(), []);
    } finally {
      await tampering.stop();
    }
  });

  test('without a known checksum, the published .sha256sum is used with a warning', async () => {
    const r = runner();
    const from = mirror.requests.length;
    const run = await r.install({ version: 'v4.1.4', baseUrl: `${mirror.baseUrl}/` });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.result?.cacheHit, false);
    assert.deepEqual(mirror.requests.slice(from), [
      '/helm-v4.1.4-linux-amd64.tar.gz.sha256sum',
      '/helm-v4.1.4-linux-amd64.tar.gz',
    ]);
    assert.match(run.stdout, /^::warning::.*same server as the archive/m);
    assert.match(
      run.stdout,
      /Checksum source: http:\/\/127\.0\.0\.1:\d+\/helm-v4\.1\.4-linux-amd64\.tar\.gz\.sha256sum/,
    );
    assert.equal(reportedVersion(run.result?.path ?? ''), 'v4.1.4');
  });

  test('a carried checksum is used without fetching the .sha256sum', async () => {
    const r = runner();
    const from = mirror.requests.length;
    const checksums = { 'v3.18.0': { 'linux-amd64': mirror.sha256['v3.18.0'] } };
    const run = await r.install({ version: 'v3.18.0', baseUrl: mirror.baseUrl, checksums });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(mirror.requests.slice(from), ['/helm-v3.18.0-linux-amd64.tar.gz']);
    assert.match(run.stdout, /Checksum source: carried by the action/);
    assert.doesNotMatch(run.stdout, /::warning::/);
  });

  test('a wrong carried checksum is refused', async () => {
    const r = runner();
    const checksums = { 'v3.18.0': { 'linux-amd64': HASH_B } };
    const run = await r.install({ version: 'v3.18.0', baseUrl: mirror.baseUrl, checksums });
    assert.equal(run.code, 1);
    assert.match(run.stderr, new RegExp(`expected SHA-256 ${HASH_B} \\(carried by the action\\)`));
    assert.deepEqual(r.cachedHelm(), []);
  });

  test('no checksum anywhere: refused, asking for helm-sha256', async () => {
    const bare = await startHelmMirror({ withoutChecksumFiles: true });
    try {
      const r = runner();
      const run = await r.install({ version: 'v3.17.3', baseUrl: bare.baseUrl });
      assert.equal(run.code, 1);
      assert.match(run.stderr, /carries no checksum for helm-v3\.17\.3-linux-amd64\.tar\.gz/);
      assert.match(run.stderr, /HTTP 404/);
      assert.match(run.stderr, /Set the helm-sha256 input/);
      assert.deepEqual(bare.requests, ['/helm-v3.17.3-linux-amd64.tar.gz.sha256sum']);
      assert.deepEqual(r.cachedHelm(), []);
    } finally {
      await bare.stop();
    }
  });

  test('a version the server does not have: a clear download error', async () => {
    const r = runner();
    const run = await r.install({ version: 'v3.99.0', baseUrl: mirror.baseUrl, sha256: HASH_A });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /Could not download Helm v3\.99\.0 from http:.*\(HTTP 404\)/);
    assert.match(run.stderr, /Next step: Check that helm-version names a released Helm version/);
    assert.deepEqual(r.cachedHelm(), []);
  });

  test('without RUNNER_TOOL_CACHE: a clear error', async () => {
    const r = runner();
    const run = await new Promise<ChildRun>((resolve) => {
      execFile(
        process.execPath,
        ['--input-type=module', '--eval', DRIVER],
        {
          env: {
            PATH: process.env.PATH,
            TEST_INSTALL_OPTIONS: JSON.stringify({ version: 'v3.18.0', baseUrl: mirror.baseUrl }),
            GITHUB_PATH: r.githubPath,
          },
          encoding: 'utf8',
        },
        (error, stdout, stderr) => resolve({ code: error ? 1 : 0, stdout, stderr }),
      );
    });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /RUNNER_TOOL_CACHE is not set/);
  });
});
