// The LwM2M device simulator CLI: one or many simulated clients (objects 0, 1, 3, 3303) against a server.
//   npx tsx apps/simulator/src/main.ts --server 127.0.0.1:5683 --endpoint sim-1 --count 1 \
//     --version 1.1 --format senml-cbor --lifetime 300 [--queue]
// With --count N > 1 the endpoints are "<endpoint>-1".."<endpoint>-N". Ctrl-C de-registers and exits.
// CoAP over DTLS (LwM2M TS 1.2 Transport 5.2), client role of libs/dtls:
//   --server coaps://127.0.0.1:5684 --psk-key 00112233... [--psk-identity id]   (identity: the endpoint name)
//   --server coaps://127.0.0.1:5684 --rpk-key device-key.pem [--server-key server-public.pem]
//   --cid off   classic DTLS without RFC 9146 Connection ID (default on: the device keeps its session
//               across NAT rebinding)
// Bootstrap first (LwM2M TS 1.2 Core 6.1.3), then register with the server account it wrote (--count 1):
//   --bootstrap coap://127.0.0.1:5783
//   --bootstrap coaps://127.0.0.1:5784 --psk-identity factory-id --psk-key 0011...   (the bootstrap credential)
//   --bootstrap coap://127.0.0.1:5783 --oscore-secret .. --oscore-sender .. --oscore-recipient ..   (OSCORE
//               with the Bootstrap-Server: the context is the bootstrap credential, as --psk-* is on coaps)
// LwM2M over OSCORE (RFC 8613) on CoAP (--count 1), ids from the DEVICE's point of view (--oscore-sender is
// the device's Sender ID, the kid the server looks up: the server's recipientId in its credential):
//   --oscore-secret 0102...10 --oscore-sender a1 --oscore-recipient 01 [--oscore-salt hex] [--oscore-context hex]
// More objects from their models (DDF XML): --objects 3328,3303 plays the newest version of each found in
// --models-dir (default the vendored OMNA registry, models/omna), instance 0 with default values.
// Firmware Update (object 5): --firmware plays it (push to /5/0/0, pull from /5/0/1, Execute /5/0/2), with
//   --fw-speed bytes/s, --fw-failure-rate 0..1, --fw-failure-result code (default 8), --fw-update-ms ms;
//   any --fw-* implies --firmware. One device draws a progress bar on stderr. --software plays object 9
//   (Software Management: /9/0/2 push, /9/0/3 pull, Install, Activate, Deactivate, Uninstall) alike.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { DatagramTransport } from '@lwm2m/coap';
import { compareVersions, loadModelDirectories, type ObjectModel, vendoredModelsDir } from '@lwm2m/lwm2m';
import {
  BootstrapClient,
  createDtlsTransport,
  peerOfUri,
  SimulatedDevice as Device,
  DeviceFleet,
  type DeviceOscore,
  type DeviceSecurity,
  type FirmwareOptions,
  type FirmwareProgress,
  type Lwm2mVersion,
  PATCH_NOTIFICATIONS,
  type PatchNotifications,
  progressBar,
  PREFERRED_FORMATS,
  publicKeyOf,
  type SimulatedDevice,
} from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';

const USAGE = `usage: main.ts [--server host:port] [--endpoint name] [--count n] [--rate per-second]
               [--version 1.0|1.1|1.2] [--format tlv|senml-json|senml-cbor|lwm2m-cbor]
               [--lifetime seconds] [--queue] [--awake ms] [--sleep ms] [--quiet]
               [--psk-key hex [--psk-identity id] | --rpk-key pem-file [--server-key pem-file]]
               [--cid on|off]       (--server coaps://host:port for CoAP over DTLS)
               [--bootstrap coap[s]://host:port]  (bootstrap first; --psk-* on coaps, or --oscore-* on
                                                   coap, is then the bootstrap credential)
               [--oscore-secret hex --oscore-sender hex --oscore-recipient hex [--oscore-salt hex]
                [--oscore-context hex]]   (OSCORE on coap://, --count 1)
               [--objects id,id,... [--models-dir dir]]   (more objects, from DDF models)
               [--patch-notifications etch-json|etch-cbor|senml]  (notifications carry only what changed)
               [--firmware] [--fw-speed bytes/s] [--fw-failure-rate 0..1] [--fw-failure-result code]
               [--fw-update-ms ms]   (object 5, Firmware Update)
               [--software]   (object 9, Software Management, with the --fw-* settings)`;

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

