// The gateway's one transport over NoSec UDP and DTLS: which socket a datagram leaves by, and the peer keys.
import { availableParallelism } from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cidRef, type Peer } from '@lwm2m/transport';
import { DtlsServer } from '@lwm2m/dtls';
import { UdpTransport } from '@lwm2m/udp';
import { validateGatewayConfig } from '../src/config';
import { GatewayTransport } from '../src/gateway-transport';
import { sumObjects } from '../src/workers';

let plain: UdpTransport;
let dtls: DtlsServer;
let device: UdpTransport;
let both: GatewayTransport;
const got: Array<{ data: Buffer; from: Peer }> = [];

beforeEach(async () => {
  plain = await UdpTransport.bind({ port: 0 });
  dtls = new DtlsServer({ transport: await UdpTransport.bind({ port: 0 }), psk: () => undefined });
  device = await UdpTransport.bind({ port: 0 });
  device.onDatagram((data, from) => got.push({ data, from }));
  both = new GatewayTransport(plain, dtls);
  got.length = 0;
});

afterEach(async () => {
  await both.close();
  await device.close();
});

describe('GatewayTransport', () => {
  it('sends a NoSec peer plain UDP from the COAP_PORT socket, keyed ip:port', async () => {
    const to = { address: '127.0.0.1', port: device.address().port };
    await both.send(Buffer.from('plain'), to);
    await expect.poll(() => got.length).toBe(1);
    expect(got[0]!.data.toString()).toBe('plain');
    expect(got[0]!.from.port).toBe(plain.address().port);
    expect(both.peerKey(to)).toBe(`127.0.0.1:${to.port}`);
  });

  it('never sends a peer of a DTLS registration in plaintext: without a session the send fails', async () => {
    const to: Peer = { address: '127.0.0.1', port: device.address().port, secure: true };
    await expect(both.send(Buffer.from('secret write'), to)).rejects.toThrow(/no session/);
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toEqual([]);
    expect(both.peerKey(to)).toBe(`coaps:127.0.0.1:${to.port}`);
  });

  it('refuses NoSec sends when COAP_NOSEC=false left no plain socket', async () => {
    const dtlsOnly = new GatewayTransport(undefined, dtls);
    await expect(dtlsOnly.send(Buffer.from('x'), { address: '127.0.0.1', port: 9 })).rejects.toThrow(
      /disabled/,
    );
  });

  it('finds the CID session of a registration through the cluster hook, never falling back to plaintext', async () => {
    const asked: string[] = [];
    const clustered = new GatewayTransport(plain, dtls, async (cid) => {
      asked.push(cid);
      return false;
    });
    const to: Peer = {
      address: '127.0.0.1',
      port: device.address().port,
      secure: true,
      ref: cidRef('0a0b0c0d0e0f1011'),
    };
    expect(clustered.peerKey(to)).toBe('coaps:cid:0a0b0c0d0e0f1011');
    await expect(clustered.send(Buffer.from('secret'), to)).rejects.toThrow(/no session/);
    expect(asked).toEqual(['0a0b0c0d0e0f1011']);
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toEqual([]);
  });
});

describe('gateway configuration of worker threads', () => {
  it('defaults GATEWAY_WORKERS to 1, takes 1..256, and refuses CIDs too short to name a worker', () => {
    expect(validateGatewayConfig({}).GATEWAY_WORKERS).toBe(1);
    expect(validateGatewayConfig({ GATEWAY_WORKERS: '4' }).GATEWAY_WORKERS).toBe(4);
    expect(validateGatewayConfig({ GATEWAY_WORKERS: '4', DTLS_CID_LENGTH: '0' }).GATEWAY_WORKERS).toBe(4);
    for (const bad of ['0', '257', '1.5', 'all'])
      expect(() => validateGatewayConfig({ GATEWAY_WORKERS: bad })).toThrow(/GATEWAY_WORKERS/);
    expect(() => validateGatewayConfig({ GATEWAY_WORKERS: '2', DTLS_CID_LENGTH: '7' })).toThrow(
      /GATEWAY_WORKERS > 1 needs DTLS_CID_LENGTH 0 or >= 8/,
    );
    // one worker: a 7-byte cluster CID is still fine
    expect(validateGatewayConfig({ DTLS_CID_LENGTH: '7' }).DTLS_CID_LENGTH).toBe(7);
  });

  it('reads GATEWAY_WORKERS=auto as the cores this process is given', () => {
    expect(validateGatewayConfig({ GATEWAY_WORKERS: 'auto' }).GATEWAY_WORKERS).toBe(availableParallelism());
    expect(validateGatewayConfig({ GATEWAY_WORKERS: ' AUTO ' }).GATEWAY_WORKERS).toBe(availableParallelism());
    expect(() => validateGatewayConfig({ GATEWAY_WORKERS: 'autox' })).toThrow(/GATEWAY_WORKERS/);
  });
});

describe("summing the workers' counters (GATEWAY_WORKERS /metrics)", () => {
  it('adds numbers leaf by leaf, keeps keys only some workers have, and skips absent parts', () => {
    expect(sumObjects([undefined, undefined])).toBeUndefined();
    expect(sumObjects([3, undefined, 4])).toBe(7);
    expect(
      sumObjects([
        { sessions: 2, nested: { a: 1 } },
        { sessions: 3, nested: { a: 2, b: 5 }, extra: 1 },
      ]),
    ).toEqual({ sessions: 5, nested: { a: 3, b: 5 }, extra: 1 });
  });
});

describe('gateway configuration of CoAP over DTLS', () => {
  it('defaults to NoSec on, 8-byte CIDs, PSK only; COAP_NOSEC=false turns 5683 off', () => {
    expect(validateGatewayConfig({})).toMatchObject({
      COAPS_PORT: 5684,
      COAP_NOSEC: true,
      DTLS_CID_LENGTH: 8,
    });
    expect(validateGatewayConfig({}).DTLS_KEY_FILE).toBeUndefined();
    expect(validateGatewayConfig({ COAP_NOSEC: 'false', DTLS_CID_LENGTH: '0' })).toMatchObject({
      COAP_NOSEC: false,
      DTLS_CID_LENGTH: 0,
    });
    expect(() => validateGatewayConfig({ COAP_NOSEC: 'maybe' })).toThrow(/COAP_NOSEC must be on or off/);
    expect(() => validateGatewayConfig({ DTLS_CID_LENGTH: '40' })).toThrow(/DTLS_CID_LENGTH/);
  });
});
