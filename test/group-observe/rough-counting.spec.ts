// Section 5 / Appendix B: 1,000 clients in a group observation, 400 of them stop listening without a
// word; one feedback round with the Multicast-Response-Feedback-Divider brings the server's count
// close to the 600 still listening, and the estimate below the cancel threshold ends the observation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getUintOption } from '@lwm2m/coap';
import { groupObserveNumbers, type CountUpdate } from '@lwm2m/group-observe';
import {
  groupSniffer,
  seeded,
  startClient,
  startServer,
  testGroup,
  until,
  type TestClient,
  type TestServer,
} from './support';

const CLIENTS = 1000;
const SILENT = 400;
const GROUP = testGroup(4);

describe('rough counting of 1,000 clients (section 5, Appendix B)', () => {
  let s: TestServer;
  const clients: TestClient[] = [];
  const ended: (number | undefined)[] = [];
  const updates: CountUpdate[] = [];

  beforeAll(async () => {
    s = await startServer(GROUP, {
      roughCounting: {
        desiredConfirmations: 250, // M: Q = ceil(log2(1000 / 250)) = 2
        maxConfirmationWaitMs: 1500,
        dampener: 1, // D = 1: one round moves the estimate all the way (section 5.2.3 example)
        cancelThreshold: 650,
        firstCountAfter: 1000,
      },
      onCountUpdate: (_r, u) => updates.push(u),
    });
    s.topics.set('ps/news', { payload: Buffer.from('a'), contentFormat: 0 });
    for (let i = 0; i < CLIENTS; i += 100) {
      const batch = await Promise.all(
        Array.from({ length: 100 }, (_, k) => startClient({ random: seeded(7000 + i + k), leisureMs: 400 })),
      );
      await Promise.all(
        batch.map((c, k) =>
          c.client.observe(s.peer, '/ps/news', {
            onNotification: () => undefined,
            onEnd: (e) => {
              ended[i + k] = e.code;
            },
          }),
        ),
      );
      clients.push(...batch);
    }
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await s.close();
  });

  it('counts every registration', () => {
    expect(s.group.get('ps/news')?.counter).toBe(CLIENTS);
  });

  it('estimates the 600 listening clients within 15% after one feedback round, then cancels below the threshold', async () => {
    // 400 clients stop listening silently (section 3.4: they simply forget).
    await Promise.all(clients.slice(0, SILENT).map((c) => c.client.close()));
    const sniffer = await groupSniffer(GROUP);
    try {
      s.group.requestFeedback('ps/news');
      await s.publish('/ps/news', 'b');
      await until(() => updates.length === 1, 'the count update', 10_000);
      const u = updates[0];
      const q = getUintOption(sniffer.messages[0].msg, groupObserveNumbers().mrfdOption);
      console.log(
        `rough counting: Q=${q}, R=${s.group.stats.confirmations}, E=${u.estimate}, new count ${u.newCount} (true 600)`,
      );
      expect(q).toBe(2);
      expect(Math.abs(u.newCount - 600)).toBeLessThanOrEqual(90);
      expect(u.cancel).toBe(true); // 600 < 650
      // Section 2.5: the multicast 5.03 without payload, and every listening client sees it.
      await until(() => ended.filter((c) => c !== undefined).length === CLIENTS - SILENT, 'every 5.03', 5000);
      const last = sniffer.messages.at(-1)!.msg;
      expect(last.code).toBe(0xa3);
      expect(last.payload.length).toBe(0);
      expect(ended.slice(SILENT).every((c) => c === 0xa3)).toBe(true);
      expect(ended.slice(0, SILENT).every((c) => c === undefined)).toBe(true);
      expect(s.group.get('ps/news')).toBeUndefined();
      expect(s.group.stats.cancellations).toBe(1);
    } finally {
      await sniffer.close();
    }
  }, 20_000);
});
