// A multicast group member for the api's multicast groups (test/group-proxy/api-multicast.spec.ts), on the
// `coap` npm package (node-coap) inside a network namespace: GET /3/0/0 answers its name (text/plain) or what
// "answer" set, Observe on it registers; GET /3/0 answers link-format (no LwM2M value); PUT or POST /3/0/15
// stores the payload and answers 2.04 (then GET /3/0/15 reads it back, application/json); POST /3/0/4
// answers 2.04; anything else 4.04. Prints "ready", then "<METHOD> <path> <payload>" per request it served.
// Lines on stdin, each acknowledged with "ack <line>" on stdout, <cf> a Content-Format number and <hex> a
// payload (the test encodes it with libs/lwm2m):
//   answer <cf> <hex>   what GET /3/0/0 answers from now on
//   notify <cf> <hex>   the same, and a notification of it to the observers (the next Observe number)
//   stale <cf> <hex>    a notification numbered two below the last one sent (RFC 7641 3.4: older, reordered)
import coap from 'coap';
import { Buffer } from 'node:buffer';
import { createInterface } from 'node:readline';

const [group, name] = process.argv.slice(2);
let tz = '';
/** GET /3/0/0's answer: its Content-Format and payload. */
let current = { cf: 0, payload: Buffer.from(name) };
const observers = new Set();
const server = coap.createServer({ multicastAddress: group, type: 'udp4' });
server.on('request', (req, res) => {
  const path = req.url.split('?')[0];
  process.stdout.write(`${req.method} ${path} ${req.payload.toString()}\n`);
  if (path === '/3/0/0' && req.method === 'GET') {
    res.setOption('Content-Format', current.cf);
    if (req.headers.Observe === 0) {
      res.write(current.payload);
      observers.add(res);
      res.on('finish', () => observers.delete(res));
    } else res.end(current.payload);
  } else if (path === '/3/0' && req.method === 'GET') {
    res.setOption('Content-Format', 'application/link-format');
    res.end('</3/0/0>,</3/0/15>');
  } else if (path === '/3/0/15' && (req.method === 'PUT' || req.method === 'POST')) {
    tz = req.payload.toString();
    res.code = '2.04';
    res.end();
  } else if (path === '/3/0/15' && req.method === 'GET') {
    res.setOption('Content-Format', 'application/json');
    res.end(tz);
  } else if (path === '/3/0/4' && req.method === 'POST') {
    res.code = '2.04';
    res.end();
  } else {
    res.code = '4.04';
    res.end();
  }
});
server.listen(5683, () => process.stdout.write('ready\n'));
createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, cf, hex] = line.trim().split(' ');
  const next = { cf: Number(cf), payload: Buffer.from(hex ?? '', 'hex') };
  if (cmd === 'answer' || cmd === 'notify') current = next;
  for (const res of cmd === 'answer' ? [] : observers) {
    res.setOption('Content-Format', next.cf);
    if (cmd === 'stale') {
      // node-coap numbers each write one above the last (_counter): this one goes out two below it.
      const last = res._counter;
      res._counter = last - 2;
      res.write(next.payload);
      res._counter = last;
    } else res.write(next.payload);
  }
  process.stdout.write(`ack ${line.trim()}\n`);
});
