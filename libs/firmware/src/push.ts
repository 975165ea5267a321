// LwM2M TS 1.1/1.2 object 5 Push: the server writes the package to /5/0/0 block by block with Block1
// (RFC 7959 section 2.5), each block read from the image store when it is sent (a 50 MB image never sits in
// memory). Progress (the bytes the device acknowledged) is kept in a PushProgressStore, so a retry after a
// NAT rebinding, a timeout or a node change resumes after the last acknowledged block instead of block 0.
// An abort is shared the same way (PushProgressStore.abort): a push on any node stops within a bounded
// number of blocks, whichever node the abort was given to.
import {
  blockSize,
  type CoapEndpoint,
  CoapCode,
  type CoapOption,
  decodeBlock,
  encodeBlock,
  encodeUint,
  formatCode,
  getOption,
  OptionNumber,
  type Peer,
  szxForSize,
} from '@lwm2m/coap';
import type { ImageStore } from './image-store';
import { ImageNotFoundError } from './image-store';

/** Where a push stands, by device endpoint name. */
export interface PushProgress {
  imageId: string;
  sha256: string;
  size: number;
  /** Block size exponent in use (RFC 7959 SZX). */
  szx: number;
  /** Bytes the device acknowledged (2.31 Continue), from the start of the image. */
  acked: number;
  state: 'pushing' | 'done' | 'failed';
  /** Device's last answer ("2.04") or why it stopped. */
  coapCode?: string;
  error?: string;
  updatedAt: number;
}

export interface PushProgressStore {
  get(endpoint: string): Promise<PushProgress | undefined>;
  set(endpoint: string, progress: PushProgress): Promise<void>;
  delete(endpoint: string): Promise<void>;
  /**
   * Stops every push to the device that is running now, on any node, and forgets its progress: bumps the
   * device's abort generation (a push notes it when it begins and stops once it changed), then deletes.
   */
  abort(endpoint: string): Promise<void>;
  /** The device's abort generation (0 before any abort). */
  abortGeneration(endpoint: string): Promise<number>;
}

export class InMemoryPushProgressStore implements PushProgressStore {
  private readonly map = new Map<string, PushProgress>();
  private readonly aborts = new Map<string, number>();
  async get(endpoint: string): Promise<PushProgress | undefined> {
    const p = this.map.get(endpoint);
    return p === undefined ? undefined : { ...p };
  }
  async set(endpoint: string, progress: PushProgress): Promise<void> {
    this.map.set(endpoint, { ...progress });
  }
  async delete(endpoint: string): Promise<void> {
    this.map.delete(endpoint);
  }
  async abort(endpoint: string): Promise<void> {
    this.aborts.set(endpoint, (this.aborts.get(endpoint) ?? 0) + 1);
    this.map.delete(endpoint);
  }
  async abortGeneration(endpoint: string): Promise<number> {
    return this.aborts.get(endpoint) ?? 0;
  }
}

export interface PushTarget {
  endpoint: Pick<CoapEndpoint, 'request'>;
  /** Where the device is now: asked again before each retry (a NAT rebinding or a new node moves it). */
  peer(): Peer | Promise<Peer>;
}

export interface PushOptions {
  /** The device's endpoint name: the key of its progress. */
  endpoint: string;
  /** Default /5/0/0 (object 5 Package). */
  path?: string;
  /** Block size, 16..1024 (default 1024, SZX 6; BERT is TCP only). */
  blockSize?: number;
  /** Attempts of one block before the push stops (resumable later); default 6. */
  attempts?: number;
  /** Per-block timeout, ms (default: CoAP's exchange lifetime). */
  timeoutMs?: number;
  progress?: PushProgressStore;
  /** Progress is written to the store every this many blocks (and on every stop); default 64. */
  saveEvery?: number;
  /**
   * The store's abort generation is read after this many blocks or abortCheckMs, whichever comes first
   * (and before a retry or a start over): a push aborted on another node stops within that. Default 16.
   */
  abortCheckEvery?: number;
  /** Default 1000 ms. */
  abortCheckMs?: number;
  onProgress?: (p: { sent: number; size: number }) => void;
  signal?: AbortSignal;
  now?: () => number;
}

export interface PushResult {
  ok: boolean;
  size: number;
  /** Byte offset the push started from (> 0: resumed). */
  resumedFrom: number;
  /** Blocks sent, retries included. */
  blocks: number;
  retries: number;
  /** The device's final answer. */
  coapCode?: string;
  error?: string;
}

/** Read-ahead of the image: one store read per window, not per block. */
const WINDOW = 64 * 1024;

