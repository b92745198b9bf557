// A local Helm chart repository serving the fixture charts (stand-ins for the Milvus chart and
// its subcharts, plus a non-Milvus chart), packaged with the real Helm.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type Document, isMap, isSeq, parse, parseDocument, stringify } from 'yaml';
import { type Credentials, serveFiles } from './file-server.ts';
import { type HelmVersion, helmBinary } from './helm-binaries.ts';
import { CACHE_DIR, ROOT } from './paths.ts';

const execFileAsync = promisify(execFile);

/** Sources of the fixture charts; `repository.yaml` there says what is built from what. */
export const FIXTURE_CHARTS_DIR = join(ROOT, 'test', 'fixtures', 'charts');

/** Where the packaged charts and `index.yaml` live once built. */
export const CHART_REPO_DIR = join(CACHE_DIR, 'chart-repo');

/** The oldest test Helm packages the charts, so every test Helm can read them. */
const PACKAGING_HELM: HelmVersion = 'v3.17.3';

/** Fingerprint of the sources a built repository came from, kept beside its index. */
const STAMP_FILE = '.fingerprint';

interface Dependency {
  name: string;
  version: string;
  alias?: string;
  condition?: string;
}

interface ChartEntry {
  name: string;
  version: string;
  appVersion: string;
  source: string;
  dependencies?: Dependency[];
  values?: Record<string, unknown>;
}

interface RepositoryTable {
  charts: ChartEntry[];
  subcharts: ChartEntry[];
}

function readTable(): RepositoryTable {
  return parse(
    readFileSync(join(FIXTURE_CHARTS_DIR, 'repository.yaml'), 'utf8'),
  ) as RepositoryTable;
}

/** Versions of the fixture `milvus` chart the repository serves, oldest first. */
export const MILVUS_CHART_VERSIONS: readonly string[] = readTable()
  .charts.filter((chart) => chart.name === 'milvus')
  .map((chart) => String(chart.version));

/** Path of a packaged fixture chart (after `buildChartRepository()`), for `helm template`. */
export function chartArchive(version: string, name = 'milvus'): string {
  return join(CHART_REPO_DIR, `${name}-${version}.tgz`);
}

function sourceFingerprint(): string {
  const hash = createHash('sha256');
  hash.update(`${PACKAGING_HELM}\0`);
  hash.update(readFileSync(fileURLToPath(import.meta.url)));
  const files = readdirSync(FIXTURE_CHARTS_DIR, { recursive: true, encoding: 'utf8' })
    .filter((path) => statSync(join(FIXTURE_CHARTS_DIR, path)).isFile())
    .sort();
  for (const path of files) {
    hash.update(`\0${path}\0`);
    hash.update(readFileSync(join(FIXTURE_CHARTS_DIR, path)));
  }
  return hash.digest('hex');
}

