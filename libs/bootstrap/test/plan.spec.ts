// The plan of an OSCORE and an RPK account (TS 1.1 Core E.1, E.9): what is written to the client is what is
// stored for the LwM2M server, and a node that continues a session (same configuration, same sealed keys)
// writes and stores exactly the same.
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Lwm2mObjectInstance } from '@lwm2m/lwm2m';
import {
  type BootstrapConfig,
  type BootstrapSession,
  chooseInstances,
  credentialOf,
  generatedKeys,
  planSteps,
} from '../src';

const config: BootstrapConfig = {
  servers: [
    {
      shortServerId: 1,
      uri: 'coap://h:5683',
      security: 'oscore',
      oscore: { senderId: Buffer.from('0b', 'hex') },
    },
    { shortServerId: 2, uri: 'coaps://h:5684', security: 'rpk' },
  ],
};

function session(keys: Record<number, Buffer>): BootstrapSession {
  return {
    id: 's',
    endpoint: 'ep-plan',
    state: 'running',
    node: 'n',
    leaseUntil: 0,
    step: 0,
    startedAt: 0,
    updatedAt: 0,
    contentFormat: 112,
    usesDefault: false,
    keys,
    instances: chooseInstances(config, '</0/0>'),
  };
}

function value(node: Lwm2mObjectInstance, rid: number): unknown {
  const r = node.resources.get(rid);
  return r?.kind === 'singleResource' ? r.value : undefined;
}

describe('plan of OSCORE and RPK accounts', () => {
  it('writes /21 before /0 with the ids swapped, links it from /0/x/17, and stores the same context', () => {
    const keys = generatedKeys(config, 16, randomBytes);
    const writes = planSteps(config, session(keys)).flatMap((s) => (s.kind === 'write' ? [s] : []));
    expect(writes.map((w) => w.path)).toEqual(['/21/0', '/0/1', '/1/0', '/0/2', '/1/1']);
    const osc = writes[0]!.node;
    const sec = writes[1]!.node;
    expect(value(sec, 2)).toBe(3);
    expect(value(sec, 17)).toEqual({ objectId: 21, instanceId: 0 });
    const cred = credentialOf(config, 'ep-plan', keys);
    expect(cred?.type).toBe('oscore');
    if (cred?.type !== 'oscore') return;
    expect(value(osc, 0)).toEqual(cred.oscore.masterSecret);
    // The device's Sender ID is the server's Recipient ID, and the other way round.
    expect(value(osc, 1)).toEqual(cred.oscore.recipientId);
    expect(value(osc, 2)).toEqual(Buffer.from('0b', 'hex'));
    expect(cred.oscore.recipientId.length).toBe(6);
    // Another node with the same session keys writes the same context.
    const again = planSteps(config, session(keys)).find((s) => s.kind === 'write' && s.path === '/21/0');
    expect(again).toEqual(writes[0]);
  });

  it('an RPK account writes the client key pair; its public half is what the credential names', () => {
    const rpkOnly: BootstrapConfig = { servers: [config.servers[1]!] };
    const keys = generatedKeys(rpkOnly, 16, randomBytes);
    const s = { ...session(keys), instances: chooseInstances(rpkOnly, '</0/0>') };
    const sec = planSteps(rpkOnly, s).find((w) => w.kind === 'write' && w.path === '/0/1');
    if (sec?.kind !== 'write') throw new Error('no /0/1 write');
    expect(value(sec.node, 2)).toBe(1);
    const privateKey = value(sec.node, 5) as Buffer;
    const publicKey = createPublicKey(
      createPrivateKey({ key: privateKey, format: 'der', type: 'pkcs8' }),
    ).export({
      type: 'spki',
      format: 'der',
    });
    expect(value(sec.node, 3)).toEqual(publicKey);
    expect(credentialOf(rpkOnly, 'ep-plan', keys)).toEqual({ type: 'rpk', publicKey });
  });
});
