// Shared set-up of the group-proxy tests: our proxy (client side on 127.0.0.1, group side on the host's
// end of the group network) and our client, on real UDP sockets.
import {
  GroupProxy,
  GroupProxyClient,
  type AllowRule,
  type GroupProxyOptions,
  type ProxyGroup,
} from '@lwm2m/group-proxy';
import {
  CoapCode,
  CoapType,
  createMessage,
  decodeMessage,
  encodeMessage,
  isRequestCode,
  OptionNumber,
} from '@lwm2m/coap';
import { UdpMulticastReceiver, UdpTransport } from '@lwm2m/udp';

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

export interface LoopbackMember {
  name: string;
  udp: UdpTransport;
  close(): Promise<void>;
}

/**
 * A plain CoAP group member on loopback: receives the group's datagrams through a multicast join on
 * 127.0.0.1 and answers 2.05 "<name>:<path>" from its own unicast socket, so each has its own port.
 */
export async function startLoopbackMember(
  group: { address: string; port: number },
  name: string,
): Promise<LoopbackMember> {
  const udp = await UdpTransport.bind({ address: LOOPBACK });
  const membership = await new UdpMulticastReceiver({ interface: LOOPBACK }).join(group, (data, from) => {
    const req = decodeMessage(data);
    if (!isRequestCode(req.code)) return;
    const path = req.options.filter((o) => o.number === OptionNumber.URI_PATH).map((o) => o.value.toString());
    const resp = createMessage({
      type: CoapType.NON,
      code: CoapCode.CONTENT,
      messageId: (Math.random() * 0x10000) | 0,
      token: req.token,
      payload: Buffer.from(`${name}:${path.join('/')}`),
    });
    void udp.send(encodeMessage(resp), from);
  });
  return {
    name,
    udp,
    async close() {
      await membership.leave();
      await udp.close();
    },
  };
}

/** A multicast group on loopback with a free port. */
export async function loopbackGroup(): Promise<{ address: string; port: number }> {
  const probe = await UdpTransport.bind({ address: LOOPBACK });
  const port = probe.address().port;
  await probe.close();
  const b = Math.floor(Math.random() * 100);
  return { address: `239.255.${150 + b}.${1 + Math.floor(Math.random() * 200)}`, port };
}
