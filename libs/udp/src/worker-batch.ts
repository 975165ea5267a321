// Datagrams between the main thread (which owns the UDP sockets) and its worker threads travel in batches:
// one postMessage per event-loop turn and direction carries every datagram of that turn, packed into one
// ArrayBuffer that is transferred, not copied. A postMessage per datagram would cost more than the work.
// Entry layout: port index (u8), address length (u8), UDP port (u16), datagram length (u16), the address
// (latin1 text), the datagram. Both ends are this module, inside one process: a truncated batch is a bug,
// read up to where it breaks and no further.

/** One batch as posted: the transferred buffer and the bytes of it in use. */
export interface DatagramBatch {
  buffer: ArrayBuffer;
  length: number;
}

const ENTRY_HEADER = 6;
const INITIAL_CAPACITY = 4096;

/** Collects datagrams into a buffer of its own (never Node's shared pool: it is transferred away). */
export class BatchWriter {
  private buf: Buffer | undefined;
  private used = 0;
  /** Datagrams in the batch being written. */
  count = 0;

  /** Appends one datagram; false (nothing appended) for what the layout cannot carry. */
  push(portIndex: number, address: string, port: number, data: Buffer): boolean {
    const addressLength = address.length;
    if (addressLength > 255 || data.length > 0xffff || portIndex > 255) return false;
    const need = ENTRY_HEADER + addressLength + data.length;
    let buf = this.buf;
    if (buf === undefined || this.used + need > buf.length) buf = this.grow(need);
    let at = this.used;
    buf[at] = portIndex;
    buf[at + 1] = addressLength;
    buf.writeUInt16BE(port, at + 2);
    buf.writeUInt16BE(data.length, at + 4);
    at += ENTRY_HEADER;
    buf.write(address, at, addressLength, 'latin1');
    at += addressLength;
    data.copy(buf, at);
    this.used = at + data.length;
    this.count++;
    return true;
  }

  /** The batch so far, handed over (the writer starts a new buffer); undefined when empty. */
  take(): DatagramBatch | undefined {
    const buf = this.buf;
    if (buf === undefined || this.used === 0) return undefined;
    const batch = { buffer: buf.buffer as ArrayBuffer, length: this.used };
    this.buf = undefined;
    this.used = 0;
    this.count = 0;
    return batch;
  }

  private grow(need: number): Buffer {
    const old = this.buf;
    const size = Math.max(INITIAL_CAPACITY, (old?.length ?? 0) * 2, this.used + need);
    const buf = Buffer.allocUnsafeSlow(size);
    if (old !== undefined) old.copy(buf, 0, 0, this.used);
    this.buf = buf;
    return buf;
  }
}

/** Calls `each` for every datagram of a batch; the datagrams are views into the batch's buffer. */
export function readBatch(
  batch: DatagramBatch,
  each: (portIndex: number, address: string, port: number, data: Buffer) => void,
): void {
  const buf = Buffer.from(batch.buffer, 0, Math.min(batch.length, batch.buffer.byteLength));
  let at = 0;
  while (at + ENTRY_HEADER <= buf.length) {
    const portIndex = buf[at]!;
    const addressLength = buf[at + 1]!;
    const port = buf.readUInt16BE(at + 2);
    const dataLength = buf.readUInt16BE(at + 4);
    const end = at + ENTRY_HEADER + addressLength + dataLength;
    if (end > buf.length) return;
    const address = buf.toString('latin1', at + ENTRY_HEADER, at + ENTRY_HEADER + addressLength);
    each(portIndex, address, port, buf.subarray(end - dataLength, end));
    at = end;
  }
}
