// The API process's server: the express app (app.ts) listening on a port,
// with the timeouts that keep slow clients from holding sockets. Which
// process runs it (`lookout all`, `lookout api`) is the CLI's choice.

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Services } from '../runtime/services.js';
import { createApp } from './app.js';
import type { StartupGate } from './routes/health.js';

/** How long a request's line and headers may take to arrive (ms). */
export const HEADERS_TIMEOUT_MS = 15_000;

export interface RunningApi {
  server: Server;
  port: number;
  close(): Promise<void>;
}

/**
 * Listens on `port` (0: any free port) with the API.
 * @param options.startup passed to /readyz: not ready while it says the process is starting
 */
export async function startApi(services: Services, port = services.config.port, options: { startup?: StartupGate } = {}): Promise<RunningApi> {
  const app = createApp(services, options);
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(port, () => resolve(s));
    s.once('error', reject);
  });
  // Node ends any request not received whole within requestTimeout (300 s by
  // default), however steadily its bytes arrive: a large upload on a slow link
  // would be cut part-way. An upload is ended when it goes idle instead
  // (UPLOAD_IDLE_TIMEOUT_MS, receive-upload.ts), and any socket silent for a
  // little longer than that is closed (slow-drip bodies on other routes).
  server.requestTimeout = 0;
  server.setTimeout(services.config.upload.idleTimeoutMs + 5000);
  // A client gets this long to send its request line and headers, however
  // steadily they trickle in (Node's default is 60 s): slowloris clients hold
  // a socket each for at most this, and never reach the upload slots.
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  const actualPort = (server.address() as AddressInfo).port;
  services.logger.info({ port: actualPort }, 'api listening');
  return {
    server,
    port: actualPort,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeIdleConnections();
      }),
  };
}
