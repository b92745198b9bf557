// Installs the Helm binary the action drives: from the runner's tool cache when it is there,
// otherwise downloaded, checked against a SHA-256 before anything is unpacked, and cached.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as core from '@actions/core';
import { getExecOutput } from '@actions/exec';
import * as tc from '@actions/tool-cache';
import { refusal } from './errors.ts';
import { HELM_CHECKSUMS } from './milvus.ts';

export const DEFAULT_HELM_BASE_URL = 'https://get.helm.sh';

/** Name of the tool in the runner's tool cache. */
const TOOL_NAME = 'helm';

/** Beside the cached binary: the SHA-256 of the archive it was verified from and unpacked. */
const CHECKSUM_RECORD = 'helm-archive.sha256';

/** An operating system and architecture, named both ways. */
export interface HelmPlatform {
  /** Helm's naming: `linux`, `darwin`. */
  os: 'linux' | 'darwin';
  /** Helm's naming: `amd64`, `arm64`. */
  arch: 'amd64' | 'arm64';
  /** `<os>-<arch>`, as in archive names and `HELM_CHECKSUMS`. */
  id: string;
  /** Node's architecture name (`x64`, `arm64`): the tool cache's arch key. */
  nodeArch: string;
}

const OS_NAMES: Readonly<Record<string, HelmPlatform['os']>> = { linux: 'linux', darwin: 'darwin' };
const ARCH_NAMES: Readonly<Record<string, HelmPlatform['arch']>> = { x64: 'amd64', arm64: 'arm64' };

/** Maps Node's `process.platform`/`process.arch` to Helm's archive naming, or refuses. */
export function helmPlatform(
  platform: string = process.platform,
  arch: string = process.arch,
): HelmPlatform {
  const os = OS_NAMES[platform];
  const helmArch = ARCH_NAMES[arch];
  if (!os || !helmArch) {
    throw refusal(
      `This runner is ${platform}/${arch}; the action installs Helm only on Linux or macOS, on x64 or arm64.`,
      'Run the job on a Linux or macOS runner with an x64 or arm64 CPU (for example runs-on: ubuntu-latest).',
    );
  }
  return { os, arch: helmArch, id: `${os}-${helmArch}`, nodeArch: arch };
}

export function helmArchiveName(version: string, platform: HelmPlatform): string {
  return `helm-${version}-${platform.id}.tar.gz`;
}

/**
 * `${baseUrl}/helm-<version>-<os>-<arch>.tar.gz`, tolerating a trailing slash on the base (an
 * http(s) URL, validated with the inputs).
 */
export function helmArchiveUrl(baseUrl: string, version: string, platform: HelmPlatform): string {
  return `${baseUrl.replace(/\/+$/, '')}/${helmArchiveName(version, platform)}`;
}

/**
 * Reads a checksum file: `sha256sum` lines (`<hash>  <file>`, `<hash> *<file>`) or a bare hash.
 * Returns the hash for `fileName`, or undefined if the file names no such entry.
 */
export function parseChecksumFile(text: string, fileName: string): string | undefined {
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*([0-9a-fA-F]{64})(?:\s+\*?(\S.*?))?\s*$/.exec(line);
    if (!match?.[1]) continue;
    const named = match[2];
    if (named === undefined || named === fileName || named.endsWith(`/${fileName}`)) {
      return match[1].toLowerCase();
    }
  }
  return undefined;
}

export type ChecksumSource = 'input' | 'carried' | 'published';

/**
 * The checksum known before downloading: the `helm-sha256` input first, then the one the action
 * carries for this version and platform. Undefined: only the published `.sha256sum` is left.
 */
export function knownChecksum(
  version: string,
  platform: HelmPlatform,
  input: string | undefined,
  carried: Readonly<Record<string, Readonly<Record<string, string>>>> = HELM_CHECKSUMS,
): { sha256: string; source: ChecksumSource } | undefined {
  // The input was validated and lower-cased with the others.
  if (input) return { sha256: input, source: 'input' };
  const hash = carried[version]?.[platform.id];
  return hash ? { sha256: hash.toLowerCase(), source: 'carried' } : undefined;
}

