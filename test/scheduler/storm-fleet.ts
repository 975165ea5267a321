// A registration storm as its own process (the test's other core): `count` simulated LwM2M clients, each on
// its own UDP socket, registering at `rate` per second. Prints one JSON line when every start settled, then
// keeps the clients (and their registrations) until stdin closes.
//   node --import tsx test/scheduler/storm-fleet.ts <serverPort> <count> <ratePerSecond> <prefix>
import { DeviceFleet } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';

async function main(): Promise<void> {
  const [port, count, rate, prefix] = process.argv.slice(2);
  const fleet = new DeviceFleet({
    prefix: prefix ?? 'storm',
    count: Number(count),
    ratePerSecond: Number(rate),
    server: { address: '127.0.0.1', port: Number(port) },
    lwm2mVersion: '1.1',
    lifetime: 600,
    updateAt: 0,
    sensorIntervalMs: 0,
    observeTickMs: 60_000,
    createTransport: () => UdpTransport.bind({ port: 0, address: '127.0.0.1' }),
  });
  const failures: string[] = [];
  fleet.on('failed', (f) => failures.length < 5 && failures.push(`${f.endpoint}: ${f.error}`));
  const result = await fleet.start();
  process.stdout.write(`${JSON.stringify({ ...result, failures })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
