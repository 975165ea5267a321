// A real NAT on this machine, built from network namespaces (iproute2, iptables, conntrack; needs root):
//
//   device namespace (nsName)        NAT namespace (routerNsName)             host (the test process)
//   insideAddr ── veth ── routerInsideAddr   natAddr ── veth ── gatewayAddr   servers bound to gatewayAddr
//   default via routerInsideAddr     ip_forward=1, MASQUERADE --random-fully   or 0.0.0.0
//                                    default via gatewayAddr
//
// Why a router namespace instead of a MASQUERADE rule on the host: nat POSTROUTING only sees forwarded and
// outgoing packets, never packets delivered to a local socket, so a host rule would leave the device's own
// address on datagrams to a server on the host (checked: the server saw the inside address). In its own
// namespace the NAT forwards for real; ip_forward, the iptables rule and the conntrack table are that
// namespace's own, so nothing on the host changes and deleting the namespaces removes everything.
//
// `--random-fully`: plain MASQUERADE keeps the device's source port when it is free, so after a conntrack
// flush the server saw the same port again (checked); with --random-fully every new mapping gets a random
// port (1024-65535), as a carrier NAT that forgot a mapping does.
import { type ChildProcess, execFile, spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface NatTopologyOptions {
  /**
   * conntrack's UDP timeouts in the NAT namespace, in seconds: an idle mapping is forgotten after this, and the
   * next datagram gets a new external port. Default: the kernel's (30 s, 120 s once traffic went both ways).
   */
  udpTimeoutSeconds?: number;
}

export interface NatTopology {
  /** The device's namespace: run clients here with exec(). */
  nsName: string;
  /** The NAT router's namespace (its iptables rule and conntrack table). */
  routerNsName: string;
  /** The device's own address (private, never seen by servers on the host). */
  insideAddr: string;
  /** Host-side address the device can reach: bind servers here (or on 0.0.0.0) and send to it from inside. */
  gatewayAddr: string;
  /** The NAT's external address: the source address servers on the host see. */
  natAddr: string;
  /** The host-side veth interface (gone after destroy()). */
  hostInterface: string;
  /**
   * Runs a command inside the device namespace (`ip netns exec <nsName> ...cmd`). destroy() kills it if still
   * running.
   */
  exec(cmd: string[], opts?: SpawnOptions): ChildProcess;
  /**
   * Forgets every NAT mapping (`conntrack -F` in the NAT namespace, whose table holds only this topology's
   * flows): the device's next datagram leaves from a new random external port.
   */
  flushConntrack(): Promise<void>;
  /** The NAT's conntrack table (`conntrack -L -p udp`), for assertions and failure messages. */
  conntrackTable(): Promise<string>;
  /** Kills what exec() started and deletes both namespaces (with them the veths, rule and conntrack). */
  destroy(): Promise<void>;
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

const NAME_PREFIX = 'lwm2m-nat-';
const INSTALL_HINT = "needs root and Debian's iproute2, iptables, conntrack and procps (sysctl)";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function run(cmd: string, args: string[], timeoutMs = 10_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err && typeof err.code === 'string') {
        resolve({ code: -1, stdout, stderr: `${stderr}${err.message}` }); // ENOENT and friends
        return;
      }
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

/** `ip [-n ns] -batch -` with `lines` on stdin; stops at the first failing line. */
function ipBatch(ns: string | undefined, lines: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const args = [...(ns ? ['-n', ns] : []), '-batch', '-'];
    const child = spawn('ip', args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve();
      else
        reject(
          new Error(`\`ip ${args.join(' ')}\` failed (${code}) on\n${lines.join('\n')}\n${stderr.trim()}`),
        );
    });
    child.stdin!.end(lines.join('\n') + '\n');
  });
}

