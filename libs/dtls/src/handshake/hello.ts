// RFC 6347 section 4.2.1 / 4.3.2 ClientHello (with cookie) and HelloVerifyRequest; RFC 5246 section
// 7.4.1.3 ServerHello.
import { ByteReader, ByteWriter } from '@lwm2m/bytes';
import { decodeExtensions, encodeExtensions, type Extension } from './extensions';

export interface ClientHello {
  clientVersion: number;
  random: Buffer;
  sessionId: Buffer;
  cookie: Buffer;
  cipherSuites: number[];
  compressionMethods: number[];
  extensions: Extension[];
}

export function decodeClientHello(body: Buffer): ClientHello {
  const r = new ByteReader(body, 'dtls-client-hello');
  const clientVersion = r.u16('client_version');
  const random = r.bytes(32, 'random');
  const sidLen = r.u8('session_id length');
  if (sidLen > 32) r.fail('bad-session-id', 'session_id over 32 bytes');
  const sessionId = r.bytes(sidLen, 'session_id');
  const cookie = r.bytes(r.u8('cookie length'), 'cookie');
  const csLen = r.u16('cipher_suites length');
  if (csLen < 2 || csLen % 2 !== 0) r.fail('bad-cipher-suites', 'cipher_suites length');
  const cs = r.sub(csLen, 'cipher_suites');
  const cipherSuites: number[] = [];
  while (!cs.done) cipherSuites.push(cs.u16());
  const cmLen = r.u8('compression_methods length');
  if (cmLen < 1) r.fail('bad-compression', 'no compression method');
  const compressionMethods = [...r.bytes(cmLen, 'compression_methods')];
  const extensions = decodeExtensions(r);
  return { clientVersion, random, sessionId, cookie, cipherSuites, compressionMethods, extensions };
}

export function encodeClientHello(m: ClientHello): Buffer {
  const w = new ByteWriter(128);
  w.u16(m.clientVersion).bytes(m.random);
  w.u8(m.sessionId.length).bytes(m.sessionId);
  w.u8(m.cookie.length).bytes(m.cookie);
  w.u16(m.cipherSuites.length * 2);
  for (const s of m.cipherSuites) w.u16(s);
  w.u8(m.compressionMethods.length).bytes(Buffer.from(m.compressionMethods));
  encodeExtensions(w, m.extensions);
  return w.toBuffer();
}

export interface ServerHello {
  serverVersion: number;
  random: Buffer;
  sessionId: Buffer;
  cipherSuite: number;
  compressionMethod: number;
  extensions: Extension[];
}

export function decodeServerHello(body: Buffer): ServerHello {
  const r = new ByteReader(body, 'dtls-server-hello');
  const serverVersion = r.u16('server_version');
  const random = r.bytes(32, 'random');
  const sidLen = r.u8('session_id length');
  if (sidLen > 32) r.fail('bad-session-id', 'session_id over 32 bytes');
  const sessionId = r.bytes(sidLen, 'session_id');
  const cipherSuite = r.u16('cipher_suite');
  const compressionMethod = r.u8('compression_method');
  const extensions = decodeExtensions(r);
  return { serverVersion, random, sessionId, cipherSuite, compressionMethod, extensions };
}

export function encodeServerHello(m: ServerHello): Buffer {
  const w = new ByteWriter(96);
  w.u16(m.serverVersion).bytes(m.random);
  w.u8(m.sessionId.length).bytes(m.sessionId);
  w.u16(m.cipherSuite).u8(m.compressionMethod);
  encodeExtensions(w, m.extensions);
  return w.toBuffer();
}

export interface HelloVerifyRequest {
  serverVersion: number;
  cookie: Buffer;
}

export function decodeHelloVerifyRequest(body: Buffer): HelloVerifyRequest {
  const r = new ByteReader(body, 'dtls-hello-verify-request');
  const serverVersion = r.u16('server_version');
  const cookie = r.bytes(r.u8('cookie length'), 'cookie');
  if (!r.done) r.fail('trailing-bytes', 'bytes after cookie');
  return { serverVersion, cookie };
}

export function encodeHelloVerifyRequest(m: HelloVerifyRequest): Buffer {
  return new ByteWriter(3 + m.cookie.length)
    .u16(m.serverVersion)
    .u8(m.cookie.length)
    .bytes(m.cookie)
    .toBuffer();
}
