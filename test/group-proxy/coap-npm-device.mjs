// A multicast group member for the api's multicast groups (test/group-proxy/api-multicast.spec.ts), on the
// `coap` npm package (node-coap) inside a network namespace: GET /3/0/0 answers its name (text/plain),
// Observe on it registers; PUT or POST /3/0/15 stores the payload and answers 2.04 (then GET /3/0/15 reads
// it back); POST /3/0/4 answers 2.04; anything else 4.04. Prints "ready", then "<METHOD> <path> <payload>"
// per request it served.
import coap from 'coap';
import { createInterface } from 'node:readline';

const [group, name] = process.argv.slice(2);
let tz = '';
const observers = new Set();
const server = coap.createServer({ multicastAddress: group, type: 'udp4' });
server.on('request', (req, res) => {
  const path = req.url.split('?')[0];
  process.stdout.write(`${req.method} ${path} ${req.payload.toString()}\n`);
  if (path === '/3/0/0' && req.method === 'GET') {
    res.setOption('Content-Format', 'text/plain');
    if (req.headers.Observe === 0) {
      res.write(name);
      observers.add(res);
      res.on('finish', () => observers.delete(res));
    } else res.end(name);
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
  if (line.trim() === 'change') for (const res of observers) res.write(`${name}+`);
});
