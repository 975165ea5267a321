// /fw over NoSec (RFC 9175 section 2.4, FIRMWARE_NOSEC_ECHO): GatewayFirmware.handle answers an unverified
// address 4.01 with an Echo value and no payload, serves a DTLS peer, a registered device's address and an
// address that repeated its Echo value; the setting parses on/off and refuses anything else.
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CoapCode,
  type CoapEndpoint,
  CoapType,
  createMessage,
  EchoGuard,
  formatCode,
  type IncomingRequest,
  type OutgoingResponse,
  OptionNumber,
} from '@lwm2m/coap';
import { EnvErrors } from '@lwm2m/config';
import {
  type FirmwareImage,
  InMemoryImageStore,
  InMemoryPushProgressStore,
  parseFirmwareConfig,
} from '@lwm2m/firmware';
import type { Peer } from '@lwm2m/transport';
import { GatewayFirmware } from '../src/firmware';

const content = randomBytes(3000);
let store: InMemoryImageStore;
let image: FirmwareImage;

beforeAll(async () => {
  store = new InMemoryImageStore();
  image = await store.put(
    { name: 'n', version: 'v' },
    (async function* () {
      yield content;
    })(),
    { maxBytes: 1 << 20 },
  );
});

function gateway(opts: { echo?: boolean; registered?: string[] } = {}): GatewayFirmware {
  const registered = new Set(opts.registered ?? []);
  return new GatewayFirmware({
    images: store,
    pushes: new InMemoryPushProgressStore(),
    endpoint: { setStreamedBlocks: () => undefined } as unknown as CoapEndpoint,
    registrations: {} as never,
    client: { peerOf: () => ({ address: '', port: 0 }) },
    log: { debug: () => undefined, warn: () => undefined },
    ...(opts.echo !== false
      ? {
          echo: new EchoGuard({ key: Buffer.alloc(32, 7), mode: 'always', verifiedTtlMs: 60_000 }),
          registeredPeer: (k: string) => registered.has(k),
        }
      : {}),
  });
}

function get(peer: Peer, echo?: Buffer): IncomingRequest {
  const msg = createMessage({
    type: CoapType.CON,
    code: CoapCode.GET,
    messageId: 1,
    token: Buffer.from([1]),
  });
  const options = [
    { number: OptionNumber.URI_PATH, value: Buffer.from('fw') },
    { number: OptionNumber.URI_PATH, value: Buffer.from(image.id) },
    ...(echo ? [{ number: OptionNumber.ECHO, value: echo }] : []),
  ];
  msg.options.push(...options);
  return {
    peer,
    peerKey: `${peer.address}:${peer.port}`,
    code: CoapCode.GET,
    confirmable: true,
    token: msg.token,
    path: ['fw', image.id],
    query: [],
    options,
    payload: Buffer.alloc(0),
    message: msg,
  };
}

const echoIn = (r: OutgoingResponse) => r.options?.find((o) => o.number === OptionNumber.ECHO)?.value;

describe('GatewayFirmware.handle over NoSec', () => {
  const nosec: Peer = { address: '192.0.2.1', port: 5000 };

  it('challenges an unverified address with a 4.01 + Echo and no payload, then serves it once it echoes', async () => {
    const fw = gateway();
    const first = (await fw.handle(get(nosec)))!;
    expect(formatCode(first.code)).toBe('4.01');
    expect(first.payload).toBeUndefined();
    const echo = echoIn(first)!;
    expect(echo.length).toBeGreaterThan(0);
    expect(fw.counters.echoChallenged).toBe(1);
    expect(formatCode((await fw.handle(get(nosec, echo)))!.code)).toBe('2.05');
    // Verified: the next requests need no Echo.
    expect(formatCode((await fw.handle(get(nosec)))!.code)).toBe('2.05');
    // The same value from another port is not a proof for that port.
    expect(formatCode((await fw.handle(get({ ...nosec, port: 5001 }, echo)))!.code)).toBe('4.01');
    expect(fw.counters.echoChallenged).toBe(2);
  });

  it('serves a DTLS peer and a registered device address without a challenge; other paths are not its own', async () => {
    const fw = gateway({ registered: ['192.0.2.9:7000'] });
    const dtls: Peer = { address: '192.0.2.2', port: 6000, identity: { type: 'psk', identity: 'dev' } };
    expect(formatCode((await fw.handle(get(dtls)))!.code)).toBe('2.05');
    expect(formatCode((await fw.handle(get({ address: '192.0.2.9', port: 7000 })))!.code)).toBe('2.05');
    expect(fw.counters.echoChallenged).toBe(0);
    expect(fw.handle({ ...get(nosec), path: ['rd'] })).toBeUndefined();
  });

  it('FIRMWARE_NOSEC_ECHO=off serves any source; the setting parses on/off (true/false) only', async () => {
    expect(formatCode((await gateway({ echo: false }).handle(get(nosec)))!.code)).toBe('2.05');
    const errors = new EnvErrors();
    expect(parseFirmwareConfig({}, errors).FIRMWARE_NOSEC_ECHO).toBe(true);
    expect(parseFirmwareConfig({ FIRMWARE_NOSEC_ECHO: 'off' }, errors).FIRMWARE_NOSEC_ECHO).toBe(false);
    expect(errors.errors).toEqual([]);
    expect(parseFirmwareConfig({ FIRMWARE_NOSEC_ECHO: 'false' }, errors).FIRMWARE_NOSEC_ECHO).toBe(false);
    expect(errors.errors).toEqual([]);
    parseFirmwareConfig({ FIRMWARE_NOSEC_ECHO: 'maybe' }, errors);
    expect(errors.errors).toEqual(['FIRMWARE_NOSEC_ECHO must be on or off (or true/false), got "maybe"']);
  });
});
