// Shared set-up of the group-proxy tests: our proxy (client side on 127.0.0.1, group side on the host's
// end of the group network) and our client, on real UDP sockets.
import { GroupProxy, GroupProxyClient, type AllowRule, type GroupProxyOptions, type ProxyGroup } from '@lwm2m/group-proxy';
import { UdpTransport } from '@lwm2m/udp';

export const LOOPBACK = '127.0.0.1';

export interface TestProxy {
  proxy: GroupProxy;
  clientSide: UdpTransport;
  groupSide: UdpTransport;
  port: number;
  close(): Promise<void>;
}

export async function startProxy(
  groupSideAddr: string,
  groups: ProxyGroup[],
  allow: AllowRule[],
  extra: Partial<GroupProxyOptions> = {},
): Promise<TestProxy> {
  const clientSide = await UdpTransport.bind({ address: LOOPBACK });
  const groupSide = await UdpTransport.bind({ address: groupSideAddr });
  groupSide.enableMulticastSend({ interface: groupSideAddr, ttl: 1, loopback: true });
  const proxy = new GroupProxy({ clientSide, groupSide, groups, allow, ...extra });
  return {
    proxy,
    clientSide,
    groupSide,
    port: clientSide.address().port,
    async close() {
      await proxy.close();
      await clientSide.close();
      await groupSide.close();
    },
  };
}

export interface TestClient {
  client: GroupProxyClient;
  udp: UdpTransport;
  port: number;
  close(): Promise<void>;
}

/** Bound to 0.0.0.0: reaches the proxy on loopback and the servers on the group network directly. */
export async function startClient(proxyPort: number, address = '0.0.0.0'): Promise<TestClient> {
  const udp = await UdpTransport.bind({ address });
  const client = new GroupProxyClient({ transport: udp, proxy: { address: LOOPBACK, port: proxyPort } });
  return { client, udp, port: udp.address().port, close: () => udp.close() };
}

export async function until(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
