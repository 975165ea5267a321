// The point of the draft: N observers of one topic cost one datagram per change instead of N.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GroupNotification } from '@lwm2m/group-observe';
import {
  groupSniffer,
  startClient,
  startServer,
  testGroup,
  until,
  type TestClient,
  type TestServer,
} from './support';

const N = 200;

async function observers(s: TestServer, n: number, seen: GroupNotification[][]): Promise<TestClient[]> {
  const clients: TestClient[] = [];
  for (let i = 0; i < n; i += 50) {
    const batch = await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => startClient()));
    await Promise.all(
      batch.map((c, k) => {
        seen[i + k] = [];
        return c.client.observe(s.peer, '/ps/temp', { onNotification: (x) => seen[i + k].push(x) });
      }),
    );
    clients.push(...batch);
  }
  return clients;
}

describe(`${N} observers of one topic`, () => {
  const results: Record<string, number> = {};
  let group: TestServer;
  let traditional: TestServer;
  let groupClients: TestClient[] = [];
  let tradClients: TestClient[] = [];
  const groupSeen: GroupNotification[][] = [];
  const tradSeen: GroupNotification[][] = [];

  beforeAll(async () => {
    group = await startServer(testGroup(2));
    traditional = await startServer(testGroup(3), { threshold: 1_000_000 });
    for (const s of [group, traditional])
      s.topics.set('ps/temp', { payload: Buffer.from('20.0'), contentFormat: 0 });
    groupClients = await observers(group, N, groupSeen);
    tradClients = await observers(traditional, N, tradSeen);
  }, 30_000);

  afterAll(async () => {
    await Promise.all([...groupClients, ...tradClients].map((c) => c.close()));
    await group.close();
    await traditional.close();
    console.log(
      `group observation: ${results.group} datagram(s) per change for ${N} observers; ` +
        `traditional observation: ${results.traditional} datagrams per change`,
    );
  });

  it('group observation: every client is in the group observation, counted by the server', () => {
    expect(group.group.get('ps/temp')?.counter).toBe(N);
    expect(group.endpoint.listObservers('/ps/temp')).toHaveLength(0);
  });

  it('group observation: one change is exactly one datagram (group socket and server metric), and all receive it', async () => {
    const sniffer = await groupSniffer(testGroup(2));
    const unicastBefore = group.endpoint.stats.datagramsOut;
    try {
      await group.publish('/ps/temp', '21.5');
      await until(
        () => groupSeen.every((l) => l.some((n) => n.payload.toString() === '21.5')),
        'all observers',
      );
      await new Promise((r) => setTimeout(r, 50)); // anything extra would have arrived by now
      expect(sniffer.messages).toHaveLength(1);
      expect(group.group.stats.multicastDatagrams).toBe(1);
      expect(group.endpoint.stats.datagramsOut - unicastBefore).toBe(0);
      results.group = sniffer.messages.length;
      for (const l of groupSeen) expect(l.filter((n) => n.source === 'multicast')).toHaveLength(1);
    } finally {
      await sniffer.close();
    }
  });

  it('traditional observation: one change is one unicast datagram per observer', async () => {
    const sniffer = await groupSniffer(testGroup(3));
    const before = traditional.endpoint.stats.datagramsOut;
    try {
      await traditional.publish('/ps/temp', '21.5');
      await until(
        () => tradSeen.every((l) => l.some((n) => n.payload.toString() === '21.5')),
        'all observers',
      );
      const sent = traditional.endpoint.stats.datagramsOut - before;
      expect(sent).toBe(N);
      expect(traditional.group.stats.unicastNotifications).toBe(N);
      expect(sniffer.messages).toHaveLength(0);
      results.traditional = sent;
    } finally {
      await sniffer.close();
    }
  });
});
