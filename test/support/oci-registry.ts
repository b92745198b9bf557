// A private OCI registry holding the fixture Milvus charts: the CNCF Distribution registry, built
// from the Go module proxy into ~/.cache/milvus-upgrade-action/registry/, serving TLS from its own
// CA and asking for a password (htpasswd, bcrypt). Real Helm logs in and pushes the charts.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { runProgram } from '../../src/process.ts';
import { freePort } from '../control-plane/cluster.ts';
import { makeCertificates } from '../control-plane/tls.ts';
import { chartArchive, MILVUS_CHART_VERSIONS } from './chart-repo.ts';
import type { Credentials } from './file-server.ts';
import { buildOnce, goEnv, goVersion, runGo, userCacheDir } from './go-build.ts';
import { helmBinary } from './helm-binaries.ts';

const VERSION = 'v3.1.2';
const PKG = 'github.com/distribution/distribution/v3/cmd/registry';

/** Builds the registry unless the cache holds it; returns the binary's path. */
export async function buildRegistry(): Promise<string> {
  const dir = join(userCacheDir('registry'), `${VERSION}_${goVersion()}`);
  await buildOnce(dir, async (partial) => {
    await runGo({
      label: 'registry',
      what: `${VERSION} from ${PKG}`,
      // `go install pkg@version` builds with the release's own go.mod and go.sum.
      args: ['install', '-trimpath', '-p', '2', '-ldflags', '-s -w', `${PKG}@${VERSION}`],
      env: { ...goEnv(), GOBIN: partial },
    });
    return { version: VERSION, go: goVersion() };
  });
  return join(dir, 'registry');
}

export interface OciRegistry {
  /** `oci://<address>:<port>/charts`: the milvus chart is `<url>/milvus`. */
  url: string;
  /** `<address>:<port>`. */
  host: string;
  /** The CA that signed the registry's certificate (PEM). */
  caFile: string;
  stop(): Promise<void>;
}

/**
 * An IPv4 address of this machine other than loopback. Helm 3 talks plain HTTP to a registry on
 * localhost or 127.0.0.1 whatever it serves, so a registry there could not show TLS and its CA.
 */
function outwardAddress(): string {
  const found = Object.values(networkInterfaces())
    .flat()
    .find((entry) => entry?.family === 'IPv4' && !entry.internal);
  if (!found) throw new Error('the OCI registry test needs an IPv4 address other than loopback');
  return found.address;
}

/** The status of `GET https://<host>/v2/`, or undefined while nothing answers. */
function probe(host: string, ca: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = request(`https://${host}/v2/`, { ca, timeout: 1000 }, (response) => {
      response.resume();
      resolve(response.statusCode);
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/**
 * Starts a registry that only `credentials` may use, with every fixture Milvus chart pushed to
 * `charts/milvus`.
 */
export async function startOciRegistry(credentials: Credentials): Promise<OciRegistry> {
  const binary = await buildRegistry();
  const dir = mkdtempSync(join(tmpdir(), 'oci-registry-'));
  const file = (name: string, content: string) => {
    writeFileSync(join(dir, name), content, { mode: 0o600 });
    return join(dir, name);
  };
  const address = outwardAddress();
  const certificates = await makeCertificates([address]);
  const caFile = file('ca.pem', certificates.caPem);
  const host = `${address}:${await freePort(address)}`;
  const config = file(
    'config.yml',
    JSON.stringify({
      version: 0.1,
      log: { level: 'warn', accesslog: { disabled: true } },
      storage: { filesystem: { rootdirectory: join(dir, 'data') } },
      http: {
        addr: host,
        tls: {
          certificate: file('cert.pem', certificates.certPem),
          key: file('key.pem', certificates.keyPem),
        },
      },
      auth: {
        htpasswd: {
          realm: 'charts',
          path: file(
            'htpasswd',
            `${credentials.username}:${bcrypt.hashSync(credentials.password, 5)}\n`,
          ),
        },
      },
    }),
  );
  const logFile = join(dir, 'registry.log');
  const log = openSync(logFile, 'a');
  const child: ChildProcess = spawn(binary, ['serve', config], {
    detached: true,
    stdio: ['ignore', log, log],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
  });
  closeSync(log);
  child.unref();
  const kill = () => {
    try {
      if (child.pid && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  };
  process.on('exit', kill);
  const stop = async () => {
    process.off('exit', kill);
    kill();
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const deadline = Date.now() + 20_000;
    while ((await probe(host, certificates.caPem)) !== 401) {
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`the registry did not start:\n${readFileSync(logFile, 'utf8')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // Helm 3.17 pushes, as a user would; its login is kept in this registry's directory.
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir };
    const helm = async (args: string[], input?: string) => {
      const result = await runProgram(helmBinary('v3.17.3'), [...args, '--ca-file', caFile], {
        env: { ...env, HELM_REGISTRY_CONFIG: join(dir, 'helm-registry.json') },
        input,
      });
      if (result.exitCode !== 0) throw new Error(`helm ${args[0]}: ${result.stderr}`);
    };
    const { username, password } = credentials;
    await helm(['registry', 'login', host, '--username', username, '--password-stdin'], password);
    for (const version of MILVUS_CHART_VERSIONS) {
      await helm(['push', chartArchive(version), `oci://${host}/charts`]);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url: `oci://${host}/charts`,
    host,
    caFile,
    stop,
  };
}
