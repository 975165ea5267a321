// Self-test of the nginx UDP load balancer harness: real nginx, real sockets on 127.0.0.1.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUdpLoadBalancer, type UdpLoadBalancer } from './nginx-udp';

interface EchoServer {
  name: string;
  port: number;
  socket: Socket;
  /** Source address of every datagram received (the LB's side of a session). */
  seen: RemoteInfo[];
  close(): Promise<void>;
}

/** Answers every datagram with `<name>:<datagram>`. */
async function startEcho(name: string): Promise<EchoServer> {
  const socket = createSocket('udp4');
  const seen: RemoteInfo[] = [];
  socket.on('message', (msg, rinfo) => {
    seen.push(rinfo);
    socket.send(`${name}:${msg.toString()}`, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  return {
    name,
    port: socket.address().port,
    socket,
    seen,
    close: () => new Promise<void>((r) => socket.close(() => r())),
  };
}

interface Client {
  port: number;
  send(text: string): void;
  /** The next datagram received, as text. */
  next(timeoutMs?: number): Promise<string>;
  close(): Promise<void>;
}

async function openClient(lb: UdpLoadBalancer): Promise<Client> {
  const socket = createSocket('udp4');
  const queue: string[] = [];
  const waiters: Array<(text: string) => void> = [];
  socket.on('message', (msg) => {
    const w = waiters.shift();
    if (w) w(msg.toString());
    else queue.push(msg.toString());
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  return {
    port: socket.address().port,
    send: (text) => socket.send(text, lb.port, lb.host),
    next(timeoutMs = 3000) {
      const queued = queue.shift();
      if (queued !== undefined) return Promise.resolve(queued);
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`no datagram through the LB within ${timeoutMs} ms\n${lb.log().slice(-2000)}`));
        }, timeoutMs);
        const waiter = (text: string) => {
          clearTimeout(timer);
          resolve(text);
        };
        waiters.push(waiter);
      });
    },
    close: () => new Promise<void>((r) => socket.close(() => r())),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const upstreamOf = (reply: string) => reply.split(':')[0];

describe('nginx UDP load balancer', () => {
  let servers: EchoServer[] = [];
  let lb: UdpLoadBalancer;
  const clients: Client[] = [];

  async function client(): Promise<Client> {
    const c = await openClient(lb);
    clients.push(c);
    return c;
  }

  beforeAll(async () => {
    servers = await Promise.all(['A', 'B', 'C'].map(startEcho));
    lb = await startUdpLoadBalancer({ upstreams: servers.map((s) => ({ host: '127.0.0.1', port: s.port })) });
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await lb?.stop();
    await Promise.all(servers.map((s) => s.close()));
  });

  it('runs nginx on its own port with its own temp prefix', () => {
    expect(lb.port).toBeGreaterThan(0);
    expect(lb.dir).toContain('lwm2m-nginx-');
    expect(lb.log()).toMatch(/start worker process/);
  });

  it('keeps one client on one upstream for many datagrams both ways', async () => {
    const c = await client();
    const replies: string[] = [];
    for (let i = 0; i < 10; i++) {
      c.send(`ping-${i}`);
      replies.push(await c.next());
    }
    const names = new Set(replies.map(upstreamOf));
    expect(names.size).toBe(1);
    const name = [...names][0];
    expect(replies).toEqual(Array.from({ length: 10 }, (_, i) => `${name}:ping-${i}`));
  });

  it('spreads different client source ports over more than one upstream, each one sticky', async () => {
    const cs = await Promise.all(Array.from({ length: 20 }, () => client()));
    const first = await Promise.all(
      cs.map(async (c) => {
        c.send('hello');
        return upstreamOf(await c.next());
      }),
    );
    const second = await Promise.all(
      cs.map(async (c) => {
        c.send('again');
        return upstreamOf(await c.next());
      }),
    );
    expect(second).toEqual(first);
    expect(new Set(first).size).toBeGreaterThan(1);
  });

  it('delivers datagrams the upstream sends first, after a pause, through the same flow', async () => {
    const c = await client();
    c.send('register');
    const reply = await c.next();
    const server = servers.find((s) => s.name === upstreamOf(reply))!;
    const lbSide = server.seen.at(-1)!;
    expect(lbSide.address).toBe('127.0.0.1');
    expect(lbSide.port).not.toBe(c.port); // the upstream sees the LB, not the client

    await sleep(1000);
    for (let i = 0; i < 5; i++) server.socket.send(`notify-${i}`, lbSide.port, lbSide.address);
    const pushed: string[] = [];
    for (let i = 0; i < 5; i++) pushed.push(await c.next());
    expect(pushed.sort()).toEqual(['notify-0', 'notify-1', 'notify-2', 'notify-3', 'notify-4']);

    // and the session still carries client datagrams to the same upstream, from the same LB port
    c.send('update');
    expect(await c.next()).toBe(`${server.name}:update`);
    expect(server.seen.at(-1)!.port).toBe(lbSide.port);
  });

  it('reload() sends new sessions to a new upstream list', async () => {
    const d = await startEcho('D');
    servers.push(d);
    await lb.reload([{ host: '127.0.0.1', port: d.port }]);
    expect(lb.upstreams).toEqual([{ host: '127.0.0.1', port: d.port }]);
    const cs = await Promise.all(Array.from({ length: 5 }, () => client()));
    const names = await Promise.all(
      cs.map(async (c) => {
        c.send('after-reload');
        return upstreamOf(await c.next());
      }),
    );
    expect(names).toEqual(['D', 'D', 'D', 'D', 'D']);
  });

  it('keeps a session alive while the upstream alone sends, and forgets it after proxy_timeout idle', async () => {
    const e = await startEcho('E');
    servers.push(e);
    const short = await startUdpLoadBalancer({
      upstreams: [{ host: '127.0.0.1', port: e.port }],
      proxyTimeoutSeconds: 1,
    });
    try {
      const c = await openClient(short);
      clients.push(c);
      c.send('register');
      expect(await c.next()).toBe('E:register');
      const lbSide = e.seen.at(-1)!;
      // 2 s of server-initiated datagrams, twice proxy_timeout: the session lives on
      for (let i = 0; i < 8; i++) {
        e.socket.send(`notify-${i}`, lbSide.port, lbSide.address);
        expect(await c.next()).toBe(`notify-${i}`);
        await sleep(250);
      }
      // idle for longer than proxy_timeout: nginx dropped the session and its upstream socket
      await sleep(2000);
      e.socket.send('too-late', lbSide.port, lbSide.address);
      await expect(c.next(500)).rejects.toThrow(/no datagram/);
    } finally {
      await short.stop();
    }
  });

  it('names the Debian packages when nginx or its stream module is missing', async () => {
    await expect(
      startUdpLoadBalancer({ upstreams: [{ host: '127.0.0.1', port: 9 }], binary: '/nonexistent/nginx' }),
    ).rejects.toThrow(/nginx-light and libnginx-mod-stream/);
    await expect(
      startUdpLoadBalancer({
        upstreams: [{ host: '127.0.0.1', port: 9 }],
        streamModule: '/nonexistent/ngx_stream_module.so',
      }),
    ).rejects.toThrow(/stream module .* is missing: .*libnginx-mod-stream/);
  });
});
