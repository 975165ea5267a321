// Issue 15 item 4: Group OSCORE end to end through the proxy (draft-ietf-core-groupcomm-proxy sections 4
// REQ3 and 10: the proxy forwards protected requests it cannot read and relays protected responses;
// Multicast-Timeout and Reply-From are class U, so the proxy reads and writes them outside the protection).
// Our Group OSCORE client (libs/oscore, group mode) and two Group OSCORE servers joined to an IPv4
// multicast group on loopback; each server answers from its own unicast socket, so Reply-From tells them
// apart by port.
import {
  CoapCode,
  CoapType,
  createMessage,
  decodeMessage,
  encodeMessage,
  getOption,
  OptionNumber as O,
  type CoapMessage,
} from '@lwm2m/coap';
import type { GroupResponse } from '@lwm2m/group-proxy';
import {
  AeadAlgorithms,
  decodeOscoreOption,
  type GroupManagerConfig,
  groupProtectRequest,
  groupProtectResponse,
  type GroupRequestBinding,
  GroupSecurityContext,
  type GroupSelf,
  groupVerifyRequest,
  groupVerifyResponse,
  SignatureAlgorithms,
} from '@lwm2m/oscore';
import { UdpMulticastReceiver, UdpTransport, type MulticastMembershipHandle } from '@lwm2m/udp';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOOPBACK, startClient, startProxy, type TestClient, type TestProxy } from './support';

const alg = SignatureAlgorithms.EdDSA_Ed25519;
const h = (s: string): Buffer => Buffer.from(s, 'hex');
const GROUP = {
  address: `239.255.${100 + (randomBytes(1)[0] % 100)}.${1 + (randomBytes(1)[0] % 200)}`,
  port: 0,
};

function member(id: string): GroupSelf {
  const privateKey = alg.randomPrivateKey();
  const publicKey = alg.publicKey(privateKey);
  return { senderId: h(id), privateKey, publicKey, credential: Buffer.from(publicKey) };
}

const clientMember = member('01');
const serverMembers = [member('0a'), member('0b')];
const cfg: GroupManagerConfig = {
  gid: '37cbf3',
  masterSecret: '0102030405060708090a0b0c0d0e0f10',
  masterSalt: '9e7ca92223786340',
  groupEncryptionAlg: AeadAlgorithms.AES_CCM_16_64_128.id,
  signatureAlg: alg.id,
  gmCredential: '',
  members: [clientMember, ...serverMembers].map((m) => ({
    senderId: m.senderId.toString('hex'),
    credential: m.credential.toString('hex'),
    publicKey: Buffer.from(m.publicKey).toString('hex'),
  })),
};

interface OscoreServer {
  name: string;
  udp: UdpTransport;
  membership: MulticastMembershipHandle;
  /** What reached the server over multicast, as received. */
  received: CoapMessage[];
  verified: number;
}

async function startOscoreServer(self: GroupSelf, name: string): Promise<OscoreServer> {
  const ctx = GroupSecurityContext.fromConfig(cfg, self);
  const udp = await UdpTransport.bind({ address: LOOPBACK });
  const s: OscoreServer = { name, udp, membership: undefined as never, received: [], verified: 0 };
  s.membership = await new UdpMulticastReceiver({ interface: LOOPBACK }).join(GROUP, (data, from) => {
    const req = decodeMessage(data);
    s.received.push(req);
    const v = groupVerifyRequest(req, (gid) => (gid.equals(ctx.gid) ? ctx : undefined));
    if (!v.ok) return;
    s.verified++;
    const path = v.message.options.filter((o) => o.number === O.URI_PATH).map((o) => o.value.toString());
    const inner = createMessage({
      type: CoapType.NON,
      code: path.join('/') === 'temp' ? CoapCode.CONTENT : CoapCode.NOT_FOUND,
      token: req.token,
      payload: Buffer.from(`${name}: 21.5`),
    });
    const p = groupProtectResponse(v.binding, inner);
    if (!p.ok) return;
    // From the server's own unicast socket (groupcomm-bis: a response to a group request is unicast).
    void udp.send(
      encodeMessage({ ...p.message, type: CoapType.NON, messageId: randomBytes(2).readUInt16BE(0) }),
      from,
    );
  });
  return s;
}

