// Issue 4 acceptance (gateway side): CoAP over DTLS on COAPS_PORT with PSKs from the credential store set
// through the REST API. A device registers over coaps and is managed like any other; a Register for another
// endpoint with that PSK gets 4.03; libcoap's coap-client-openssl (written by others) registers with -k/-u.
import { randomBytes } from 'node:crypto';
import { Logger, type LoggerService } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CoapCode,
  CoapEndpoint,
  CoapType,
  createMessage,
  decodeMessage,
  encodeMessage,
  formatCode,
  OptionNumber,
} from '@lwm2m/coap';
import { dtls } from 'node-dtls-client';
import { DtlsClient } from '@lwm2m/dtls';
import { ContentFormat } from '@lwm2m/lwm2m';
import { SimulatedDevice } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import { CoapServerService } from '../../apps/gateway/src/coap-server.service';
import { runCoapClient } from '../support/libcoap';
import { openSse } from '../support/sse';
import { startTestServer, type TestServer } from '../support/single-node';

const KEY = randomBytes(16);
let server: TestServer;

/** Every line the gateway and api log from here on, at every level. */
const logLines: string[] = [];
const capture: LoggerService = Object.fromEntries(
  ['log', 'error', 'warn', 'debug', 'verbose', 'fatal'].map((level) => [
    level,
    (...args: unknown[]) => logLines.push(`${level} ${args.map(String).join(' ')}`),
  ]),
) as unknown as LoggerService;

beforeAll(async () => {
  server = await startTestServer();
  Logger.overrideLogger(capture);
  const put = await server.api('PUT', '/api/v1/devices/coaps-dev/credentials', {
    psk: { identity: 'coaps-id', key: KEY.toString('hex') },
  });
  expect(put.status).toBe(201);
});

afterAll(async () => {
  await server?.stop();
  Logger.overrideLogger(false);
});

async function dtlsClient(psk: { identity: string; key: Buffer }, connectionId = true): Promise<DtlsClient> {
  return new DtlsClient({ transport: await UdpTransport.bind({ port: 0 }), psk, connectionId });
}

interface Device {
  endpoint: string;
  security: string;
  /** "ip:port" */
  address: string;
}

