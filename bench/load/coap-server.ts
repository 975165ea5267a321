// The server of `npm run bench:coap-get`: one CoapEndpoint over UDP in its own process answering GET
// /.well-known/core, nothing else, so the figure is libs/coap's own cost (no registry, no Redis, no Nest).
// Prints its port on stdout, and on SIGUSR2 a line `stats <datagrams in> <CPU µs>`. Run with --cpu-prof
// to see where the server's time goes.
import { CoapCode, CoapEndpoint } from '@lwm2m/coap';
import { UdpTransport } from '@lwm2m/udp';

const LINKS = Buffer.from('</1/0>,</3/0>,</3303/0>,</3303/1>,</4/0>,</5/0>,</6/0>,</7/0>,</1/1>,</3/1>');

async function main(): Promise<void> {
  const transport = await UdpTransport.bind({
    port: 0,
    address: '127.0.0.1',
    recvBufferSize: 4 * 1024 * 1024,
  });
  const coap = new CoapEndpoint({
    transport,
    handler: () => ({ code: CoapCode.CONTENT, contentFormat: 40, payload: LINKS }),
  });
  console.log(`coap ${transport.address().port}`);
  // The bench asks for the server's CPU time and datagrams so far: CPU per request is what libs/coap costs,
  // and unlike a rate it does not depend much on what else the machine runs.
  process.on('SIGUSR2', () => {
    const cpu = process.cpuUsage();
    console.log(`stats ${coap.stats.datagramsIn} ${cpu.user + cpu.system}`);
  });
  process.on('SIGTERM', () => {
    // process.exit after close so --cpu-prof writes its profile.
    void coap.close().then(() => process.exit(0));
  });
}

void main();