// One client context for the whole file: its sequence numbers must not repeat (the servers' replay windows).
const ctx = GroupSecurityContext.fromConfig(cfg, clientMember);
let servers: OscoreServer[] = [];
let proxy: TestProxy;
let client: TestClient;

beforeAll(async () => {
  // A free group port: the one a throwaway socket got.
  const probe = await UdpTransport.bind({ address: LOOPBACK });
  GROUP.port = probe.address().port;
  await probe.close();
  servers = [await startOscoreServer(serverMembers[0], 'A'), await startOscoreServer(serverMembers[1], 'B')];
  const allow: { address: string; port: number; groups: string[] }[] = [];
  proxy = await startProxy(LOOPBACK, [{ name: 'secure', address: GROUP.address, port: GROUP.port }], allow);
  client = await startClient(proxy.port, LOOPBACK);
  allow.push({ address: LOOPBACK, port: client.port, groups: ['secure'] });
});

afterAll(async () => {
  await client?.close();
  await proxy?.close();
  for (const s of servers) {
    await s.membership.leave();
    await s.udp.close();
  }
});

/** GET /temp to the group through the proxy, protected in group mode (Uri-Path inside, Proxy-Scheme outside). */
async function protectedGet(): Promise<{ binding: GroupRequestBinding; responses: GroupResponse[] }> {
  let binding: GroupRequestBinding | undefined;
  const handle = await client.client.request({
    group: GROUP,
    path: '/temp',
    timeoutSeconds: 1,
    prepare: (msg) => {
      const p = groupProtectRequest(ctx, msg);
      if (!p.ok) throw new Error(p.reason);
      binding = p.binding;
      return p.message;
    },
  });
  const responses = await handle.finished();
  return { binding: binding!, responses };
}

describe('Group OSCORE end to end through the proxy', () => {
  it('the proxy forwards a request it cannot read and relays each protected response with Reply-From', async () => {
    const { binding, responses } = await protectedGet();
    expect(responses).toHaveLength(2);

    // What the servers got from the proxy: outer FETCH, the OSCORE option, no Uri-Path or method in clear,
    // and none of the proxy's options (Proxy-Scheme, Uri-Host, Uri-Port, Multicast-Timeout).
    for (const s of servers) {
      expect(s.verified).toBe(1);
      const [req] = s.received;
      // RFC 8613 4.2: the outer code of a request without Observe is POST.
      expect(req.code).toBe(CoapCode.POST);
      expect(getOption(req, O.URI_PATH)).toBeUndefined();
      expect(req.payload.includes(Buffer.from('temp'))).toBe(false);
      for (const n of [O.PROXY_SCHEME, O.URI_HOST, O.URI_PORT, proxy.proxy.numbers.multicastTimeoutOption]) {
        expect(getOption(req, n)).toBeUndefined();
      }
    }

    // The client verifies each relayed response with its Group OSCORE binding; Reply-From (outer, class U)
    // names the server whose signature is inside.
    const ports = new Map(servers.map((s) => [s.udp.address().port, s.name]));
    const seen: string[] = [];
    for (const r of responses) {
      expect(r.payload.includes(Buffer.from('21.5'))).toBe(false);
      expect(decodeOscoreOption(getOption(r.message, O.OSCORE)!).group).toBe(true);
      const v = groupVerifyResponse(binding, r.message);
      expect(v.ok).toBe(true);
      if (!v.ok) continue;
      const name = ports.get(r.origin!.port!);
      expect(v.message.code).toBe(CoapCode.CONTENT);
      expect(v.message.payload.toString()).toBe(`${name}: 21.5`);
      const signer = v.sender.senderId.toString('hex');
      expect(signer).toBe(name === 'A' ? '0a' : '0b');
      seen.push(name!);
    }
    expect(seen.sort()).toEqual(['A', 'B']);
  });

  it('a response altered on the proxy leg fails the client verification', async () => {
    const { binding, responses } = await protectedGet();
    const [r] = responses;
    const tampered = { ...r.message, payload: Buffer.from(r.message.payload) };
    tampered.payload[0] ^= 0x01;
    expect(groupVerifyResponse(binding, tampered).ok).toBe(false);
    // The untouched one still verifies (the failed attempt moved no replay state).
    expect(groupVerifyResponse(binding, r.message).ok).toBe(true);
  });
});
