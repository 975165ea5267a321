// FirmwareCoapResource (object 5 Pull, RFC 7959 section 2.4): each block read from the store when asked for,
// the client's smaller SZX honoured and a larger one answered at ours, Size2 and ETag, and bad input answered
// with a code (4.02, 4.04, 4.05), never thrown: also for datagrams mutated from valid requests (seeded).
import { createHash, randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  blockSize,
  CoapCode,
  CoapType,
  createMessage,
  decodeBlock,
  decodeMessage,
  encodeBlock,
  encodeMessage,
  formatCode,
  getContentFormat,
  getUriPath,
  type IncomingRequest,
  type OutgoingResponse,
  OptionNumber,
  setOption,
} from '@lwm2m/coap';
import { type FirmwareImage, FirmwareCoapResource, InMemoryImageStore } from '@lwm2m/firmware';
import { mutate, prng } from '../../../test/support/fuzz';

const content = randomBytes(5000);
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

function request(path: string[], block2?: Buffer, code: number = CoapCode.GET): IncomingRequest {
  const msg = createMessage({ type: CoapType.CON, code, messageId: 1, token: Buffer.from([1]) });
  for (const p of path) msg.options.push({ number: OptionNumber.URI_PATH, value: Buffer.from(p) });
  if (block2 !== undefined) setOption(msg, OptionNumber.BLOCK2, block2);
  return fromMessage(msg);
}

function fromMessage(msg: ReturnType<typeof createMessage>): IncomingRequest {
  return {
    peer: { address: '127.0.0.1', port: 1 },
    peerKey: 'p',
    code: msg.code,
    confirmable: true,
    token: msg.token,
    path: getUriPath(msg),
    query: [],
    options: msg.options,
    payload: msg.payload,
    contentFormat: getContentFormat(msg),
    message: msg,
  };
}

const opt = (res: OutgoingResponse, n: number) => res.options?.find((o) => o.number === n)?.value;

describe('FirmwareCoapResource', () => {
  it('serves the image block by block with Block2, Size2 on the first block and an ETag of its hash', async () => {
    const r = new FirmwareCoapResource(store);
    const parts: Buffer[] = [];
    for (let num = 0; ; num++) {
      const res = (await r.handle(request(['fw', image.id], encodeBlock({ num, more: false, szx: 6 }))))!;
      expect(formatCode(res.code)).toBe('2.05');
      const b = decodeBlock(opt(res, OptionNumber.BLOCK2)!);
      expect(b.num).toBe(num);
      if (num === 0) expect(opt(res, OptionNumber.SIZE2)!.readUIntBE(0, 2)).toBe(content.length);
      else expect(opt(res, OptionNumber.SIZE2)).toBeUndefined();
      expect(opt(res, OptionNumber.ETAG)!.toString('hex')).toBe(image.sha256.slice(0, 16));
      parts.push(res.payload as Buffer);
      if (!b.more) break;
    }
    expect(createHash('sha256').update(Buffer.concat(parts)).digest('hex')).toBe(image.sha256);
    expect(r.counters).toMatchObject({ blocks: 5, bytes: content.length });
  });

  it('honours a smaller block size, and answers a larger one at its own from the same offset', async () => {
    const small = new FirmwareCoapResource(store, { maxBlockSize: 256 });
    const res = (await small.handle(
      request(['fw', image.id], encodeBlock({ num: 1, more: false, szx: 6 })),
    ))!;
    // Block 1 of 1024 bytes starts at 1024: block 4 of 256.
    expect(decodeBlock(opt(res, OptionNumber.BLOCK2)!)).toEqual({ num: 4, more: true, szx: 4 });
    expect((res.payload as Buffer).equals(content.subarray(1024, 1280))).toBe(true);
    const r = new FirmwareCoapResource(store);
    const tiny = (await r.handle(request(['fw', image.id], encodeBlock({ num: 3, more: false, szx: 0 }))))!;
    expect((tiny.payload as Buffer).equals(content.subarray(48, 64))).toBe(true);
  });

  it('answers 4.04, 4.05 and 4.02 (a block past the end, a malformed option) and counts them', async () => {
    const r = new FirmwareCoapResource(store);
    const code = async (req: IncomingRequest) => formatCode((await r.handle(req))!.code);
    expect(await code(request(['fw', 'missing']))).toBe('4.04');
    expect(await code(request(['fw']))).toBe('4.04');
    expect(await code(request(['fw', image.id, 'x']))).toBe('4.04');
    expect(await code(request(['fw', '..']))).toBe('4.04');
    expect(await code(request(['fw', image.id], undefined, CoapCode.PUT))).toBe('4.05');
    expect(await code(request(['fw', image.id], encodeBlock({ num: 5, more: false, szx: 6 })))).toBe('4.02');
    expect(await code(request(['fw', image.id], Buffer.from([0x0f])))).toBe('4.02');
    expect(r.counters).toMatchObject({ notFound: 4, badRequests: 3, blocks: 0 });
    expect(r.handle(request(['rd']))).toBeUndefined();
  });

  it('answers every mutated request with a code and never throws (seeded)', async () => {
    const r = new FirmwareCoapResource(store);
    const seeds = [0, 1, 4, 6].map((n) =>
      encodeMessage(request(['fw', image.id], encodeBlock({ num: n, more: false, szx: 6 })).message),
    );
    const rand = prng(17);
    let answered = 0;
    for (let i = 0; i < 20_000; i++) {
      const bytes = mutate(rand, seeds[i % seeds.length]!, seeds);
      let msg;
      try {
        msg = decodeMessage(bytes);
      } catch {
        continue; // the codec's own fuzzing covers bytes that are no CoAP message
      }
      const res = await r.handle(fromMessage(msg));
      if (res === undefined) continue;
      answered++;
      expect([0x45, 0x82, 0x84, 0x85]).toContain(res.code);
      if (res.code === CoapCode.CONTENT) {
        const b = decodeBlock(opt(res, OptionNumber.BLOCK2) ?? Buffer.alloc(0));
        const size = blockSize(b.szx);
        expect((res.payload as Buffer).equals(content.subarray(b.num * size, b.num * size + size))).toBe(
          true,
        );
      }
    }
    expect(answered).toBeGreaterThan(1000);
  });
});