function builtFrom(dir: string): string | undefined {
  try {
    return readFileSync(join(dir, STAMP_FILE), 'utf8');
  } catch {
    return undefined;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Lays `patch` over the values document, keeping its comments; null removes a key, as in Helm. */
function overlay(doc: Document, path: string[], patch: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(patch)) {
    const at = [...path, key];
    if (value === null) doc.deleteIn(at);
    else if (isPlainObject(value) && isMap(doc.getIn(at, true))) overlay(doc, at, value);
    else doc.setIn(at, doc.createNode(value));
  }
}

/** Writes a standalone chart directory for `entry`, its subcharts copied into its charts/. */
function assemble(entry: ChartEntry, dir: string, subcharts: ChartEntry[]): void {
  cpSync(join(FIXTURE_CHARTS_DIR, entry.source), dir, { recursive: true });
  if (entry.values) {
    const valuesPath = join(dir, 'values.yaml');
    const doc = parseDocument(readFileSync(valuesPath, 'utf8'));
    overlay(doc, [], entry.values);
    writeFileSync(valuesPath, doc.toString());
  }
  const dependencies = entry.dependencies ?? [];
  const chart = {
    apiVersion: 'v2',
    name: entry.name,
    description: `Test fixture standing in for the ${entry.name} chart`,
    type: 'application',
    version: String(entry.version),
    appVersion: String(entry.appVersion),
    ...(dependencies.length > 0 && {
      dependencies: dependencies.map((dependency) => ({ ...dependency, repository: '' })),
    }),
  };
  writeFileSync(join(dir, 'Chart.yaml'), stringify(chart));
  for (const dependency of dependencies) {
    const subchart = subcharts.find(
      (candidate) =>
        candidate.name === dependency.name &&
        String(candidate.version) === String(dependency.version),
    );
    if (!subchart) throw new Error(`no subchart ${dependency.name} ${dependency.version}`);
    assemble(subchart, join(dir, 'charts', dependency.name), subcharts);
  }
}

async function runHelm(args: string[], home: string): Promise<void> {
  await execFileAsync(helmBinary(PACKAGING_HELM), args, {
    env: {
      ...process.env,
      HELM_CACHE_HOME: join(home, 'cache'),
      HELM_CONFIG_HOME: join(home, 'config'),
      HELM_DATA_HOME: join(home, 'data'),
    },
  });
}

/**
 * Packages every fixture chart into `.cache/chart-repo/` with its `index.yaml`, unless a build
 * from the same sources is there, and returns the directory. Parallel callers each build into a
 * private directory and rename it into place; the loser's copy is discarded.
 */
export async function buildChartRepository(): Promise<string> {
  const fingerprint = sourceFingerprint();
  if (builtFrom(CHART_REPO_DIR) === fingerprint) return CHART_REPO_DIR;
  mkdirSync(CACHE_DIR, { recursive: true });
  const work = mkdtempSync(join(CACHE_DIR, 'chart-repo.building-'));
  try {
    const table = readTable();
    const out = join(work, 'repo');
    mkdirSync(out);
    await Promise.all(
      table.charts.map(async (entry) => {
        const dir = join(work, 'src', `${entry.name}-${entry.version}`);
        assemble(entry, dir, table.subcharts);
        await runHelm(['package', dir, '--destination', out], work);
      }),
    );
    await runHelm(['repo', 'index', out], work);
    writeFileSync(join(out, STAMP_FILE), fingerprint);
    if (existsSync(CHART_REPO_DIR) && builtFrom(CHART_REPO_DIR) !== fingerprint) {
      // Built from older sources: move it aside, then replace it.
      const stale = join(work, 'stale');
      try {
        renameSync(CHART_REPO_DIR, stale);
      } catch {
        // Another process replaced it first.
      }
    }
    try {
      renameSync(out, CHART_REPO_DIR);
    } catch (error) {
      if (builtFrom(CHART_REPO_DIR) !== fingerprint) throw error;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return CHART_REPO_DIR;
}

export interface ChartRepositoryOptions {
  /** Charts left out of the index and answered 404, as `<name>-<version>` (`milvus-5.0.0`). */
  omit?: string[];
  /** Serve only to requests with these Basic credentials. */
  credentials?: Credentials;
}

export interface ChartRepository {
  /** `http://127.0.0.1:<port>`, for `helm repo add`. */
  url: string;
  /** Number of requests received so far. */
  readonly requests: number;
  /** Path of every request received, in order (including ones answered 404). */
  paths: string[];
  stop(): Promise<void>;
}

/** Serves the fixture repository (`index.yaml` and the `.tgz` archives) over plain HTTP. */
export async function startChartRepository(
  options: ChartRepositoryOptions = {},
): Promise<ChartRepository> {
  const dir = await buildChartRepository();
  const omit = new Set(options.omit ?? []);
  const files = new Map<string, Buffer>();
  for (const name of readdirSync(dir)) {
    if (name.endsWith('.tgz') && !omit.has(name.slice(0, -'.tgz'.length))) {
      files.set(`/${name}`, readFileSync(join(dir, name)));
    }
  }
  const index = parseDocument(readFileSync(join(dir, 'index.yaml'), 'utf8'));
  for (const entry of omit) {
    const [, name, version] = /^(.+)-(\d+\.\d+\.\d+.*)$/.exec(entry) ?? [];
    const versions = index.getIn(['entries', name]);
    if (!name || !isSeq(versions)) continue;
    versions.items = versions.items.filter(
      (item) => !isMap(item) || item.get('version') !== version,
    );
  }
  files.set('/index.yaml', Buffer.from(index.toString()));

  const server = await serveFiles(
    files,
    (path) => (path.endsWith('.yaml') ? 'application/x-yaml' : 'application/gzip'),
    options.credentials,
  );
  return {
    url: server.url,
    get requests() {
      return server.paths.length;
    },
    paths: server.paths,
    stop: server.stop,
  };
}