describe('a device with a PSK set through the REST API', () => {
  let dev: SimulatedDevice;
  let transport: DtlsClient;
  let rebindable: UdpTransport;

  beforeAll(async () => {
    rebindable = await UdpTransport.bind({ port: 0 });
    transport = new DtlsClient({ transport: rebindable, psk: { identity: 'coaps-id', key: KEY } });
    dev = new SimulatedDevice({
      endpoint: 'coaps-dev',
      transport,
      server: { address: '127.0.0.1', port: server.coapsPort },
      lifetime: 60,
      lwm2mVersion: '1.1',
      contentFormat: ContentFormat.SENML_CBOR,
      updateAt: 0,
      sensorIntervalMs: 100,
      observeTickMs: 50,
    });
    await dev.start();
  });

  afterAll(async () => {
    await dev?.close();
  });

  it('registers over coaps with a Connection ID and is listed with security "psk"', async () => {
    const res = await server.api<Device>('GET', '/api/v1/devices/coaps-dev');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ endpoint: 'coaps-dev', security: 'psk' });
    const session = server.node.gateway.get(CoapServerService).dtls!.sessions()[0]!;
    expect(session.identity).toMatchObject({ type: 'psk', identity: 'coaps-id' });
    expect(session.cid?.length).toBe(8);
  });

  it('is read over the DTLS session by the api (a server-initiated request)', async () => {
    const res = await server.api<{ values: Array<{ path: string; value: unknown }> }>(
      'GET',
      '/api/v1/devices/coaps-dev/data/3/0/0',
    );
    expect(res.status).toBe(200);
    expect(res.body.values[0]).toMatchObject({ path: '/3/0/0', value: 'Open Mobile Alliance' });
  });

  it('survives a NAT rebinding: same session, no new handshake, the observation keeps notifying', async () => {
    const svc = server.node.gateway.get(CoapServerService);
    const handshakes = svc.dtls!.counters.handshakesCompleted;
    const before = (await server.api<Device>('GET', '/api/v1/devices/coaps-dev')).body.address;
    const sse = await openSse(`${server.http}/api/v1/events?endpoint=coaps-dev`);
    try {
      const obs = await server.api('POST', '/api/v1/devices/coaps-dev/observations', {
        paths: ['/3303/0/5700'],
      });
      expect(obs.status).toBe(201);
      await sse.waitFor((e) => e.event === 'notification', 2);
      const old = rebindable;
      rebindable = await UdpTransport.bind({ port: 0 });
      transport.setTransport(rebindable); // RFC 9146 section 6: a newer CID record from the new port moves the peer
      await old.close();
      const seen = sse.events.length;
      await sse.waitFor(
        (e) => e.event === 'notification',
        sse.events.filter((e) => e.event === 'notification').length + 2,
      );
      expect(sse.events.length).toBeGreaterThan(seen);
    } finally {
      sse.close();
    }
    // The notifications from the new port moved the registration's address (every uplink touches it).
    const moved = `127.0.0.1:${rebindable.address().port}`;
    await expect
      .poll(async () => (await server.api<Device>('GET', '/api/v1/devices/coaps-dev')).body.address)
      .toBe(moved);
    expect(moved).not.toBe(before);
    expect(await dev.update()).toBe(CoapCode.CHANGED);
    const read = await server.api('GET', '/api/v1/devices/coaps-dev/data/3/0/0');
    expect(read.status).toBe(200);
    expect(svc.dtls!.counters.handshakesCompleted).toBe(handshakes);
  });

  it('gets 4.03 with a diagnostic for a Register of another endpoint with the same PSK, which is counted', async () => {
    const client = await dtlsClient({ identity: 'coaps-id', key: KEY }, false);
    const coap = new CoapEndpoint({ transport: client });
    try {
      const res = await coap.request(
        { address: '127.0.0.1', port: server.coapsPort },
        {
          code: CoapCode.POST,
          path: '/rd',
          query: ['ep=someone-else', 'lt=60', 'lwm2m=1.1'],
          payload: '</1/0>,</3/0>',
          contentFormat: ContentFormat.LINK,
        },
      );
      expect(formatCode(res.code)).toBe('4.03');
      expect(res.payload.toString()).toMatch(/"someone-else" is not the endpoint of this PSK credential/);
    } finally {
      await coap.close();
    }
    expect((await server.api('GET', '/api/v1/devices/someone-else')).status).toBe(404);
    const svc = server.node.gateway.get(CoapServerService);
    expect(svc.server!.registration.binding.counters.mismatches).toBe(1);
  });

  it('gets no session with a wrong key, and no registration', async () => {
    const client = await dtlsClient({ identity: 'coaps-id', key: randomBytes(16) });
    const coap = new CoapEndpoint({ transport: client, params: { ackTimeout: 0.2, maxRetransmit: 1 } });
    try {
      const attempt = coap.request(
        { address: '127.0.0.1', port: server.coapsPort },
        { code: CoapCode.POST, path: '/rd', query: ['ep=coaps-dev'], payload: '</1/0>' },
        { timeout: 1500 },
      );
      await expect(attempt).rejects.toThrow();
    } finally {
      await coap.close();
    }
  });
});

