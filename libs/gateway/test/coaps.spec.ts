// The gateway's DTLS server: PSKs come from the credential store at handshake time, junk identities never
// reach the store, and a store outage fails the handshake without leaking anything to the log.
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DtlsClient, type DtlsServer } from '@lwm2m/dtls';
import { InMemoryCredentialStore } from '@lwm2m/server';
import { UdpTransport } from '@lwm2m/udp';
import { createCoapsServer } from '../src/coaps';
import { validateGatewayConfig } from '../src/config';
import { rawClientHello } from '../../dtls/test/raw-peer';

const KEY = Buffer.from('0f1e2d3c4b5a69788796a5b4c3d2e1f0', 'hex');
let store: InMemoryCredentialStore;
let lookups: string[];
let failing: boolean;
let warnings: string[];
let server: DtlsServer;
let port: number;
const clients: DtlsClient[] = [];

beforeEach(async () => {
  store = new InMemoryCredentialStore();
  await store.put('dev-1', { type: 'psk', identity: 'dev-1-id', key: KEY });
  lookups = [];
  failing = false;
  warnings = [];
  const lookup = store.pskByIdentity.bind(store);
  store.pskByIdentity = async (identity) => {
    lookups.push(identity);
    if (failing) throw new Error('Connection is closed.');
    return lookup(identity);
  };
  const udp = await UdpTransport.bind({ port: 0 });
  port = udp.address().port;
  server = createCoapsServer({
    transport: udp,
    credentials: store,
    config: validateGatewayConfig({}),
    logger: { warn: (m, c) => warnings.push(`${m} ${JSON.stringify(c)}`) },
  });
});

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await server.close();
});

async function handshake(identity: string | Buffer, key: Buffer): Promise<boolean> {
  const client = new DtlsClient({
    transport: await UdpTransport.bind({ port: 0 }),
    psk: { identity, key },
    retransmit: { initialMs: 100, maxMs: 200 },
    handshakeTimeoutMs: 1500,
  });
  clients.push(client);
  return client.connect({ address: '127.0.0.1', port }).then(
    () => true,
    () => false,
  );
}

describe('the gateway DTLS server', () => {
  it('completes a PSK handshake with the key from the credential store', async () => {
    expect(await handshake('dev-1-id', KEY)).toBe(true);
    expect(lookups).toEqual(['dev-1-id']);
    expect(server.sessions()[0]?.identity).toMatchObject({ type: 'psk', identity: 'dev-1-id' });
  });

  it('never asks the store about identities it could not hold (not UTF-8, over 128 bytes)', async () => {
    expect(await handshake(Buffer.from([0xff, 0xfe, 0x41]), KEY)).toBe(false);
    expect(await handshake('x'.repeat(200), KEY)).toBe(false);
    expect(lookups).toEqual([]);
  });

  it('fails the handshake when the store is down, logging neither key nor identity secret', async () => {
    failing = true;
    expect(await handshake('dev-1-id', KEY)).toBe(false);
    expect(warnings.some((w) => w.includes('PSK lookup failed'))).toBe(true);
    for (const w of warnings) expect(w).not.toContain(KEY.toString('hex'));
  });
});

describe('the gateway DTLS abuse limits (DTLS_* settings)', () => {
  it('an unknown identity fails like a wrong key (decrypt_error), counted apart', async () => {
    const client = new DtlsClient({
      transport: await UdpTransport.bind({ port: 0 }),
      psk: { identity: 'nobody-id', key: KEY },
      handshakeTimeoutMs: 3000,
    });
    clients.push(client);
    await expect(client.connect({ address: '127.0.0.1', port })).rejects.toThrow(/decrypt_error/);
    expect(server.counters.pskUnknownIdentities).toBe(1);
  });

  it('takes the HelloVerifyRequest budget from DTLS_HELLO_VERIFY_RATE and refuses bad values', async () => {
    const udp = await UdpTransport.bind({ port: 0 });
    const limited = createCoapsServer({
      transport: udp,
      credentials: store,
      config: validateGatewayConfig({ DTLS_HELLO_VERIFY_RATE: '1' }),
      logger: { warn: () => undefined },
    });
    try {
      const raw = await UdpTransport.bind({ port: 0 });
      let answers = 0;
      raw.onDatagram(() => answers++);
      for (let i = 0; i < 5; i++) await raw.send(rawClientHello(randomBytes(32)), udp.address());
      await new Promise((r) => setTimeout(r, 100));
      await raw.close();
      expect(answers).toBe(2); // burst: twice the rate
      expect(limited.counters.helloVerifyRequestsRateLimited).toBe(3);
    } finally {
      await limited.close();
    }
    expect(validateGatewayConfig({})).toMatchObject({
      DTLS_MAX_HANDSHAKES: 1000,
      DTLS_MAX_HANDSHAKES_PER_ADDRESS: 64,
      DTLS_HALF_OPEN_TIMEOUT_MS: 10_000,
      DTLS_CLIENT_HELLO_RATE: 20,
      DTLS_HELLO_VERIFY_RATE: 10_000,
    });
    expect(() => validateGatewayConfig({ DTLS_HALF_OPEN_TIMEOUT_MS: '5' })).toThrow(
      /DTLS_HALF_OPEN_TIMEOUT_MS/,
    );
    expect(() => validateGatewayConfig({ DTLS_MAX_HANDSHAKES_PER_ADDRESS: '0' })).toThrow(
      /DTLS_MAX_HANDSHAKES_PER_ADDRESS/,
    );
  });
});