/** SHA-256 of a file, read as a stream. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

export interface InstallHelmOptions {
  /** `v3.19.0` or `3.19.0`. */
  version: string;
  /** Where archives are downloaded from; default `https://get.helm.sh`. */
  baseUrl?: string;
  /** Expected SHA-256 of the archive (the `helm-sha256` input); empty: carried or published. */
  sha256?: string;
  /** Basic authentication for a private mirror (from the user info of the base URL input). */
  auth?: { username: string; password: string };
  /** Checksums the action carries; tests pass their own. Default `HELM_CHECKSUMS`. */
  checksums?: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

export interface InstalledHelm {
  /** Absolute path of the `helm` binary; its directory has been added to PATH. */
  path: string;
  /** `v3.19.0`. */
  version: string;
  /** True when the tool cache already held this version: nothing was downloaded. */
  cacheHit: boolean;
}

function requireRunnerDirectories(): void {
  for (const name of ['RUNNER_TOOL_CACHE', 'RUNNER_TEMP']) {
    if (!process.env[name]) {
      throw refusal(
        `${name} is not set, so Helm cannot be downloaded and cached.`,
        `Run the action on a GitHub Actions runner, or set RUNNER_TOOL_CACHE and RUNNER_TEMP to writable directories.`,
      );
    }
  }
}

/**
 * Installs Helm `version` for this runner and puts its directory on PATH (for this action and
 * the job's later steps). A tool-cache hit downloads nothing. On a miss the archive is
 * verified against its SHA-256 before it is unpacked; a mismatch deletes it and caches nothing.
 */
export async function installHelm(options: InstallHelmOptions): Promise<InstalledHelm> {
  const platform = helmPlatform();
  // Validated with the inputs: an exact release such as v3.19.0, at least the minimum.
  const { version } = options;
  const cacheVersion = version.slice(1);
  requireRunnerDirectories();

  const known = knownChecksum(version, platform, options.sha256, options.checksums);
  const cached = tc.find(TOOL_NAME, cacheVersion, platform.nodeArch);
  if (cached && existsSync(join(cached, 'helm'))) {
    const recorded = await readFile(join(cached, CHECKSUM_RECORD), 'utf8').then(
      (text) => text.trim(),
      () => undefined,
    );
    if (!known || recorded === known.sha256) {
      core.info(`Helm ${version} found in the tool cache: ${cached}`);
      core.addPath(cached);
      return { path: join(cached, 'helm'), version, cacheHit: true };
    }
    if (recorded !== undefined) {
      throw refusal(
        `The tool cache holds Helm ${version} unpacked from an archive with SHA-256 ${recorded}, but the expected checksum (${describeSource(known.source, '')}) is ${known.sha256}.`,
        known.source === 'input'
          ? 'Check that helm-sha256 is the checksum of the official archive for this version and platform; if it is, the cached Helm did not come from it: remove the tool cache entry (or use a fresh runner) and re-run.'
          : 'The cached Helm did not come from the official archive: remove the tool cache entry (or use a fresh runner) and re-run.',
      );
    }
    core.info(
      `The tool cache entry ${cached} has no record of the archive it came from; downloading Helm ${version} again to verify it.`,
    );
  } else if (cached)
    core.info(`The tool cache entry ${cached} holds no helm binary; replacing it.`);

  const baseUrl = options.baseUrl?.trim() || DEFAULT_HELM_BASE_URL;
  const url = helmArchiveUrl(baseUrl, version, platform);
  const archiveName = helmArchiveName(version, platform);
  core.info(`Helm ${version} is not in the tool cache; downloading ${url}`);

  const authorization = options.auth
    ? `Basic ${Buffer.from(`${options.auth.username}:${options.auth.password}`).toString('base64')}`
    : undefined;
  if (authorization) core.setSecret(authorization);
  const expected = known ?? (await publishedChecksum(url, archiveName, authorization));
  core.info(`Checksum source: ${describeSource(expected.source, url)}`);

  const archive = await download(url, version, authorization);
  const extracted: string[] = [];
  try {
    const actual = await sha256File(archive);
    if (actual !== expected.sha256) {
      throw refusal(
        `The Helm archive downloaded from ${url} does not match its checksum: expected SHA-256 ${expected.sha256} (${describeSource(expected.source, url)}), got ${actual}. The file was deleted and nothing was installed.`,
        expected.source === 'input'
          ? 'Check that helm-sha256 is the checksum of this exact archive (version and platform); if it is, the download was altered: check helm-download-base-url and any proxy in between.'
          : 'Retry the job; if it fails again, the download source or a proxy is serving an altered file: check helm-download-base-url.',
      );
    }
    core.info(`Verified SHA-256 ${actual} of ${archiveName}`);

    const dir = await tc.extractTar(archive);
    extracted.push(dir);
    const unpacked = join(dir, platform.id);
    if (!existsSync(join(unpacked, 'helm'))) {
      throw refusal(
        `The archive ${url} passed its checksum but holds no ${platform.id}/helm.`,
        'Check that helm-download-base-url serves the official Helm release archives.',
      );
    }
    await confirmVersion(join(unpacked, 'helm'), version, url);
    await writeFile(join(unpacked, CHECKSUM_RECORD), `${actual}\n`);
    const cachedDir = await tc.cacheDir(unpacked, TOOL_NAME, cacheVersion, platform.nodeArch);
    core.info(`Helm ${version} cached in ${cachedDir}`);
    core.addPath(cachedDir);
    return { path: join(cachedDir, 'helm'), version, cacheHit: false };
  } finally {
    await rm(archive, { force: true });
    for (const dir of extracted) await rm(dir, { recursive: true, force: true });
  }
}

