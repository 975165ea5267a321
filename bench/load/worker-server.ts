// The server process of `npm run bench:workers`: `--workers=N` runs bench/load/coap-worker.ts in N worker
// threads behind runWorkers (the main thread only moves datagrams); `--workers=0` builds the same stack in
// the main thread on plain UdpTransports (with the fair receive queue, as the gateway does today). Prints
// "ready <coap port> <coaps port> <echo port>".
import { join } from 'node:path';
import { workerOfDatagram } from '@lwm2m/cluster';
import { runWorkers, UdpTransport } from '@lwm2m/udp';
import { buildBenchStack } from './coap-worker';

const workers = Number(/--workers=(\d+)/.exec(process.argv.join(' '))?.[1] ?? 1);
const RCVBUF = 4 * 1024 * 1024;

async function main(): Promise<void> {
  if (workers === 0) {
    const bind = () => UdpTransport.bind({ port: 0, recvBufferSize: RCVBUF, fairness: { perSource: 32 } });
    const coap = await bind();
    const coaps = await bind();
    const echo = await bind();
    buildBenchStack(coap, coaps, 0, echo);
    console.log(`ready ${coap.address().port} ${coaps.address().port} ${echo.address().port}`);
    return;
  }
  const pool = await runWorkers({
    workers,
    entry: join(__dirname, 'coap-worker.ts'),
    ports: [
      { name: 'coap', port: 0, recvBufferSize: RCVBUF },
      {
        name: 'coaps',
        port: 0,
        recvBufferSize: RCVBUF,
        route: (data, _peer, n) => workerOfDatagram(data, 8, n),
        fairness: { prioritize: (data) => data[0] === 25 },
      },
      { name: 'echo', port: 0, recvBufferSize: RCVBUF },
    ],
  });
  await pool.ready();
  const a = pool.addresses;
  console.log(`ready ${a.coap!.port} ${a.coaps!.port} ${a.echo!.port}`);
  process.on('SIGTERM', () => void pool.close(500).then(() => process.exit(0)));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
