// The stack of `npm run bench:workers` (bench/workers.bench.ts), the same in a worker thread or in the main
// thread: a libs/coap CoapEndpoint answering GET .well-known/core on the NoSec port, and a libs/dtls server
// (PSK, CID naming the worker, as the gateway's) with a CoapEndpoint on it on the DTLS port. No Redis, no
// LwM2M: the bench measures what the worker threads add or gain, not the registration path.
import { cidGenerator } from '@lwm2m/cluster';
import { CoapCode, CoapEndpoint, type IncomingRequest, type OutgoingResponse } from '@lwm2m/coap';
import { DtlsServer } from '@lwm2m/dtls';
import type { DatagramTransport } from '@lwm2m/transport';
import { isMainThread } from 'node:worker_threads';
import { workerContext } from '@lwm2m/udp';

export const BENCH_PSK = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
const CORE = Buffer.from('</rd>;rt="core.rd",</dp>,</3>,</3303>');

function handler(req: IncomingRequest): OutgoingResponse {
  if (req.code === CoapCode.GET && req.path.join('/') === '.well-known/core')
    return { code: CoapCode.CONTENT, contentFormat: 40, payload: CORE };
  return { code: CoapCode.NOT_FOUND };
}

/**
 * Builds the stack on a NoSec and a DTLS transport; `worker` goes into the CIDs. `echo`, when given, answers
 * every datagram with itself: the cost of the worker machinery alone, against the echo server process.
 */
export function buildBenchStack(
  coap: DatagramTransport,
  coaps: DatagramTransport,
  worker: number,
  echo?: DatagramTransport,
) {
  echo?.onDatagram((data, peer) => void echo.send(data, peer));
  const dtls = new DtlsServer({
    transport: coaps,
    psk: (identity) => (identity.toString().startsWith('load-psk-') ? BENCH_PSK : undefined),
    cidLength: 8,
    cidGenerator: cidGenerator(0, worker),
    clientHelloRate: { perSecond: 1_000_000, burst: 1_000_000 },
  });
  const plain = new CoapEndpoint({ transport: coap, handler });
  const secure = new CoapEndpoint({ transport: dtls, handler });
  return { close: () => Promise.all([plain.close(), secure.close()]) };
}

if (!isMainThread) {
  const ctx = workerContext();
  const t = ctx.transports;
  const stack = buildBenchStack(t.coap!, t.coaps!, ctx.index, t.echo);
  ctx.onClose(() => stack.close());
  ctx.ready();
}