describe('interop: node-dtls-client (TLS_PSK_WITH_AES_128_CCM_8) registering with the gateway', () => {
  it('registers by a hand-built CoAP POST /rd and gets 2.01 with the Location-Path', async () => {
    const secret = 'ndc-secret-0001';
    await server.api('PUT', '/api/v1/devices/ndc-dev/credentials', {
      psk: { identity: 'ndc-id', key: Buffer.from(secret).toString('hex') },
    });
    const socket = dtls.createSocket({
      type: 'udp4',
      address: '127.0.0.1',
      port: server.coapsPort,
      psk: { 'ndc-id': secret },
      ciphers: ['TLS_PSK_WITH_AES_128_CCM_8'],
      timeout: 5000,
    } as dtls.Options);
    try {
      await new Promise<void>((resolve, reject) => {
        socket.on('connected', () => resolve());
        socket.on('error', reject);
      });
      const req = createMessage({
        type: CoapType.CON,
        code: CoapCode.POST,
        messageId: 0x4242,
        token: Buffer.from([9, 8, 7, 6]),
        options: [
          { number: OptionNumber.URI_PATH, value: Buffer.from('rd') },
          { number: OptionNumber.CONTENT_FORMAT, value: Buffer.from([ContentFormat.LINK]) },
          { number: OptionNumber.URI_QUERY, value: Buffer.from('ep=ndc-dev') },
          { number: OptionNumber.URI_QUERY, value: Buffer.from('lt=300') },
        ],
        payload: Buffer.from('</1/0>,</3/0>'),
      });
      const answer = new Promise<Buffer>((resolve) => socket.on('message', (m: Buffer) => resolve(m)));
      socket.send(encodeMessage(req));
      const res = decodeMessage(await answer);
      expect(res.messageId).toBe(0x4242);
      expect(formatCode(res.code)).toBe('2.01');
      const location = res.options.filter((o) => o.number === OptionNumber.LOCATION_PATH);
      expect(location[0]?.value.toString()).toBe('rd');
    } finally {
      socket.close();
    }
    const got = await server.api<Device>('GET', '/api/v1/devices/ndc-dev');
    expect(got.body).toMatchObject({ endpoint: 'ndc-dev', security: 'psk' });
  });
});

describe('interop: libcoap coap-client-openssl registering over coaps with -k/-u', () => {
  it('registers with a PSK from the credential store and shows up in the REST API', async () => {
    const key = 'libcoap-dtls-key';
    const put = await server.api('PUT', '/api/v1/devices/libcoap-dtls/credentials', {
      psk: { identity: 'libcoap-id', key: Buffer.from(key).toString('hex') },
    });
    expect(put.status).toBe(201);
    const uri = `coaps://127.0.0.1:${server.coapsPort}/rd?ep=libcoap-dtls&lt=300&lwm2m=1.1&b=U`;
    const run = await runCoapClient(
      ['-m', 'post', '-t', '40', '-e', '</1/0>,</3/0>', '-B', '5', '-k', key, '-u', 'libcoap-id', uri],
      'openssl',
    );
    expect(run.code).toBe(0);
    const res = await server.api<Device>('GET', '/api/v1/devices/libcoap-dtls');
    expect(res.status).toBe(200);
    expect(res.body.security).toBe('psk');
  });

  it('gets 4.03 when it registers another endpoint name with that PSK', async () => {
    const run = await runCoapClient(
      [
        '-m',
        'post',
        '-v',
        '4',
        '-B',
        '5',
        '-k',
        'libcoap-dtls-key',
        '-u',
        'libcoap-id',
        `coaps://127.0.0.1:${server.coapsPort}/rd?ep=not-libcoap&lt=300`,
      ],
      'openssl',
    );
    expect(run.stdout + run.stderr).toMatch(/4\.03/);
    expect((await server.api('GET', '/api/v1/devices/not-libcoap')).status).toBe(404);
  });
});

describe('the pre-shared keys', () => {
  it('appear in no log line of the gateway or the api', () => {
    // The refused Register above was logged with the identity's name, never its key.
    expect(logLines.some((l) => l.includes('registration refused') && l.includes('psk:coaps-id'))).toBe(true);
    for (const line of logLines) {
      expect(line).not.toContain(KEY.toString('hex'));
      expect(line).not.toContain(Buffer.from('libcoap-dtls-key').toString('hex'));
    }
  });
});
