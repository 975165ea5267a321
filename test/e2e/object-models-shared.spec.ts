// A model uploaded on one node reaches the others (issue 16): two nodes (api + gateway each) on one Redis;
// the DDF goes to node A's api, the device registers at node B's gateway, and node B's api reads it with the
// uploaded names and units and checks writes against it. Whichever gateway takes the command decodes the
// device's TLV with the uploaded types (each re-reads the models' revision before a command).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContentFormat, parseDdf } from '@lwm2m/lwm2m';
import { SimulatedDevice } from '@lwm2m/simulator';
import { validateSchedulerConfig } from '@lwm2m/scheduler';
import { UdpTransport } from '@lwm2m/udp';
import { type SingleNode, startSingleNode } from '../../apps/server/src/single-node';
import { validateGatewayConfig } from '../../apps/gateway/src/config';
import { type RedisHandle, startRedis } from '../support/redis';

let redis: RedisHandle;
const nodes: SingleNode[] = [];
let device: SimulatedDevice | undefined;

const ddf = `<?xml version="1.0" encoding="UTF-8"?><LWM2M><Object ObjectType="MODefinition"><Name>Tank</Name>
<Description1>shared model test</Description1><ObjectID>32771</ObjectID><ObjectURN>urn:oma:lwm2m:x:32771</ObjectURN>
<LWM2MVersion>1.0</LWM2MVersion><ObjectVersion>1.0</ObjectVersion><MultipleInstances>Single</MultipleInstances>
<Mandatory>Optional</Mandatory><Resources><Item ID="7"><Name>Fill Level</Name><Operations>RW</Operations>
<MultipleInstances>Single</MultipleInstances><Mandatory>Mandatory</Mandatory><Type>Unsigned Integer</Type>
<RangeEnumeration>0..1000</RangeEnumeration><Units>l</Units><Description>d</Description></Item></Resources>
<Description2></Description2></Object></LWM2M>`;

async function node(): Promise<SingleNode> {
  const n = await startSingleNode({
    redisUrl: redis.url,
    gateway: validateGatewayConfig({ COAP_PORT: '0', COAPS_PORT: '0', COAP_HOST: '127.0.0.1' }),
    http: { port: 0, host: '127.0.0.1' },
    logger: false,
    secretsKey: key,
    scheduler: { ...validateSchedulerConfig({}), run: false },
  });
  nodes.push(n);
  return n;
}
const key = randomBytes(32);

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  await device?.close();
  for (const n of nodes) await n.close();
  await redis?.stop();
});

async function call(n: SingleNode, method: string, path: string, body?: string, type = 'application/json') {
  const res = await fetch(`http://127.0.0.1:${n.httpPort}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': type },
    body,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

describe('an uploaded model on two nodes', () => {
  it('is known to the other node: its api names the values and checks writes, its gateway decodes TLV', async () => {
    const a = await node();
    const b = await node();
    expect((await call(b, 'GET', '/api/v1/models/32771')).status).toBe(404);
    expect((await call(a, 'POST', '/api/v1/models', ddf, 'application/xml')).status).toBe(201);
    expect((await call(b, 'GET', '/api/v1/models/32771')).body).toMatchObject({
      name: 'Tank',
      version: '1.0',
    });

    device = new SimulatedDevice({
      endpoint: 'shared-model',
      transport: await UdpTransport.bind({ port: 0, address: '127.0.0.1' }),
      server: { address: '127.0.0.1', port: b.coap!.port },
      lifetime: 300,
      updateAt: 0,
      sensorIntervalMs: 0,
      lwm2mVersion: '1.0',
      contentFormat: ContentFormat.TLV,
      models: parseDdf(ddf),
    });
    await device.register();
    device.tree.setValue('/32771/0/7', 420);
    // Several reads, so that both gateways (one command group) are likely to take one.
    for (let i = 0; i < 4; i++) {
      const read = await call(b, 'GET', '/api/v1/devices/shared-model/data/32771/0/7');
      expect(read.status).toBe(200);
      expect(read.body.values).toEqual([
        { path: '/32771/0/7', value: 420, type: 'unsigned', name: 'Fill Level', unit: 'l' },
      ]);
    }
    const tooMuch = await call(b, 'PUT', '/api/v1/devices/shared-model/data/32771/0/7', '{"value":1001}');
    expect(tooMuch.status).toBe(400);
    expect(tooMuch.body.detail).toMatch(/1001 is outside 0\.\.1000/);
    expect(
      (await call(a, 'PUT', '/api/v1/devices/shared-model/data/32771/0/7', '{"value":999}')).status,
    ).toBe(204);
    expect(device.tree.getValue('/32771/0/7')).toBe(999);
  });
});