/** The models of `--objects` (newest version of each id) from `--models-dir` or the vendored registry. */
function objectModels(objects: string | undefined, dir: string | undefined): ObjectModel[] {
  if (objects === undefined) return [];
  const ids = objects.split(',').map((s) => s.trim());
  if (ids.some((id) => !/^[0-9]{1,5}$/.test(id) || Number(id) > 65535))
    fail('--objects must be object ids separated by commas');
  let all: ObjectModel[];
  try {
    all = loadModelDirectories([dir ?? vendoredModelsDir()]).models;
  } catch (err) {
    fail(`--models-dir: ${(err as Error).message}`);
  }
  return ids.map((id) => {
    const versions = all
      .filter((m) => m.id === Number(id))
      .sort((a, b) => compareVersions(a.version, b.version));
    return versions.at(-1) ?? fail(`--objects: no model of object ${id} in ${dir ?? vendoredModelsDir()}`);
  });
}

function parse() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        server: { type: 'string', default: '127.0.0.1:5683' },
        endpoint: { type: 'string', default: 'sim-1' },
        count: { type: 'string', default: '1' },
        rate: { type: 'string', default: '50' },
        version: { type: 'string', default: '1.1' },
        format: { type: 'string' },
        lifetime: { type: 'string', default: '300' },
        queue: { type: 'boolean', default: false },
        awake: { type: 'string' },
        sleep: { type: 'string' },
        quiet: { type: 'boolean', default: false },
        'psk-identity': { type: 'string' },
        'psk-key': { type: 'string' },
        'rpk-key': { type: 'string' },
        'server-key': { type: 'string' },
        cid: { type: 'string', default: 'on' },
        bootstrap: { type: 'string' },
        objects: { type: 'string' },
        'models-dir': { type: 'string' },
        'patch-notifications': { type: 'string' },
        'oscore-secret': { type: 'string' },
        'oscore-sender': { type: 'string' },
        'oscore-recipient': { type: 'string' },
        'oscore-salt': { type: 'string' },
        'oscore-context': { type: 'string' },
        firmware: { type: 'boolean', default: false },
        software: { type: 'boolean', default: false },
        'fw-speed': { type: 'string' },
        'fw-failure-rate': { type: 'string' },
        'fw-failure-result': { type: 'string' },
        'fw-update-ms': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    fail(String((err as Error).message));
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  if (values.bootstrap !== undefined) {
    // The Bootstrap-Server's address takes --server's place; the LwM2M server comes from the bootstrap.
    if (values.count !== '1') fail('--bootstrap runs one device: use it with --count 1');
    values.server = values.bootstrap;
  }
  const scheme = /^(coaps?):\/\//.exec(values.server)?.[1];
  const secure = scheme === 'coaps' || values['psk-key'] !== undefined || values['rpk-key'] !== undefined;
  const hostPort = values.server.replace(/^coaps?:\/\//, '');
  const m = /^\[?([^\]]+?)\]?(?::(\d{1,5}))?$/.exec(hostPort);
  if (!m || Number(m[2] ?? 0) > 65535) fail(`--server must be [coap[s]://]host:port, got "${values.server}"`);
  const port = m[2] !== undefined ? Number(m[2]) : secure ? 5684 : 5683;
  if (!['on', 'off'].includes(values.cid)) fail('--cid must be on or off');
  let security: (Omit<DeviceSecurity, 'psk'> & { pskKey?: Buffer; pskIdentity?: string }) | undefined;
  if (secure) {
    if ((values['psk-key'] === undefined) === (values['rpk-key'] === undefined)) {
      fail('coaps needs exactly one of --psk-key (hex) or --rpk-key (PEM file)');
    }
    security = { connectionId: values.cid === 'on' };
    if (values['psk-key'] !== undefined) {
      if (!/^(?:[0-9a-fA-F]{2}){1,64}$/.test(values['psk-key'])) fail('--psk-key must be 1..64 bytes of hex');
      security.pskKey = Buffer.from(values['psk-key'], 'hex');
      if (values['psk-identity'] !== undefined) security.pskIdentity = values['psk-identity'];
    } else {
      let privateKey: string;
      let serverPublicKey: Buffer | undefined;
      try {
        privateKey = readFileSync(values['rpk-key']!, 'utf8');
        publicKeyOf(privateKey);
        if (values['server-key'] !== undefined)
          serverPublicKey = publicKeyOf(readFileSync(values['server-key'], 'utf8'));
      } catch (err) {
        fail(`--rpk-key/--server-key: ${(err as Error).message}`);
      }
      security.rpk = { privateKey, ...(serverPublicKey ? { serverPublicKey } : {}) };
    }
  }
  const oscore = parseOscore(values);
  if (oscore !== undefined && secure) fail('--oscore-* runs on coap:// (not with coaps)');
  const version = values.version as Lwm2mVersion;
  if (!['1.0', '1.1', '1.2'].includes(version)) fail('--version must be 1.0, 1.1 or 1.2');
  const format = values.format === undefined ? undefined : PREFERRED_FORMATS[values.format];
  if (values.format !== undefined && format === undefined) {
    fail(`--format must be one of ${Object.keys(PREFERRED_FORMATS).join(', ')}`);
  }
  const patch = values['patch-notifications'] as PatchNotifications | undefined;
  if (patch !== undefined && !PATCH_NOTIFICATIONS.includes(patch))
    fail(`--patch-notifications must be one of ${PATCH_NOTIFICATIONS.join(', ')}`);
  const int = (name: string, v: string | undefined, min: number): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer >= ${min}`);
    return n;
  };
  const fwRate = values['fw-failure-rate'] === undefined ? undefined : Number(values['fw-failure-rate']);
  if (fwRate !== undefined && !(fwRate >= 0 && fwRate <= 1)) fail('--fw-failure-rate must be in 0..1');
  const fwResult = int('fw-failure-result', values['fw-failure-result'], 2);
  if (fwResult !== undefined && fwResult > 11) fail('--fw-failure-result must be an Update Result 2..11');
  const fwFlags = ['fw-speed', 'fw-failure-rate', 'fw-failure-result', 'fw-update-ms'] as const;
  const firmware: FirmwareOptions | undefined =
    values.firmware || fwFlags.some((f) => values[f] !== undefined)
      ? {
          ...(values['fw-speed'] !== undefined
            ? { bytesPerSecond: int('fw-speed', values['fw-speed'], 1) }
            : {}),
          ...(fwRate !== undefined ? { failureRate: fwRate } : {}),
          ...(fwResult !== undefined ? { failureResult: fwResult } : {}),
          ...(values['fw-update-ms'] !== undefined
            ? { updateMs: int('fw-update-ms', values['fw-update-ms'], 0) }
            : {}),
        }
      : undefined;
  return {
    firmware,
    // Object 9 takes the same speed, failure rate (of Install) and duration.
    software: values.software ? (firmware ?? {}) : undefined,
    host: m[1]!,
    port,
    security,
    endpoint: values.endpoint,
    count: int('count', values.count, 1)!,
    rate: int('rate', values.rate, 0)!,
    version,
    format,
    formatName: values.format,
    lifetime: int('lifetime', values.lifetime, 1)!,
    queue: values.queue,
    awake: int('awake', values.awake, 1),
    sleep: int('sleep', values.sleep, 1),
    quiet: values.quiet,
    bootstrap: values.bootstrap !== undefined,
    models: objectModels(values.objects, values['models-dir']),
    oscore,
    patch,
  };
}

/** --oscore-*: the device's OSCORE context (RFC 8613 section 3.2 inputs), or undefined when none is given. */
function parseOscore(v: Record<string, string | boolean | undefined>): DeviceOscore | undefined {
  const names = ['oscore-secret', 'oscore-sender', 'oscore-recipient', 'oscore-salt', 'oscore-context'];
  if (names.every((n) => v[n] === undefined)) return undefined;
  const hex = (name: string, min: number, max: number): Buffer | undefined => {
    const value = v[name];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || !new RegExp(`^(?:[0-9a-fA-F]{2}){${min},${max}}$`).test(value))
      fail(`--${name} must be ${min}..${max} bytes of hex`);
    return Buffer.from(value, 'hex');
  };
  const masterSecret = hex('oscore-secret', 16, 64);
  const senderId = hex('oscore-sender', 0, 7);
  const recipientId = hex('oscore-recipient', 0, 7);
  if (masterSecret === undefined || senderId === undefined || recipientId === undefined)
    fail('OSCORE needs --oscore-secret, --oscore-sender and --oscore-recipient');
  if (senderId.equals(recipientId)) fail('--oscore-sender and --oscore-recipient must differ');
  if (v.count !== '1') fail('--oscore-* gives every device the same context: use it with --count 1');
  const masterSalt = hex('oscore-salt', 0, 64);
  const idContext = hex('oscore-context', 0, 32);
  return {
    masterSecret,
    senderId,
    recipientId,
    ...(masterSalt !== undefined ? { masterSalt } : {}),
    ...(idContext !== undefined ? { idContext } : {}),
  };
}

function log(line: string): void {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
}

/**
 * Object 5's progress: one device draws a bar on stderr (redrawn in place on a terminal, a line per 10 %
 * otherwise); every device logs its State and Update Result changes.
 */
function attachFirmware(device: SimulatedDevice, bar: boolean): void {
  const fw = device.firmware;
  if (fw === undefined) return;
  const ep = device.endpointName;
  fw.on('state', (s) => log(`${ep} firmware state ${s.state} result ${s.result}`));
  fw.on('downloaded', (p) =>
    log(`${ep} firmware downloaded by ${p.mode}: ${p.size} bytes, sha256 ${p.sha256}`),
  );
  if (!bar) return;
  const tty = process.stderr.isTTY === true;
  let lastTenth = -1;
  let lastDraw = 0;
  const draw = (p: FirmwareProgress): void => {
    const done = p.total !== undefined && p.received >= p.total;
    if (tty) {
      const now = Date.now();
      if (!done && now - lastDraw < 100) return;
      lastDraw = now;
      process.stderr.write(`\r${ep} ${progressBar(p)}${done ? '\n' : ''}`);
      return;
    }
    const tenth = p.total ? Math.floor((p.received / p.total) * 10) : -1;
    if (tenth === lastTenth && !done) return;
    lastTenth = tenth;
    process.stderr.write(`${ep} ${progressBar(p)}\n`);
  };
  fw.on('progress', draw);
}

function attachSoftware(device: SimulatedDevice): void {
  const ep = device.endpointName;
  device.software?.on('state', (s) =>
    log(`${ep} software state ${s.state} result ${s.result}${s.active ? ' active' : ''}`),
  );
}

function attach(device: SimulatedDevice, quiet: boolean, bar = false): void {
  const ep = device.endpointName;
  attachFirmware(device, bar);
  attachSoftware(device);
  device.on('registered', (e) => log(`${ep} registered at /${e.location.join('/')}`));
  device.on('failure', (e) => log(`${ep} ${e.operation} failed: ${e.error}`));
  if (quiet) return;
  device.on('updated', (e) => log(`${ep} update -> ${e.code}`));
  device.on('deregistered', () => log(`${ep} de-registered`));
  device.on('execute', (e) => log(`${ep} execute ${e.path}${e.args ? ` args=${e.args}` : ''}`));
  device.on('write', (e) => log(`${ep} write ${e.path} (${e.replace ? 'replace' : 'partial update'})`));
  device.on('create', (e) => log(`${ep} create ${e.path}`));
  device.on('delete', (e) => log(`${ep} delete ${e.path}`));
  device.on('writeAttributes', (e) => log(`${ep} write-attributes ${e.path}`));
  device.on('notification', (e) => log(`${ep} notify /${e.resource} (${e.observers} observer(s))`));
  device.on('sleep', () => log(`${ep} sleeping`));
  device.on('wake', () => log(`${ep} awake`));
}

/** The device's DTLS client; a PSK identity defaults to the device's endpoint name. */
function secured(
  udp: DatagramTransport,
  s: NonNullable<ReturnType<typeof parse>['security']>,
  endpoint: string,
): DatagramTransport {
  const { pskKey, pskIdentity, ...rest } = s;
  return createDtlsTransport(udp, {
    ...rest,
    ...(pskKey ? { psk: { identity: pskIdentity ?? endpoint, key: pskKey } } : {}),
  });
}

/** --bootstrap: Bootstrap-Request, the server's writes applied, then Register with the account written. */
async function bootstrapThenRegister(a: ReturnType<typeof parse>): Promise<void> {
  const bind = () =>
    UdpTransport.bind({
      address: a.host.includes(':') ? '::' : '0.0.0.0',
      port: 0,
      type: a.host.includes(':') ? 'udp6' : 'udp4',
    });
  const client = new BootstrapClient({
    endpoint: a.endpoint,
    transport: a.security ? secured(await bind(), a.security, a.endpoint) : await bind(),
    servers: [{ address: a.host, port: a.port }],
    ...(a.format !== undefined ? { preferredContentFormat: a.format } : {}),
    // --oscore-* with --bootstrap coap://: the context with the Bootstrap-Server (its account's /21/0).
    ...(a.oscore !== undefined ? { oscore: a.oscore } : {}),
  });
  log(
    `${a.endpoint} bootstrapping from ${a.security ? 'coaps' : 'coap'}://${a.host}:${a.port}${a.oscore ? ` over OSCORE (kid ${a.oscore.senderId.toString('hex')})` : ''}`,
  );
  const outcome = await client.run().finally(() => client.close());
  const account = outcome.servers[0];
  if (account === undefined) fail('the bootstrap wrote no LwM2M Server account');
  log(
    `${a.endpoint} bootstrapped: server ${account.shortServerId} ${account.uri} (security mode ${account.securityMode})`,
  );
  const udp = await bind();
  const device = new Device({
    endpoint: a.endpoint,
    transport: account.psk
      ? createDtlsTransport(udp, { psk: account.psk })
      : account.rpk
        ? createDtlsTransport(udp, { rpk: account.rpk })
        : account.x509
          ? createDtlsTransport(udp, {
              x509: {
                certificate: account.x509.certificate,
                privateKey: account.x509.privateKey,
                // /0/x/4: the server's certificate, trusted as it is (Certificate Usage 3, domain-issued).
                trustAnchors: account.x509.serverCertificate ? [account.x509.serverCertificate] : [],
              },
            })
          : udp,
    // An OSCORE account (/0/x/17 -> /21): Register and the rest over coap:// protected with that context.
    ...(account.oscore ? { oscore: account.oscore } : {}),
    server: peerOfUri(account.uri),
    lwm2mVersion: a.version,
    ...(a.format !== undefined ? { contentFormat: a.format } : {}),
    lifetime: account.lifetime ?? a.lifetime,
    bootstrapped: outcome.objects,
    requestTimeoutMs: 30_000,
    ...(a.patch !== undefined ? { patchNotifications: a.patch } : {}),
    ...(a.firmware ? { firmware: a.firmware } : {}),
    ...(a.software ? { software: a.software } : {}),
  });
  attach(device, a.quiet, true);
  device.on('bootstrapTrigger', () => log(`${a.endpoint} bootstrap requested by the server (/1/0/9)`));
  process.on('SIGINT', () => void device.stop().finally(() => process.exit(0)));
  process.on('SIGTERM', () => void device.stop().finally(() => process.exit(0)));
  await device.start();
}