/** Pushes image `imageId` to the device block-wise, resuming a push of the same image that stopped. */
export async function pushFirmware(
  target: PushTarget,
  images: ImageStore,
  imageId: string,
  opts: PushOptions,
): Promise<PushResult> {
  const image = await images.get(imageId);
  if (image === undefined) throw new ImageNotFoundError(imageId);
  const now = opts.now ?? Date.now;
  const path = (opts.path ?? '/5/0/0').split('/').filter((s) => s !== '');
  let szx = szxForSize(opts.blockSize ?? 1024);
  const attempts = opts.attempts ?? 6;
  const saveEvery = opts.saveEvery ?? 64;
  const previous = await opts.progress?.get(opts.endpoint);
  // An abort given after this (to any node) bumps the generation: this push then stops.
  const generation = await opts.progress?.abortGeneration(opts.endpoint);
  const checkEvery = opts.abortCheckEvery ?? 16;
  const checkMs = opts.abortCheckMs ?? 1000;
  let sinceCheck = 0;
  let checkedAt = now();
  const abortedElsewhere = async (): Promise<boolean> => {
    if (opts.progress === undefined) return false;
    sinceCheck = 0;
    checkedAt = now();
    // Greater, not different: a generation that expired (7 days without an abort) reads 0 and stops nothing.
    return (await opts.progress.abortGeneration(opts.endpoint)) > (generation ?? 0);
  };
  let acked = 0;
  if (
    previous !== undefined &&
    previous.state !== 'done' &&
    previous.imageId === imageId &&
    previous.sha256 === image.sha256 &&
    previous.acked < image.size
  ) {
    // Resume where the device last acknowledged; the offset is a multiple of the (possibly smaller) SZX.
    szx = Math.min(szx, previous.szx);
    acked = previous.acked - (previous.acked % blockSize(szx));
  }
  const resumedFrom = acked;
  const progress = (state: PushProgress['state'], extra: Partial<PushProgress> = {}): PushProgress => ({
    imageId,
    sha256: image.sha256,
    size: image.size,
    szx,
    acked,
    state,
    updatedAt: now(),
    ...extra,
  });
  const save = (p: PushProgress) => opts.progress?.set(opts.endpoint, p) ?? Promise.resolve();
  await save(progress('pushing'));
  let window: Buffer = Buffer.alloc(0);
  let windowStart = 0;
  const read = async (offset: number, length: number): Promise<Buffer> => {
    if (offset < windowStart || offset + length > windowStart + window.length) {
      window = await images.read(imageId, offset, Math.max(WINDOW, length));
      windowStart = offset;
    }
    return window.subarray(offset - windowStart, offset - windowStart + length);
  };
  let blocks = 0;
  let retries = 0;
  let peer: Peer | undefined;
  let restarted = false;
  let sinceSave = 0;
  const stop = async (error: string, coapCode?: string): Promise<PushResult> => {
    await save(progress('failed', { error, ...(coapCode ? { coapCode } : {}) }));
    return {
      ok: false,
      size: image.size,
      resumedFrom,
      blocks,
      retries,
      error,
      ...(coapCode ? { coapCode } : {}),
    };
  };
  /** Aborted through the store: its progress is forgotten (deleted again: a save of ours may have raced it). */
  const dropped = async (): Promise<PushResult> => {
    await opts.progress?.delete(opts.endpoint);
    return { ok: false, size: image.size, resumedFrom, blocks, retries, error: 'aborted' };
  };
  // An empty image is one Write of an empty Package, which resets the device (Core E.6).
  for (;;) {
    const size = blockSize(szx);
    const num = acked / size;
    const chunk = await read(acked, size);
    const more = acked + chunk.length < image.size;
    const options: CoapOption[] = [{ number: OptionNumber.BLOCK1, value: encodeBlock({ num, more, szx }) }];
    if (num === 0) options.push({ number: OptionNumber.SIZE1, value: encodeUint(image.size) });
    let res;
    for (let attempt = 1; ; attempt++) {
      if (opts.signal?.aborted) return stop('aborted');
      if (
        (attempt > 1 || ++sinceCheck >= checkEvery || now() - checkedAt >= checkMs) &&
        (await abortedElsewhere())
      )
        return dropped();
      blocks++;
      try {
        res = await target.endpoint.request(
          (peer ??= await target.peer()),
          { code: CoapCode.PUT, path, contentFormat: 42, options, payload: chunk },
          { singleExchange: true, timeout: opts.timeoutMs, signal: opts.signal },
        );
        break;
      } catch (err) {
        // A lost block or a moved device: the same block again, to where the device is now.
        if (attempt >= attempts) return stop(`block ${num} unanswered: ${String(err)}`);
        retries++;
        // Asked again: where the device is now.
        peer = undefined;
        await save(progress('pushing'));
      }
    }
    const code = formatCode(res.code);
    if (res.code === CoapCode.REQUEST_ENTITY_INCOMPLETE && !restarted && acked > 0) {
      // RFC 7959 section 2.5: the device lost the transfer (it restarted): once from block 0. Not after an
      // abort: a device reset by it answers so too, and block 0 would start its download again.
      if (await abortedElsewhere()) return dropped();
      restarted = true;
      acked = 0;
      continue;
    }
    if (more && res.code === CoapCode.CONTINUE) {
      const raw = getOption(res.message, OptionNumber.BLOCK1);
      let ackSzx = szx;
      try {
        if (raw !== undefined) ackSzx = decodeBlock(raw).szx;
      } catch {
        return stop('malformed Block1 in 2.31', code);
      }
      acked += chunk.length;
      // Section 2.5: the device may ask for smaller blocks; the byte offset stays.
      if (ackSzx < szx) szx = ackSzx;
      opts.onProgress?.({ sent: acked, size: image.size });
      if (++sinceSave >= saveEvery) {
        sinceSave = 0;
        await save(progress('pushing'));
      }
      continue;
    }
    if (!more && (res.code === CoapCode.CHANGED || res.code === CoapCode.CREATED)) {
      acked = image.size;
      opts.onProgress?.({ sent: acked, size: image.size });
      await save(progress('done', { coapCode: code }));
      return { ok: true, size: image.size, resumedFrom, blocks, retries, coapCode: code };
    }
    return stop(`the device answered ${code} at block ${num}`, code);
  }
}
