// A real IPv4 multicast group with servers at distinct addresses: one bridge on the host and one network
// namespace per server (iproute2; needs root, like test/support/netns.ts). Why not loopback alone: every
// server joined on 127.0.0.1 answers from 127.0.0.1 and the same group port, so Reply-From could not tell
// them apart, nor could the client reach one of them directly (checked with coap-server-notls -g).
//
//   host: bridge <name> = 10.X.Y.1 (the proxy's group side)  -- veth --  namespace i: eth0 = 10.X.Y.(10+i)
//   mcast_snooping off: the bridge floods every group datagram to all ports, the servers' joins decide.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface GroupNet {
  bridge: string;
  hostAddr: string;
  serverAddrs: string[];
  namespaces: string[];
  /** A multicast address unique to this net. */
  groupAddr: string;
  /** Starts `cmd args` inside server i's namespace. */
  spawnIn(i: number, cmd: string, args: string[], opts?: { cwd?: string }): ChildProcess;
  destroy(): void;
}

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export function createGroupNet(servers: number): GroupNet {
  const tag = randomBytes(3).toString('hex');
  const b = randomBytes(2);
  const subnet = `10.${100 + (b[0] % 100)}.${b[1] % 250}`;
  const bridge = `gpb${tag}`;
  const namespaces: string[] = [];
  const serverAddrs: string[] = [];
  const children: ChildProcess[] = [];
  const destroy = (): void => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    for (const ns of namespaces) {
      try {
        ip(['netns', 'del', ns]);
      } catch {
        // already gone
      }
    }
    try {
      ip(['link', 'del', bridge]);
    } catch {
      // already gone
    }
  };
  try {
    ip(['link', 'add', bridge, 'type', 'bridge', 'mcast_snooping', '0']);
    ip(['addr', 'add', `${subnet}.1/24`, 'dev', bridge]);
    ip(['link', 'set', bridge, 'up']);
    for (let i = 0; i < servers; i++) {
      const ns = `gpn${tag}${i}`;
      const veth = `gpv${tag}${i}`;
      ip(['netns', 'add', ns]);
      namespaces.push(ns);
      ip(['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      ip(['link', 'set', veth, 'master', bridge, 'up']);
      const addr = `${subnet}.${10 + i}`;
      ip(['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0']);
      ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      ip(['-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0']);
      serverAddrs.push(addr);
    }
  } catch (err) {
    destroy();
    throw err;
  }
  return {
    bridge,
    hostAddr: `${subnet}.1`,
    serverAddrs,
    namespaces,
    groupAddr: `239.255.${b[0]}.${1 + (b[1] % 250)}`,
    spawnIn(i, cmd, args, opts = {}) {
      const c = spawn('ip', ['netns', 'exec', namespaces[i], cmd, ...args], {
        stdio: ['pipe', 'pipe', 'pipe'],
        cwd: opts.cwd,
      });
      children.push(c);
      return c;
    },
    destroy,
  };
}