async function must(cmd: string, ...args: string[]): Promise<string> {
  const r = await run(cmd, args);
  if (r.code !== 0) throw new Error(`\`${[cmd, ...args].join(' ')}\` failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

// ---- addresses -------------------------------------------------------------------------------------------

const toInt = (a: string) => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
const toAddr = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');

function overlaps(a: number, aLen: number, b: number, bLen: number): boolean {
  const len = Math.min(aLen, bLen);
  const block = 2 ** (32 - len);
  return Math.floor(a / block) === Math.floor(b / block);
}

/** Every IPv4 prefix the host has an address or a route in (default routes left out). */
async function hostPrefixes(): Promise<Array<[number, number]>> {
  const text =
    (await must('ip', '-o', '-4', 'addr', 'show')) +
    (await must('ip', '-4', 'route', 'show', 'table', 'all'));
  const out: Array<[number, number]> = [];
  for (const m of text.matchAll(/(?:^|\s)(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?/g)) {
    const len = m[2] === undefined ? 32 : Number(m[2]);
    if (len > 0) out.push([toInt(m[1]), len]);
  }
  return out;
}

/**
 * Two /30s that overlap nothing on the host: the host link from 10.192.0.0/10, the inside link from
 * 10.128.0.0/10, at the same random offset (2^20 choices, so concurrent test files do not collide).
 */
async function pickSubnets(): Promise<{ outside: number; inside: number }> {
  const taken = await hostPrefixes();
  for (let attempt = 0; attempt < 50; attempt++) {
    const offset = randomBytes(3).readUIntBE(0, 3) % 2 ** 20;
    const outside = toInt('10.192.0.0') + offset * 4;
    const inside = toInt('10.128.0.0') + offset * 4;
    if (!taken.some(([p, len]) => overlaps(outside, 30, p, len) || overlaps(inside, 30, p, len))) {
      return { outside, inside };
    }
  }
  throw new Error('createNatTopology: no free /30 in 10.128.0.0/9');
}

// ---- life cycle ------------------------------------------------------------------------------------------

const live = new Set<string>(); // namespace names of this process not yet destroyed
const liveChildren = new Set<ChildProcess>(); // what exec() started, not yet exited
process.once('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
  for (const ns of live) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
});

let seq = 0;

/** Deletes namespaces of ours whose creating process is gone (a test process killed with SIGKILL). */
async function deleteStaleNamespaces(): Promise<void> {
  const list = await run('ip', ['netns', 'list']);
  for (const line of list.stdout.split('\n')) {
    const name = line.split(' ')[0];
    const m = new RegExp(`^${NAME_PREFIX}(\\d+)-\\d+-(dev|nat)$`).exec(name);
    if (!m) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch {
      await run('ip', ['netns', 'del', name]);
    }
  }
}

export async function createNatTopology(options: NatTopologyOptions = {}): Promise<NatTopology> {
  await deleteStaleNamespaces();
  const base = `${NAME_PREFIX}${process.pid}-${++seq}`;
  const dev = `${base}-dev`;
  const nat = `${base}-nat`;
  const tag = `lw${randomBytes(3).toString('hex')}`; // interface names stay under 16 bytes
  const hostIf = `${tag}h`; // host side of the host link
  const natOutIf = `${tag}o`; // NAT side of the host link
  const natInIf = `${tag}i`; // NAT side of the inside link
  const devIf = `${tag}d`; // the device's interface
  const { outside, inside } = await pickSubnets();
  const gatewayAddr = toAddr(outside + 1);
  const natAddr = toAddr(outside + 2);
  const routerInsideAddr = toAddr(inside + 1);
  const insideAddr = toAddr(inside + 2);
  const insideSubnet = `${toAddr(inside)}/30`;

  const children = new Set<ChildProcess>();
  let destroyed = false;

  async function destroy(): Promise<void> {
    if (destroyed) return;
    destroyed = true;
    await Promise.all(
      [...children].map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGKILL');
        await Promise.race([exited, sleep(2000)]);
      }),
    );
    const problems: string[] = [];
    for (const ns of [dev, nat]) {
      const r = await run('ip', ['netns', 'del', ns]);
      if (r.code !== 0 && !/No such file/.test(r.stderr)) problems.push(r.stderr.trim());
      live.delete(ns);
    }
    // The host veth dies with its peer in the NAT namespace; namespace teardown is asynchronous in the
    // kernel, and a veth left behind by a half-built topology (no NAT namespace) is deleted here.
    const deadline = Date.now() + 3000;
    while ((await run('ip', ['link', 'show', 'dev', hostIf])).code === 0) {
      if (Date.now() > deadline) {
        const r = await run('ip', ['link', 'del', 'dev', hostIf]);
        if (r.code !== 0) problems.push(`cannot delete ${hostIf}: ${r.stderr.trim()}`);
        break;
      }
      await sleep(25);
    }
    if (problems.length) throw new Error(`destroy NAT topology ${base}: ${problems.join('; ')}`);
  }

  const inNat = (...args: string[]) => must('ip', 'netns', 'exec', nat, ...args);
  try {
    live.add(dev);
    live.add(nat);
    // `ip -batch`: one process per namespace instead of one per command (each costs ~30 ms here)
    await ipBatch(undefined, [
      `netns add ${dev}`,
      `netns add ${nat}`,
      // host link: host <-> NAT
      `link add ${hostIf} type veth peer name ${natOutIf} netns ${nat}`,
      `addr add ${gatewayAddr}/30 dev ${hostIf}`,
      `link set ${hostIf} up`,
    ]);
    await ipBatch(nat, [
      `addr add ${natAddr}/30 dev ${natOutIf}`,
      `link set ${natOutIf} up`,
      // inside link: NAT <-> device
      `link add ${natInIf} type veth peer name ${devIf} netns ${dev}`,
      `addr add ${routerInsideAddr}/30 dev ${natInIf}`,
      `link set ${natInIf} up`,
      'link set lo up',
      `route add default via ${gatewayAddr}`,
    ]);
    await ipBatch(dev, [
      `addr add ${insideAddr}/30 dev ${devIf}`,
      `link set ${devIf} up`,
      'link set lo up',
      `route add default via ${routerInsideAddr}`,
    ]);
    // the NAT itself
    await inNat('sysctl', '-qw', 'net.ipv4.ip_forward=1');
    await inNat(
      'iptables',
      '-t',
      'nat',
      '-A',
      'POSTROUTING',
      '-s',
      insideSubnet,
      '-o',
      natOutIf,
      '-j',
      'MASQUERADE',
      '--random-fully',
    );
    if (options.udpTimeoutSeconds !== undefined) {
      const s = Math.max(1, Math.round(options.udpTimeoutSeconds));
      await inNat(
        'sysctl',
        '-qw',
        `net.netfilter.nf_conntrack_udp_timeout=${s}`,
        `net.netfilter.nf_conntrack_udp_timeout_stream=${s}`,
      );
    }
  } catch (err) {
    await destroy().catch(() => undefined);
    throw new Error(`createNatTopology (${INSTALL_HINT}): ${(err as Error).message}`);
  }

  return {
    nsName: dev,
    routerNsName: nat,
    insideAddr,
    gatewayAddr,
    natAddr,
    hostInterface: hostIf,
    exec(cmd, opts = {}) {
      if (destroyed) throw new Error(`exec: NAT topology ${base} is destroyed`);
      const child = spawn('ip', ['netns', 'exec', dev, ...cmd], opts);
      children.add(child);
      liveChildren.add(child);
      const forget = () => {
        children.delete(child);
        liveChildren.delete(child);
      };
      child.once('exit', forget);
      child.once('error', forget);
      return child;
    },
    async flushConntrack() {
      await inNat('conntrack', '-F');
    },
    async conntrackTable() {
      return (await run('ip', ['netns', 'exec', nat, 'conntrack', '-L', '-p', 'udp'])).stdout;
    },
    destroy,
  };
}

let probe: Promise<string | undefined> | undefined;

/**
 * Why NAT topologies cannot be built here (not root, a tool missing, namespaces or veths refused), or
 * undefined when they can: builds and destroys one. The answer is cached for the process.
 */
export function netnsUnavailableReason(): Promise<string | undefined> {
  probe ??= (async () => {
    if (process.getuid?.() !== 0) return `network namespaces need root (${INSTALL_HINT})`;
    for (const [tool, arg] of [
      ['ip', '-V'],
      ['iptables', '-V'],
      ['conntrack', '--version'],
      ['sysctl', '--version'],
    ]) {
      const r = await run(tool, [arg]);
      if (r.code !== 0) return `${tool} is not runnable (${INSTALL_HINT}): ${r.stderr.trim()}`;
    }
    try {
      const t = await createNatTopology();
      await t.destroy();
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  })();
  return probe;
}

/** True when createNatTopology() works here; tests skip with netnsUnavailableReason() otherwise. */
export async function canCreateNetns(): Promise<boolean> {
  return (await netnsUnavailableReason()) === undefined;
}
