// What stands between the test's clients and the real API server: Toxiproxy, a TCP proxy that
// resets connections, adds latency or goes away on request (TLS passes through it untouched),
// and, only when a test asks the cluster to claim another Kubernetes release, a small HTTPS
// reverse proxy that rewrites the answer to `GET /version` and passes everything else through.
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';

export interface VersionProxy {
  port: number;
  close(): Promise<void>;
}

/** `https://127.0.0.1:<port>` that answers `/version` as `gitVersion` (e.g. `v1.19.16`). */
export async function startVersionProxy(options: {
  upstreamPort: number;
  caPem: string;
  certPem: string;
  keyPem: string;
  gitVersion: string;
}): Promise<VersionProxy> {
  const [, major = '', minor = ''] = /^v(\d+)\.(\d+)/.exec(options.gitVersion) ?? [];
  const agent = new Agent({ keepAlive: true, ca: options.caPem });
  const server = createServer({ cert: options.certPem, key: options.keyPem }, (req, res) => {
    const path = req.url ?? '/';
    const rewrite = req.method === 'GET' && /^\/version\/?(\?|$)/.test(path);
    const upstream = request(
      {
        host: '127.0.0.1',
        port: options.upstreamPort,
        method: req.method,
        path,
        headers: req.headers,
        agent,
      },
      (answer) => {
        if (!rewrite || answer.statusCode !== 200) {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => {
          const version = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          const body = JSON.stringify({ ...version, gitVersion: options.gitVersion, major, minor });
          const headers = { ...answer.headers, 'content-length': Buffer.byteLength(body) };
          res.writeHead(200, headers).end(body);
        });
      },
    );
    upstream.on('error', () => res.destroy());
    // A client that goes away (a watch it stops) ends the upstream request too.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      agent.destroy();
    },
  };
}

/** Connection faults between the clients and the API server. */
export interface ConnectionFaults {
  /**
   * Resets (TCP RST) every connection that sends data while in force: new connections at their
   * TLS handshake, kept-alive ones at their next request. `rate` (0..1, default 1) is the share
   * of connections affected; with `connections`, the fault lifts itself once that many new
   * connections were accepted (within about 10 ms: a client that reconnects faster may see one
   * more reset). Resolves once in force.
   */
  resets(options?: { connections?: number; rate?: number }): Promise<void>;
  /** Delays every answer by `ms` (0 turns it off). */
  latency(ms: number, jitterMs?: number): Promise<void>;
  /** Closes the listener and every open connection, watches included. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  /** Connections accepted so far. */
  accepted(): number;
  /** All of the above off, API up. */
  clear(): Promise<void>;
}

const PROXY = 'kube-apiserver';

/** Writes Toxiproxy's start-up config: one proxy from `listenPort` to `upstreamPort`. */
export function toxiproxyConfig(file: string, listenPort: number, upstreamPort: number): string {
  const proxy = {
    name: PROXY,
    listen: `127.0.0.1:${listenPort}`,
    upstream: `127.0.0.1:${upstreamPort}`,
    enabled: true,
  };
  writeFileSync(file, JSON.stringify([proxy]));
  return file;
}

/** Drives a running Toxiproxy server through its HTTP API; `log` is its output. */
export function toxiproxyFaults(apiPort: number, log: string): ConnectionFaults {
  const call = async (method: string, path: string, body?: unknown) => {
    const answer = await fetch(`http://127.0.0.1:${apiPort}${path}`, {
      method,
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    if (!answer.ok && !(method === 'DELETE' && answer.status === 404)) {
      throw new Error(`toxiproxy ${method} ${path}: ${answer.status} ${await answer.text()}`);
    }
  };
  const accepted = () => readFileSync(log, 'utf8').split('Accepted client').length - 1;
  let watcher: NodeJS.Timeout | undefined;
  const stopWatching = () => {
    clearInterval(watcher);
    watcher = undefined;
  };
  const toxic = (
    name: string,
    type: string,
    stream: string,
    toxicity: number,
    attributes: object,
  ) => call('POST', `/proxies/${PROXY}/toxics`, { name, type, stream, toxicity, attributes });
  const removeResets = async () => {
    stopWatching();
    await call('DELETE', `/proxies/${PROXY}/toxics/resets`);
  };
  const faults: ConnectionFaults = {
    async resets({ connections, rate = 1 } = {}) {
      await removeResets();
      // Toxiproxy logs a connection a moment after accepting it: count from a quiet log, so that
      // an earlier request's connection is not taken for one of these.
      let start = accepted();
      for (let quiet = false; !quiet; ) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        const now = accepted();
        quiet = now === start;
        start = now;
      }
      // Upstream: the client's first bytes (its TLS ClientHello, or its next request) trigger it.
      await toxic('resets', 'reset_peer', 'upstream', rate, { timeout: 0 });
      if (connections !== undefined) {
        // Toxiproxy logs each accepted connection; count them to lift the fault after N.
        watcher = setInterval(() => {
          if (accepted() - start >= connections) removeResets().catch(() => {});
        }, 5);
        watcher.unref();
      }
    },
    async latency(ms, jitterMs = 0) {
      await call('DELETE', `/proxies/${PROXY}/toxics/latency`);
      if (ms > 0)
        await toxic('latency', 'latency', 'downstream', 1, { latency: ms, jitter: jitterMs });
    },
    down: () => call('POST', `/proxies/${PROXY}`, { enabled: false }),
    up: () => call('POST', `/proxies/${PROXY}`, { enabled: true }),
    accepted,
    async clear() {
      stopWatching();
      // Removes every toxic and enables every proxy.
      await call('POST', '/reset');
    },
  };
  return faults;
}