function describeSource(source: ChecksumSource, url: string): string {
  switch (source) {
    case 'input':
      return 'the helm-sha256 input';
    case 'carried':
      return 'carried by the action';
    case 'published':
      return `${url}.sha256sum`;
  }
}

async function download(
  url: string,
  version: string,
  authorization: string | undefined,
): Promise<string> {
  try {
    return await tc.downloadTool(url, undefined, authorization);
  } catch (error) {
    const status = error instanceof tc.HTTPError ? ` (HTTP ${error.httpStatusCode})` : '';
    throw refusal(
      `Could not download Helm ${version} from ${url}${status}: ${errorText(error)}`,
      'Check that helm-version names a released Helm version and that helm-download-base-url is reachable from the runner and mirrors get.helm.sh.',
    );
  }
}

/** The `.sha256sum` published beside the archive: same server, so weaker than the others. */
async function publishedChecksum(
  url: string,
  archiveName: string,
  authorization: string | undefined,
): Promise<{ sha256: string; source: ChecksumSource }> {
  const checksumUrl = `${url}.sha256sum`;
  let file: string | undefined;
  let text: string;
  try {
    file = await tc.downloadTool(checksumUrl, undefined, authorization);
    text = await readSmallFile(file);
  } catch (error) {
    const status = error instanceof tc.HTTPError ? ` (HTTP ${error.httpStatusCode})` : '';
    throw refusal(
      `The action carries no checksum for ${archiveName}, and ${checksumUrl} could not be fetched${status}: ${errorText(error)}`,
      'Set the helm-sha256 input to the SHA-256 of that archive, or use a helm-version whose checksum the action carries (such as the default).',
    );
  } finally {
    if (file) await rm(file, { force: true });
  }
  const sha256 = parseChecksumFile(text, archiveName);
  if (!sha256) {
    throw refusal(
      `${checksumUrl} holds no SHA-256 for ${archiveName}.`,
      'Set the helm-sha256 input to the SHA-256 of that archive.',
    );
  }
  core.warning(
    `Verifying Helm with ${checksumUrl}, which comes from the same server as the archive: it detects a damaged download, not a tampered server. Set helm-sha256 to pin the checksum.`,
  );
  return { sha256, source: 'published' };
}

async function readSmallFile(path: string): Promise<string> {
  if ((await stat(path)).size > 64 * 1024) throw new Error('the file is larger than 64 KiB');
  return readFile(path, 'utf8');
}

/** The unpacked binary must be the version asked for, or it is not cached. */
async function confirmVersion(binary: string, version: string, url: string): Promise<void> {
  const result = await getExecOutput(binary, ['version', '--template', '{{.Version}}'], {
    silent: true,
    ignoreReturnCode: true,
  });
  const reported = result.stdout.trim();
  if (result.exitCode !== 0 || reported !== version) {
    throw refusal(
      `The Helm binary from ${url} reports version "${reported || `exit code ${result.exitCode}`}", not ${version}.`,
      'Check that helm-download-base-url mirrors get.helm.sh faithfully, or set helm-version to the version it serves.',
    );
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
