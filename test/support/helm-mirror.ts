// A local stand-in for get.helm.sh: real Helm binaries packed like the official archives, with
// the checksum files published beside them, served over plain HTTP on 127.0.0.1.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { type Credentials, serveFiles } from './file-server.ts';
import {
  HELM_VERSIONS,
  type HelmVersion,
  helmBinary,
  prepareHelmBinaries,
} from './helm-binaries.ts';
import { CACHE_DIR } from './paths.ts';

/** Where the mirror's files live once built. */
export const HELM_MIRROR_DIR = join(CACHE_DIR, 'helm-mirror');

/** The platform the mirror carries: the only one the test binaries exist for. */
export const MIRROR_PLATFORM = 'linux-amd64';

export function archiveName(version: string, platform = MIRROR_PLATFORM): string {
  return `helm-${version}-${platform}.tar.gz`;
}

/** Records the binary each archive was packed from: a rebuilt Helm makes the mirror stale. */
const SOURCES = 'sources.json';

function sources(): string {
  return JSON.stringify(Object.fromEntries(HELM_VERSIONS.map((v) => [v, helmBinary(v)])));
}

function mirrorComplete(dir: string): boolean {
  let packed = '';
  try {
    packed = readFileSync(join(dir, SOURCES), 'utf8');
  } catch {
    return false;
  }
  return (
    packed === sources() &&
    HELM_VERSIONS.every((version) =>
      ['', '.sha256sum', '.sha256'].every((suffix) =>
        existsSync(join(dir, `${archiveName(version)}${suffix}`)),
      ),
    )
  );
}

function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Packs one version like the official archive, byte for byte the same on every run. */
function packArchive(version: HelmVersion, outDir: string): void {
  const staging = join(outDir, `.staging-${version}`);
  const platformDir = join(staging, MIRROR_PLATFORM);
  mkdirSync(platformDir, { recursive: true });
  chmodSync(platformDir, 0o755);
  copyFileSync(helmBinary(version), join(platformDir, 'helm'));
  chmodSync(join(platformDir, 'helm'), 0o755);
  writeFileSync(
    join(platformDir, 'LICENSE'),
    'Test fixture standing in for the LICENSE file of the Helm archive.\n',
  );
  writeFileSync(
    join(platformDir, 'README.md'),
    `Test fixture standing in for the README of the Helm ${version} archive.\n`,
  );
  chmodSync(join(platformDir, 'LICENSE'), 0o644);
  chmodSync(join(platformDir, 'README.md'), 0o644);
  const name = archiveName(version);
  execFileSync(
    'tar',
    [
      '--create',
      '--format=gnu',
      '--sort=name',
      '--mtime=@0',
      '--owner=0',
      '--group=0',
      '--numeric-owner',
      '--use-compress-program=gzip -n',
      '--file',
      join(outDir, name),
      '--directory',
      staging,
      MIRROR_PLATFORM,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  rmSync(staging, { recursive: true, force: true });
  const hash = sha256Hex(readFileSync(join(outDir, name)));
  writeFileSync(join(outDir, `${name}.sha256sum`), `${hash}  ${name}\n`);
  writeFileSync(join(outDir, `${name}.sha256`), `${hash}\n`);
}

/**
 * Builds the mirror once into `.cache/helm-mirror/` and returns its directory. Parallel callers
 * each build into a private directory and rename it into place; the loser's copy is discarded.
 */
export async function buildHelmMirror(): Promise<string> {
  await prepareHelmBinaries();
  if (mirrorComplete(HELM_MIRROR_DIR)) return HELM_MIRROR_DIR;
  mkdirSync(CACHE_DIR, { recursive: true });
  const building = `${HELM_MIRROR_DIR}.${process.pid}.${Date.now()}.partial`;
  mkdirSync(building, { recursive: true });
  try {
    for (const version of HELM_VERSIONS) packArchive(version, building);
    writeFileSync(join(building, SOURCES), sources());
    if (existsSync(HELM_MIRROR_DIR) && !mirrorComplete(HELM_MIRROR_DIR)) {
      // An older mirror, built for other versions or binaries: move it aside, then replace it.
      const stale = `${HELM_MIRROR_DIR}.${process.pid}.stale`;
      try {
        renameSync(HELM_MIRROR_DIR, stale);
        rmSync(stale, { recursive: true, force: true });
      } catch {
        // Another process replaced it first.
      }
    }
    try {
      renameSync(building, HELM_MIRROR_DIR);
    } catch (error) {
      if (!mirrorComplete(HELM_MIRROR_DIR)) throw error;
    }
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
  return HELM_MIRROR_DIR;
}

export interface HelmMirrorOptions {
  /** Answer 404 for the `.sha256sum` and `.sha256` files, as a mirror that omits them would. */
  withoutChecksumFiles?: boolean;
  /** Serve only to requests with these Basic credentials. */
  credentials?: Credentials;
}

export interface HelmMirror {
  /** `http://127.0.0.1:<port>`, to use as the installer's base URL. */
  baseUrl: string;
  /** SHA-256 of each version's genuine archive. */
  sha256: Record<HelmVersion, string>;
  /** Path of every request received, in order (including ones answered 404). */
  requests: string[];
  /** From now on, serve a tampered archive of `version` (its checksum files stay genuine). */
  corrupt(version: HelmVersion): void;
  stop(): Promise<void>;
}

export async function startHelmMirror(options: HelmMirrorOptions = {}): Promise<HelmMirror> {
  const dir = await buildHelmMirror();
  const sha256 = {} as Record<HelmVersion, string>;
  const files = new Map<string, Buffer>();
  for (const version of HELM_VERSIONS) {
    const name = archiveName(version);
    const archive = readFileSync(join(dir, name));
    sha256[version] = sha256Hex(archive);
    files.set(`/${name}`, archive);
    if (!options.withoutChecksumFiles) {
      files.set(`/${name}.sha256sum`, readFileSync(join(dir, `${name}.sha256sum`)));
      files.set(`/${name}.sha256`, readFileSync(join(dir, `${name}.sha256`)));
    }
  }
  const server = await serveFiles(files, () => 'application/octet-stream', options.credentials);
  return {
    baseUrl: server.url,
    sha256,
    requests: server.paths,
    corrupt(version) {
      const path = `/${archiveName(version)}`;
      const genuine = files.get(path);
      if (!genuine) throw new Error(`the mirror has no ${path}`);
      const tampered = Buffer.from(genuine);
      // Flip bits well inside the compressed data: still served in full, but the hash differs.
      const at = Math.floor(tampered.length / 2);
      tampered[at] = (tampered[at] ?? 0) ^ 0xff;
      files.set(path, tampered);
    },
    stop: server.stop,
  };
}
