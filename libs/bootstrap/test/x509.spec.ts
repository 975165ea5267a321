// The bootstrap DTLS port with X.509 clients: a certificate chaining to the trust anchor that names the
// endpoint (SAN, else CN) may bootstrap it; a valid certificate naming another endpoint gets 4.00.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CoapCode } from '@lwm2m/coap';
import { DtlsServer, IdentifiedDtlsTransport } from '@lwm2m/dtls';
import { createInMemoryStores } from '@lwm2m/server';
import { UdpTransport } from '@lwm2m/udp';
import { TestCa } from '../../../test/support/x509';
import {
  createBootstrapServer,
  InMemoryBootstrapConfigStore,
  InMemoryBootstrapSessionStore,
  type RunningBootstrapServer,
} from '../src';
import { bootstrapClient } from './world';

const ca = new TestCa('bs-ca');
const stores = createInMemoryStores();
const configs = new InMemoryBootstrapConfigStore();
let running: RunningBootstrapServer;
let port: number;

beforeAll(async () => {
  const server = ca.issue('/CN=bootstrap.example');
  const udp = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
  port = udp.address().port;
  const dtls = new DtlsServer({
    transport: udp,
    certificate: { privateKey: server.key, chain: [server.pem] },
    trustAnchors: [ca.pem],
  });
  running = createBootstrapServer({
    transports: [new IdentifiedDtlsTransport(dtls)],
    configs,
    sessions: new InMemoryBootstrapSessionStore(),
    credentials: stores.credentials,
    events: stores.events,
    nodeId: 'bs-x509',
  });
  await configs.put('x509-dev', {
    servers: [{ shortServerId: 1, uri: 'coaps://127.0.0.1:5684', security: 'psk' }],
  });
});

afterAll(async () => {
  await running?.close();
  ca.remove();
});

const x509 = (cert: { key: string; pem: string }) => ({
  x509: { privateKey: cert.key, certificate: cert.pem, trustAnchors: [ca.pem] },
});

it('a certificate naming the endpoint bootstraps it', async () => {
  const client = await bootstrapClient('x509-dev', [port], x509(ca.issue('/CN=x509-dev')));
  try {
    const outcome = await client.run();
    expect(outcome.servers[0]?.psk?.identity).toBe('x509-dev');
    expect((await stores.credentials.get('x509-dev'))?.type).toBe('psk');
  } finally {
    await client.close();
  }
});

it('a valid certificate naming another endpoint gets 4.00 and nothing is written', async () => {
  const client = await bootstrapClient('x509-dev', [port], x509(ca.issue('/CN=someone-else')));
  try {
    await expect(client.run()).rejects.toMatchObject({ code: CoapCode.BAD_REQUEST });
    expect(client.operations).toEqual([]);
  } finally {
    await client.close();
  }
});

it('an X.509 account to issue a certificate for, on a server with no CA key: 5.00, no session, nothing written', async () => {
  await configs.put('x509-gen', {
    servers: [{ shortServerId: 1, uri: 'coaps://127.0.0.1:5684', security: 'x509' }],
  });
  const startedBefore = running.server.counters.started;
  const client = await bootstrapClient('x509-gen', [port], x509(ca.issue('/CN=x509-gen')));
  try {
    await expect(client.run()).rejects.toMatchObject({ code: CoapCode.INTERNAL_SERVER_ERROR });
    expect(client.operations).toEqual([]);
    expect(running.server.counters.started).toBe(startedBefore);
    expect(await stores.credentials.get('x509-gen')).toBeUndefined();
  } finally {
    await client.close();
  }
});
