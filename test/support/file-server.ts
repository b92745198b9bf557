// A plain HTTP server on 127.0.0.1 that serves files held in memory: the fixture chart
// repository and the Helm mirror are both this, with different files.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FileServer {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** Path of every request received, in order (including ones answered 404). */
  paths: string[];
  stop(): Promise<void>;
}

/** A user name and password a server asks for with HTTP Basic authentication. */
export interface Credentials {
  username: string;
  password: string;
}

/**
 * Serves `files` (path → body; changes to the map show at once) for GET and HEAD; with
 * `credentials`, only to requests that carry them (401 otherwise).
 */
export async function serveFiles(
  files: Map<string, Buffer>,
  contentType: (path: string) => string,
  credentials?: Credentials,
): Promise<FileServer> {
  const paths: string[] = [];
  const expected =
    credentials &&
    `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://files').pathname;
    paths.push(path);
    if (expected && request.headers.authorization !== expected) {
      response.writeHead(401, { 'www-authenticate': 'Basic realm="files"' });
      response.end('unauthorized\n');
      return;
    }
    const body =
      request.method === 'GET' || request.method === 'HEAD' ? files.get(path) : undefined;
    if (!body) {
      response.writeHead(404, { 'content-type': 'text/plain' });
      response.end('not found\n');
      return;
    }
    response.writeHead(200, { 'content-type': contentType(path), 'content-length': body.length });
    response.end(request.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    paths,
    stop() {
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}
