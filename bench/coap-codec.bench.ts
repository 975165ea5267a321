// CoAP encode+decode of a typical LwM2M notification, against JSON.stringify+JSON.parse of the same
// content measured in the same run (the acceptance's baseline).
import {
  CoapType,
  decodeMessage,
  encodeMessage,
  OptionNumber,
  type CoapMessage,
  encodeUint,
} from '@lwm2m/coap';
import { bench, report } from './harness';

/** A temperature notification (object 3303) as a device sends it: NON 2.05, Observe, SenML JSON. */
export function typicalNotification(): CoapMessage {
  const payload = Buffer.from(JSON.stringify([{ bn: '/3303/0/', n: '5700', v: 23.5, t: 1763776000 }]));
  return {
    type: CoapType.NON,
    code: 0x45, // 2.05 Content
    messageId: 0x7d34,
    token: Buffer.from('a1b2c3d4e5f60718', 'hex'),
    options: [
      { number: OptionNumber.OBSERVE, value: encodeUint(0x01a2b3) },
      { number: OptionNumber.CONTENT_FORMAT, value: encodeUint(110) },
    ],
    payload,
  };
}

export function runCoapCodecBench(): void {
  const msg = typicalNotification();
  const wire = encodeMessage(msg);
  // The same content as a JSON document: what a JSON-over-UDP protocol would carry.
  const asJson = {
    type: 'NON',
    code: '2.05',
    messageId: msg.messageId,
    token: msg.token.toString('hex'),
    observe: 0x01a2b3,
    contentFormat: 110,
    payload: msg.payload.toString(),
  };
  console.log(`\nCoAP codec: typical LwM2M notification (${wire.length} bytes on the wire)`);
  let sink = 0;
  const json = bench('JSON.stringify+JSON.parse', () => {
    const o = JSON.parse(JSON.stringify(asJson)) as { messageId: number };
    sink += o.messageId;
  });
  const coap = bench('CoAP encodeMessage+decodeMessage', () => {
    const m = decodeMessage(encodeMessage(msg));
    sink += m.messageId;
  });
  const dec = bench('CoAP decodeMessage only', () => {
    sink += decodeMessage(wire).messageId;
  });
  const enc = bench('CoAP encodeMessage only', () => {
    sink += encodeMessage(msg).length;
  });
  report([json, coap, dec, enc], json);
  if (sink === 42) console.log('');
}
