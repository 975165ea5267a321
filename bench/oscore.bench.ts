// OSCORE (libs/oscore) on a typical LwM2M notification: protect+verify against the plain CoAP
// encode+decode of the same message measured in the same run, and Group OSCORE's group mode (with its
// countersignature) and pairwise mode. Run alone: npx tsx bench/oscore.bench.ts
import { CoapCode, CoapType, createMessage, decodeMessage, encodeMessage, OptionNumber } from '@lwm2m/coap';
import {
  GroupSecurityContext,
  groupProtectRequest,
  groupVerifyRequest,
  protectRequest,
  protectResponse,
  SecurityContext,
  SignatureAlgorithms,
  verifyRequest,
  verifyResponse,
} from '@lwm2m/oscore';
import { typicalNotification } from './coap-codec.bench';
import { bench, report } from './harness';

export function runOscoreBench(): void {
  const msg = typicalNotification();
  const client = new SecurityContext({
    masterSecret: Buffer.alloc(16, 1),
    senderId: Buffer.from([1]),
    recipientId: Buffer.from([2]),
  });
  const server = client.mirrored();
  const observe = createMessage({
    type: CoapType.CON,
    code: CoapCode.GET,
    options: [{ number: OptionNumber.OBSERVE, value: Buffer.alloc(0) }],
  });
  const reg = protectRequest(client, observe);
  if (!reg.ok) throw new Error(reg.reason);
  const atServer = verifyRequest(reg.message, () => server);
  if (!atServer.ok) throw new Error(atServer.reason);

  console.log('\nOSCORE: a notification protected by the server and verified by the client');
  let sink = 0;
  const coap = bench('CoAP encodeMessage+decodeMessage', () => {
    sink += decodeMessage(encodeMessage(msg)).messageId;
  });
  const oscore = bench('OSCORE protectResponse+encode+decode+verifyResponse', () => {
    const p = protectResponse(atServer.binding, msg);
    if (!p.ok) throw new Error(p.reason);
    const v = verifyResponse(reg.binding, decodeMessage(encodeMessage(p.message)));
    if (!v.ok) throw new Error(v.reason);
    sink += v.message.payload.length;
  });

  const alg = SignatureAlgorithms.EdDSA_Ed25519;
  const member = (id: number) => {
    const privateKey = alg.randomPrivateKey();
    const publicKey = alg.publicKey(privateKey);
    return { senderId: Buffer.from([id]), privateKey, publicKey, credential: Buffer.from(publicKey) };
  };
  const a = member(10);
  const b = member(11);
  const config = {
    gid: '0102',
    masterSecret: '0102030405060708090a0b0c0d0e0f10',
    groupEncryptionAlg: 10,
    signatureAlg: alg.id,
    aeadAlg: 10,
    gmCredential: 'aa',
    members: [a, b].map((m) => ({
      senderId: m.senderId.toString('hex'),
      credential: m.credential.toString('hex'),
      publicKey: Buffer.from(m.publicKey).toString('hex'),
    })),
  };
  const A = GroupSecurityContext.fromConfig(config, a);
  const B = GroupSecurityContext.fromConfig(config, b);
  const request = createMessage({ type: CoapType.NON, code: CoapCode.GET, payload: msg.payload });
  const groupMode = bench(
    'Group OSCORE group mode (Ed25519) protect+verify',
    () => {
      const p = groupProtectRequest(A, request);
      if (!p.ok) throw new Error(p.reason);
      const v = groupVerifyRequest(p.message, () => B);
      if (!v.ok) throw new Error(v.reason);
      sink += v.message.payload.length;
    },
    1000,
  );
  const pairwise = bench('Group OSCORE pairwise mode protect+verify', () => {
    const p = groupProtectRequest(A, request, { pairwiseTo: b.senderId });
    if (!p.ok) throw new Error(p.reason);
    const v = groupVerifyRequest(p.message, () => B);
    if (!v.ok) throw new Error(v.reason);
    sink += v.message.payload.length;
  });
  report([coap, oscore, pairwise, groupMode], coap);
  if (sink === 42) console.log('');
}

if (require.main === module) runOscoreBench();
