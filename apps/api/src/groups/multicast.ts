// The api's way to multicast groups: an in-process GroupProxy (libs/group-proxy) whose client side is this
// process alone, its group side one UDP socket bound on the first multicast request (an api that never
// serves one binds nothing). The forwarding and collection are the proxy's (draft-ietf-core-groupcomm-proxy).
import {
  IN_PROCESS_CLIENT,
  type MulticastExchange,
  type MulticastSender,
  ProxyMulticastSender,
} from '@lwm2m/groups';
import { formatReplyFrom, GroupProxy } from '@lwm2m/group-proxy';
import { UdpTransport } from '@lwm2m/udp';

/** Client side of the in-process proxy: nothing comes or goes over the network there. */
const NO_CLIENT_SOCKET = {
  send: async () => undefined,
  onDatagram: () => undefined,
  close: async () => undefined,
};

export class LazyMulticastSender implements MulticastSender {
  private ready:
    Promise<{ proxy: GroupProxy; socket: UdpTransport; sender: ProxyMulticastSender }> | undefined;

  constructor(
    private readonly opts: {
      interface?: string;
      ttl?: number;
      maxTimeoutSeconds: number;
      maxServers: number;
    },
    private readonly warn: (m: string) => void,
  ) {}

  private async open() {
    const address = this.opts.interface ?? '0.0.0.0';
    const socket = await UdpTransport.bind({ type: address.includes(':') ? 'udp6' : 'udp4', address });
    socket.enableMulticastSend({
      ...(address !== '0.0.0.0' && address !== '::' ? { interface: address } : {}),
      ttl: this.opts.ttl ?? 1,
    });
    const proxy = new GroupProxy({
      clientSide: NO_CLIENT_SOCKET,
      groupSide: socket,
      groups: [],
      allow: [{ address: IN_PROCESS_CLIENT.address, port: IN_PROCESS_CLIENT.port, groups: '*' }],
      // A group request's deadline is its T' (up to GROUP_MAX_DEADLINE_S); no cache: each request is sent.
      maxTimeoutSeconds: this.opts.maxTimeoutSeconds,
      cache: false,
      logger: { warn: (m) => this.warn(m) },
    });
    const sender = new ProxyMulticastSender(proxy, undefined, this.opts.maxServers);
    this.counters = sender.counters;
    return { proxy, socket, sender };
  }

  /** The sender's counters once its socket is open (metrics), else undefined. */
  counters: ProxyMulticastSender['counters'] | undefined;

  send(...args: Parameters<MulticastSender['send']>): MulticastExchange {
    let stopped = false;
    let exchange: MulticastExchange | undefined;
    const [group, , , handlers] = args;
    (this.ready ??= this.open()).then(
      ({ sender }) => {
        if (!stopped) exchange = sender.send(...args);
      },
      (err: unknown) => {
        this.ready = undefined;
        this.warn(`multicast group ${group.address}:${group.port}: socket not opened: ${String(err)}`);
        // Said in the results rather than a request that completes empty.
        handlers.result({
          endpoint: formatReplyFrom({ scheme: 'coap', host: group.address, port: group.port }),
          state: 'failed',
          status: 503,
          error: 'the api could not open its multicast socket (GROUP_MULTICAST_INTERFACE)',
          at: Date.now(),
        });
        handlers.ended();
      },
    );
    return {
      stop: () => {
        stopped = true;
        exchange?.stop();
      },
    };
  }

  async close(): Promise<void> {
    const r = await this.ready?.catch(() => undefined);
    this.ready = undefined;
    if (!r) return;
    await r.proxy.close();
    await r.socket.close();
  }
}
