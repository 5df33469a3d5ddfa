// An HTTP proxy in front of a test's S3 server that records every request a
// client sends through it: method, path (decoded, without the query), the
// headers, and the sha256 of the body it forwarded. Headers pass as they are,
// so SigV4 signatures hold. A test points one process's S3_ENDPOINT at it to
// see exactly what that process asks of the store.
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenS3Request {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** sha256 (hex) of the request body as it passed. */
  bodySha256: string;
}

export interface S3Proxy {
  endpoint: string;
  /** Every request so far, in order of arrival (body digests filled in once each body has passed). */
  seen: SeenS3Request[];
  close(): Promise<void>;
}

/**
 * Starts the proxy on 127.0.0.1 in front of `target` (http://host:port).
 * `fail(path)` true: that request is answered 500 without being forwarded.
 */
export async function startS3Proxy(target: string, options: { fail?: (path: string) => boolean } = {}): Promise<S3Proxy> {
  const upstream = new URL(target);
  const seen: SeenS3Request[] = [];
  const server = http.createServer((req, res) => {
    const entry: SeenS3Request = { method: req.method!, path: decodeURIComponent(req.url!.split('?')[0]!), headers: req.headers, bodySha256: '' };
    seen.push(entry);
    const hash = createHash('sha256');
    req.on('data', (chunk: Buffer) => hash.update(chunk));
    req.on('end', () => (entry.bodySha256 = hash.digest('hex')));
    if (options.fail?.(entry.path)) {
      req.resume();
      res.writeHead(500).end();
      return;
    }
    const forward = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
