// Group observation with Group OSCORE (draft-tiloca-core-observe-multicast-notifications section 6): the cost
// of one multicast notification, protected by the server and verified by a client, in group mode with
// Ed25519 and with P-256, beside the same notification unprotected (encode + decode), all in one run.
// Run alone: npx tsx bench/group-oscore.bench.ts
import {
  CoapCode,
  type CoapMessage,
  CoapType,
  decodeMessage,
  encodeMessage,
  encodeUint,
  OptionNumber,
} from '@lwm2m/coap';
import { GroupOscoreClient, GroupOscoreServer } from '@lwm2m/group-observe';
import {
  type GroupManagerConfig,
  GroupSecurityContext,
  type SignatureAlgorithm,
  SignatureAlgorithms,
} from '@lwm2m/oscore';
import { bench, type BenchResult, fmt, report } from './harness';

function pair(alg: SignatureAlgorithm): { server: GroupOscoreServer; client: GroupOscoreClient } {
  const member = (id: number) => {
    const privateKey = alg.randomPrivateKey();
    const publicKey = alg.publicKey(privateKey);
    return { senderId: Buffer.from([id]), privateKey, publicKey, credential: Buffer.from(publicKey) };
  };
  const s = member(5);
  const c = member(1);
  const cfg: GroupManagerConfig = {
    gid: '57ab2e',
    masterSecret: '0102030405060708090a0b0c0d0e0f10',
    groupEncryptionAlg: 10,
    signatureAlg: alg.id,
    gmCredential: '',
    members: [s, c].map((m) => ({
      senderId: m.senderId.toString('hex'),
      credential: m.credential.toString('hex'),
      publicKey: Buffer.from(m.publicKey).toString('hex'),
    })),
  };
  return {
    server: new GroupOscoreServer({ context: GroupSecurityContext.fromConfig(cfg, s) }),
    client: new GroupOscoreClient({ context: GroupSecurityContext.fromConfig(cfg, c) }),
  };
}

const token = Buffer.from([0x7b, 0x01]);
const PHANTOM: CoapMessage = {
  type: CoapType.NON,
  code: CoapCode.GET,
  messageId: 0,
  token,
  options: [
    { number: OptionNumber.OBSERVE, value: Buffer.alloc(0) },
    { number: OptionNumber.URI_PATH, value: Buffer.from('ps') },
    { number: OptionNumber.URI_PATH, value: Buffer.from('temp') },
  ],
  payload: Buffer.alloc(0),
};

export function runGroupOscoreBench(): void {
  let seq = 1;
  const notification = (): CoapMessage => ({
    type: CoapType.NON,
    code: CoapCode.CONTENT,
    messageId: seq & 0xffff,
    token,
    options: [
      { number: OptionNumber.OBSERVE, value: encodeUint(seq++ & 0xffffff) },
      { number: OptionNumber.CONTENT_FORMAT, value: encodeUint(60) },
    ],
    // A small CBOR reading, as a topic value would be.
    payload: Buffer.from('a2616e6474656d706176fb4035000000000000', 'hex'),
  });
  console.log(
    '\nGroup observation with Group OSCORE: one multicast notification, server protect + client verify',
  );
  let sink = 0;
  const plain = bench('unprotected: encode + decode', () => {
    sink += decodeMessage(encodeMessage(notification())).payload.length;
  });
  const results: BenchResult[] = [plain];
  for (const alg of [SignatureAlgorithms.EdDSA_Ed25519, SignatureAlgorithms.ES256]) {
    const { server, client } = pair(alg);
    const phantom = server.protectPhantomRequest(PHANTOM);
    const bound = client.verifyPhantomRequest(decodeMessage(encodeMessage(phantom)));
    if (!bound) throw new Error('phantom request does not verify');
    const protect = bench(
      `group mode ${alg.name}: protect + encode (server)`,
      () => {
        sink += encodeMessage(server.protectNotification(notification(), phantom)).length;
      },
      1500,
    );
    const both = bench(
      `group mode ${alg.name}: protect + encode + decode + verify`,
      () => {
        const data = encodeMessage(server.protectNotification(notification(), phantom));
        const out = client.unprotectNotification(decodeMessage(data), bound);
        if (!out) throw new Error('notification does not verify');
        sink += out.payload.length;
      },
      1500,
    );
    results.push(protect, both);
    // The client's share: 1 / (t(protect + verify) - t(protect)).
    const verify = 1 / (1 / both.opsPerSec - 1 / protect.opsPerSec);
    console.log(`  ${alg.name}: verify alone (client) ~ ${fmt(verify)} notifications/s`);
  }
  report(results, plain);
  // The ratios above round to 0.00: the slowdown as a factor.
  for (const r of results.slice(1))
    console.log(`  ${r.name}: ${fmt(plain.opsPerSec / r.opsPerSec)} times the unprotected cost`);
  if (sink === 42) console.log('');
}

if (require.main === module) runGroupOscoreBench();
