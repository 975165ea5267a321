// RFC 7252 section 1.2 / RFC 768: the CoAP DatagramTransport on node:dgram (UDP, the NoSec binding).
import { createSocket, type Socket } from 'node:dgram';
import { type DatagramTransport, deliverToListeners, type Peer } from '@lwm2m/transport';
import { FairReceiveQueue, type FairReceiveOptions, type ReceiveDropCounters } from './fair-receive-queue';
import { configureMulticastSend, type MulticastSendOptions } from './udp-multicast';

export interface UdpLogger {
  warn(message: string, context?: Record<string, unknown>): void;
}

export interface UdpTransportOptions {
  type?: 'udp4' | 'udp6';
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1 (udp4) or ::1 (udp6); use 0.0.0.0 / :: to listen everywhere. */
  address?: string;
  /**
   * SO_RCVBUF in bytes: a server taking bursts (a registration storm, 1,000 devices notifying at once) drops
   * datagrams once the kernel's default (about 200 KiB) is full. Best effort: the kernel may grant less.
   */
  recvBufferSize?: number;
  /**
   * Serve sources round-robin from bounded per-source queues instead of in the kernel's arrival order (see
   * fair-receive-queue.ts): for a server socket with a large receive buffer, so a flood cannot queue ahead
   * of real devices. Off by default (a client socket has one source).
   */
  fairness?: FairReceiveOptions;
  logger?: UdpLogger;
}

const NO_DROPS: Readonly<ReceiveDropCounters> = Object.freeze({ source: 0, total: 0 });

export class UdpTransport implements DatagramTransport {
  private readonly listeners: ((data: Buffer, peer: Peer) => void)[] = [];
  private closed = false;
  private readonly fair: FairReceiveQueue | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly logger: UdpLogger,
    fairness: FairReceiveOptions | undefined,
  ) {
    const fair = fairness
      ? new FairReceiveQueue((data, peer) => this.deliver(data, peer), fairness)
      : undefined;
    this.fair = fair;
    if (fair) socket.on('message', (data, rinfo) => fair.push(data, rinfo.address, rinfo.port, rinfo.family));
    else
      socket.on('message', (data, rinfo) =>
        this.deliver(data, {
          address: rinfo.address,
          port: rinfo.port,
          family: rinfo.family as 'IPv4' | 'IPv6',
        }),
      );
    // Socket errors (ICMP unreachable and the like) are logged, never thrown (no 'error' crash).
    socket.on('error', (err) => this.logger.warn('udp: socket error', { error: String(err) }));
  }

  /** Creates a socket and binds it. */
  static bind(opts: UdpTransportOptions = {}): Promise<UdpTransport> {
    const type = opts.type ?? 'udp4';
    const address = opts.address ?? (type === 'udp6' ? '::1' : '127.0.0.1');
    const socket = createSocket({ type, reuseAddr: false });
    const logger = opts.logger ?? { warn: () => undefined };
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        socket.close();
        reject(err);
      };
      socket.once('error', onError);
      socket.bind(opts.port ?? 0, address, () => {
        socket.off('error', onError);
        if (opts.recvBufferSize !== undefined) {
          try {
            socket.setRecvBufferSize(opts.recvBufferSize);
          } catch (err) {
            logger.warn('udp: receive buffer size refused', { error: String(err) });
          }
        }
        resolve(new UdpTransport(socket, logger, opts.fairness));
      });
    });
  }

  /** Datagrams dropped by the fair receive queue, by reason (all 0 without `fairness`). */
  get receiveDrops(): Readonly<ReceiveDropCounters> {
    return this.fair?.drops ?? NO_DROPS;
  }

  /** Datagrams read from the socket and waiting in the fair receive queue. */
  get receiveQueued(): number {
    return this.fair?.size ?? 0;
  }

  /**
   * With `fairness`: which sources are served first (FairReceiveOptions.prioritize), set once the layers
   * above (DTLS sessions, CoAP exchanges) exist.
   */
  prioritizeSources(known: (data: Buffer, peer: Peer) => boolean): void {
    if (this.fair) this.fair.prioritize = known;
  }

  /** The receive buffer the kernel granted, bytes. */
  recvBufferSize(): number {
    return this.socket.getRecvBufferSize();
  }

  address(): Peer {
    const a = this.socket.address();
    return { address: a.address, port: a.port, family: a.family as 'IPv4' | 'IPv6' };
  }

  /** Lets this socket send to IP multicast groups (group-observe section 2.3: from SRV_ADDR:SRV_PORT). */
  enableMulticastSend(opts: MulticastSendOptions = {}): void {
    configureMulticastSend(this.socket, opts);
  }

  send(data: Buffer, peer: Peer): Promise<void> {
    if (this.closed) return Promise.reject(new Error('udp transport closed'));
    return new Promise((resolve) => {
      this.socket.send(data, peer.port, peer.address, (err) => {
        if (err)
          this.logger.warn('udp: send failed', { peer: `${peer.address}:${peer.port}`, error: String(err) });
        resolve();
      });
    });
  }

  /**
   * Sends without a promise or callback per datagram (the worker dispatcher's path, thousands a second): a
   * failure surfaces as the socket's 'error' event, which is logged. Nothing is sent once closed.
   */
  sendNow(data: Buffer, port: number, address: string): void {
    if (!this.closed) this.socket.send(data, port, address);
  }

  private deliver(data: Buffer, peer: Peer): void {
    deliverToListeners(this.listeners, data, peer, this.logger, undefined, 'udp');
  }

  onDatagram(listener: (data: Buffer, peer: Peer) => void): void {
    this.listeners.push(listener);
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.fair?.clear();
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
