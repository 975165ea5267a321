// Free ports for child processes that must be told their port up front (and keep it across a restart).
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function bindsUdp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind(port, '0.0.0.0', () => s.close(() => resolve(true)));
  });
}

/**
 * A free UDP port below the kernel's ephemeral range (32768+ on Linux): a server that restarts on its port
 * (a gateway killed and started again) must not find it taken meanwhile by some client's ephemeral socket,
 * such as one of the load balancer's per-flow upstream sockets.
 */
export async function stableUdpPort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await bindsUdp(port)) return port;
  }
  return freeUdpPort();
}
