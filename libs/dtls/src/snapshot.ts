// A live session as plain data, so another process can continue it without a handshake (the cluster moves
// sessions between nodes). It holds traffic keys: store and transport it as secret material.
import type { Peer, PeerIdentity } from '@lwm2m/transport';
import { EMPTY_BUFFER } from './buffers';
import type { DtlsConnection } from './connection';
import { suiteById } from './crypto/suites';
import type { ReplayWindowState } from './record/replay-window';

export interface DtlsSessionSnapshot {
  v: 1;
  role: 'client' | 'server';
  key: string;
  peer: { address: string; port: number; family?: 'IPv4' | 'IPv6' };
  /** hex; absent when CIDs were not negotiated. */
  cid?: string;
  peerCid?: string;
  cipherSuite: number;
  epoch: number;
  /** hex key + salt of each direction. */
  readKey: string;
  readSalt: string;
  writeKey: string;
  writeSalt: string;
  /** Next sequence number to write in `epoch`. */
  writeSeq: number;
  replay: ReplayWindowState;
  sessionId: string;
  resumed: boolean;
  identity?:
    | { type: 'psk'; identity: string }
    | { type: 'rpk'; publicKey: string }
    | { type: 'x509'; subject: string; certificate: string };
}

export function snapshotOf(c: DtlsConnection): DtlsSessionSnapshot {
  if (!c.established || c.readKeys === undefined || c.writeKeys === undefined || c.suite === undefined)
    throw new Error('dtls: only an established session can be snapshotted');
  return {
    v: 1,
    role: c.role,
    key: c.key,
    peer: { address: c.peer.address, port: c.peer.port, family: c.peer.family },
    cid: c.cid?.toString('hex'),
    peerCid: c.peerCid?.toString('hex'),
    cipherSuite: c.suite.id,
    epoch: c.writeEpoch,
    readKey: c.readKeys.key.toString('hex'),
    readSalt: c.readKeys.salt.toString('hex'),
    writeKey: c.writeKeys.key.toString('hex'),
    writeSalt: c.writeKeys.salt.toString('hex'),
    writeSeq: c.writeSeq1,
    replay: c.replay.state(),
    sessionId: c.sessionId.toString('hex'),
    resumed: c.resumed,
    identity: identityToJson(c.identity),
  };
}

function identityToJson(i: PeerIdentity | undefined): DtlsSessionSnapshot['identity'] {
  if (i === undefined) return undefined;
  if (i.type === 'psk') return i;
  if (i.type === 'rpk') return { type: 'rpk', publicKey: i.publicKey.toString('hex') };
  // A DTLS session never holds an OSCORE identity (that one is per request).
  if (i.type === 'oscore') throw new Error('an OSCORE identity is not a DTLS session identity');
  return { type: 'x509', subject: i.subject, certificate: i.certificate.toString('hex') };
}

export function identityFromJson(i: DtlsSessionSnapshot['identity']): PeerIdentity | undefined {
  if (i === undefined) return undefined;
  if (i.type === 'psk') return i;
  if (i.type === 'rpk') return { type: 'rpk', publicKey: Buffer.from(i.publicKey, 'hex') };
  return { type: 'x509', subject: i.subject, certificate: Buffer.from(i.certificate, 'hex') };
}

/** Zero-length fields (no CID of the peer's, no session id) share one empty Buffer. */
function fromHex(hex: string): Buffer {
  return hex.length === 0 ? EMPTY_BUFFER : Buffer.from(hex, 'hex');
}

/** Loads a snapshot into a fresh connection; `sequenceGap` skips write sequence numbers the old owner may have used. */
export function applySnapshot(c: DtlsConnection, s: DtlsSessionSnapshot, sequenceGap: number): Peer {
  const suite = suiteById(s.cipherSuite);
  if (s.v !== 1 || suite === undefined || s.epoch !== 1)
    throw new Error('dtls: unsupported session snapshot');
  c.suite = suite;
  c.readEpoch = 1;
  c.writeEpoch = 1;
  // back into key block order: client key, server key, client salt, server salt
  const mine = c.role === 'client';
  c.keyBlock = Buffer.from(
    mine
      ? s.writeKey + s.readKey + s.writeSalt + s.readSalt
      : s.readKey + s.writeKey + s.readSalt + s.writeSalt,
    'hex',
  );
  c.readReady = true;
  c.writeReady = true;
  c.writeSeq1 = s.writeSeq + sequenceGap;
  c.replay.load(s.replay);
  c.cid = s.cid === undefined ? undefined : fromHex(s.cid);
  c.peerCid = s.peerCid === undefined ? undefined : fromHex(s.peerCid);
  c.sessionId = fromHex(s.sessionId);
  c.resumed = s.resumed;
  c.identity = identityFromJson(s.identity);
  c.established = true;
  return c.peer;
}