async function main(): Promise<void> {
  const a = parse();
  if (a.bootstrap) {
    await bootstrapThenRegister(a).catch((err: unknown) => {
      log(`${a.endpoint} bootstrap failed: ${(err as Error).message}`);
      process.exit(1);
    });
    return;
  }
  if (a.security?.rpk) {
    if (a.count > 1) fail('--rpk-key gives every device the same key: use it with --count 1');
    // What the operator provisions: PUT /api/v1/devices/{endpoint}/credentials {"rpk":{"publicKey": ...}}.
    log(`device public key (SPKI, base64): ${publicKeyOf(a.security.rpk.privateKey).toString('base64')}`);
    if (!a.security.rpk.serverPublicKey) log('warning: no --server-key: any server key is accepted');
  }
  const single = a.count === 1;
  const fleet = new DeviceFleet({
    prefix: a.endpoint,
    // One device keeps the plain endpoint name.
    ...(single ? { name: () => a.endpoint } : {}),
    count: a.count,
    ratePerSecond: a.rate,
    server: { address: a.host, port: a.port },
    lwm2mVersion: a.version,
    contentFormat: a.format,
    lifetime: a.lifetime,
    queueMode: a.queue,
    awakeWindowMs: a.awake,
    sleepMs: a.sleep,
    requestTimeoutMs: 30_000,
    models: a.models,
    ...(a.firmware ? { firmware: a.firmware } : {}),
    ...(a.software ? { software: a.software } : {}),
    ...(a.oscore !== undefined ? { oscore: a.oscore } : {}),
    ...(a.patch !== undefined ? { patchNotifications: a.patch } : {}),
    createTransport: async (index) => {
      const udp = await UdpTransport.bind({
        address: a.host.includes(':') ? '::' : '0.0.0.0',
        port: 0,
        type: a.host.includes(':') ? 'udp6' : 'udp4',
      });
      return a.security ? secured(udp, a.security, single ? a.endpoint : `${a.endpoint}-${index}`) : udp;
    },
  });
  fleet.on('created', (d) => attach(d, a.quiet, single));
  fleet.on('failed', (e) => log(`${e.endpoint} failed to start: ${e.error}`));
  log(
    `simulating ${a.count} LwM2M ${a.version} client(s) -> ${a.security ? 'coaps' : 'coap'}://${a.host}:${a.port} ` +
      `(lifetime ${a.lifetime}s${a.oscore ? `, OSCORE kid ${a.oscore.senderId.toString('hex')}` : ''}${a.security ? `, DTLS ${a.security.rpk ? 'RPK' : 'PSK'} CID ${a.security.connectionId ? 'on' : 'off'}` : ''}${a.queue ? ', queue mode' : ''}${a.formatName ? `, format ${a.formatName}` : ''})`,
  );
  let stopping = false;
  const shutdown = async (): Promise<void> => {
    // A second Ctrl-C, or a server that does not answer within 5 s, ends it at once.
    if (stopping) process.exit(130);
    stopping = true;
    setTimeout(() => process.exit(1), 5000).unref();
    log('stopping: de-registering');
    await fleet.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
  const result = await fleet.start();
  log(`${result.started} started, ${result.failed} failed in ${result.elapsedMs} ms`);
  if (result.started === 0) {
    await fleet.stop();
    process.exit(1);
  }
}

void main();
