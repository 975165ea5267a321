// One gateway node of bench/cluster.bench.ts in its own process: the gateway stack of libs/gateway (as
// production builds it) on the bench's redis-server, answering every CoAP request with a reading. Driven over
// IPC: 'ready' with its port once started; 'quiet' stops its heartbeats (every view already holds every node);
// 'counters' answers records forwarded and handshakes completed; 'close' stops it.
import { CoapCode } from '@lwm2m/coap';
import { createGatewayStack, validateGatewayConfig } from '@lwm2m/gateway';
import { createRedisStores } from '@lwm2m/registry';

type Command = { cmd: 'quiet' | 'counters' | 'close' };

async function main(): Promise<void> {
  const [id, redisUrl, secretsKey] = process.argv.slice(2) as [string, string, string];
  const stores = createRedisStores(redisUrl, { credentials: { secretsKey: Buffer.from(secretsKey, 'hex') } });
  const config = validateGatewayConfig({
    COAP_NOSEC: 'false',
    COAP_HOST: '127.0.0.1',
    COAPS_PORT: '0',
    CLUSTER_PORT: '0',
    CLUSTER_ADVERTISE_HOST: '127.0.0.1',
    CLUSTER_KEY: 'bench-cluster-key-0123456789',
    NODE_ID: `node-${id}`,
    // Every device comes from 127.0.0.1 through the relay: no per-address handshake budget.
    DTLS_CLIENT_HELLO_RATE: '1000000',
    DTLS_MAX_HANDSHAKES_PER_ADDRESS: '1000',
    UDP_RECV_PER_SOURCE: '0',
  });
  const stack = createGatewayStack(config, {
    ...stores,
    cluster: { membership: stores.membership, sessions: stores.sessions, resumption: stores.resumption },
  });
  await stack.start();
  stack.mount(() => ({ code: CoapCode.CONTENT, payload: '21.5', contentFormat: 0 }));
  process.on('message', (m: Command) => {
    void (async () => {
      if (m.cmd === 'quiet') await stack.membership!.stop();
      else if (m.cmd === 'counters')
        process.send!({
          forwarded: stack.clusterTransport!.counters.cidForwarded,
          handshakes: stack.dtls!.counters.handshakesCompleted,
        });
      else {
        await stack.close();
        await stores.close();
        process.exit(0);
      }
      if (m.cmd === 'quiet') process.send!({ quiet: true });
    })();
  });
  process.send!({ ready: stack.addresses().coaps.port });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
