// A TCP port on 127.0.0.1 that nothing listens on right now, for a restored
// copy of the cluster (the drill's, on "a free port").
import net from 'node:net';

/** Asks the kernel for a free port on 127.0.0.1 and gives it back. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
