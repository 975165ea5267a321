// A group member built on the `coap` npm package (node-coap), started inside a network namespace by the
// group-proxy tests: joins the multicast group, serves /r (observable). A line "change" on stdin bumps the
// value and notifies the observers; "delay <ms>" delays the next answers.
import coap from 'coap';
import { setTimeout } from 'node:timers';
import { createInterface } from 'node:readline';

const [group, name] = process.argv.slice(2);
let value = 0;
let delayMs = 0;
const observers = new Set();
const server = coap.createServer({ multicastAddress: group, type: 'udp4' });
server.on('request', (req, res) => {
  if (req.url.split('?')[0] !== '/r') {
    res.code = '4.04';
    return res.end();
  }
  const answer = () => {
    if (req.headers.Observe === 0) {
      res.setOption('Content-Format', 'text/plain');
      res.write(`${name}:${value}`);
      observers.add(res);
      res.on('finish', () => observers.delete(res));
    } else {
      res.end(`${name}:${value}`);
    }
  };
  if (delayMs > 0) setTimeout(answer, delayMs);
  else answer();
});
server.listen(5683, () => process.stdout.write('ready\n'));
createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, arg] = line.trim().split(' ');
  if (cmd === 'change') {
    value++;
    for (const res of observers) res.write(`${name}:${value}`);
  } else if (cmd === 'delay') {
    delayMs = Number(arg);
  }
});
