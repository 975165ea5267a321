// EventBus contract: an ordered log every subscriber reads in full (SSE fan-out), resumable from an id.
import type { EventBus, Lwm2mEvent, StoredEvent } from '@lwm2m/server';
import { describe, expect, it } from 'vitest';
import { type FixtureFactory, makeRegistration, useFixture } from './fixture';

function dereg(endpoint: string, n: number): Lwm2mEvent {
  return { type: 'deregistered', endpoint, registrationId: `r${n}` };
}

/** Reads `count` events from a subscription, then aborts it; fails after `ms`. */
async function take(
  bus: EventBus,
  count: number,
  opts: { afterId?: string; endpoint?: string } = {},
  publish?: () => Promise<unknown>,
  ms = 5000,
): Promise<StoredEvent[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  const got: StoredEvent[] = [];
  const iterable = bus.subscribe({ ...opts, signal: ac.signal });
  const reading = (async () => {
    for await (const e of iterable) {
      got.push(e);
      if (got.length >= count) break;
    }
  })();
  await publish?.();
  await reading;
  clearTimeout(timer);
  ac.abort();
  return got;
}

export function describeEventBusContract(name: string, factory: FixtureFactory): void {
  describe(`EventBus contract: ${name}`, () => {
    const fx = useFixture(factory);

    it('delivers events published after subscribe, in order, as stored events', async () => {
      const { events } = fx();
      const reg = makeRegistration('urn:ev:1');
      const ids: string[] = [];
      const got = await take(events, 3, {}, async () => {
        ids.push(await events.publish({ type: 'registered', endpoint: reg.endpoint, registration: reg }));
        ids.push(await events.publish({ type: 'updated', endpoint: reg.endpoint, registration: reg }));
        ids.push(await events.publish(dereg(reg.endpoint, 1)));
      });
      expect(got.map((e) => e.type)).toEqual(['registered', 'updated', 'deregistered']);
      expect(got.map((e) => e.id)).toEqual(ids);
      expect(got[0]).toMatchObject({ type: 'registered', endpoint: 'urn:ev:1', registration: reg });
      expect(typeof got[0]!.at).toBe('number');
    });

    it('does not replay events published before a subscription without afterId', async () => {
      const { events } = fx();
      await events.publish(dereg('old', 0));
      const got = await take(events, 1, {}, () => events.publish(dereg('new', 1)));
      expect(got.map((e) => e.endpoint)).toEqual(['new']);
    });

    it('filters a subscription by endpoint', async () => {
      const { events } = fx();
      const got = await take(events, 2, { endpoint: 'mine' }, async () => {
        await events.publish(dereg('other', 1));
        await events.publish(dereg('mine', 2));
        await events.publish(dereg('other', 3));
        await events.publish(dereg('mine', 4));
      });
      expect(got.map((e) => (e as { registrationId: string }).registrationId)).toEqual(['r2', 'r4']);
    });

    it('resumes after a given event id', async () => {
      const { events } = fx();
      const first = await events.publish(dereg('a', 1));
      await events.publish(dereg('a', 2));
      await events.publish(dereg('a', 3));
      const got = await take(events, 2, { afterId: first });
      expect(got.map((e) => (e as { registrationId: string }).registrationId)).toEqual(['r2', 'r3']);
      const all = await take(events, 3, { afterId: '0-0' });
      expect(all.map((e) => e.id)[0]).toBe(first);
    });

    it('fans every event out to every subscriber, also on another node', async () => {
      const { events, peer } = fx();
      const publish = async () => {
        for (let i = 0; i < 5; i++) await events.publish(dereg('fan', i));
      };
      // '$' is pinned per connection: across nodes, resume from a known id instead.
      const start = await events.publish(dereg('fan', -1));
      const [a, b] = await Promise.all([
        take(events, 5, { afterId: start }),
        take(peer.events, 5, { afterId: start }),
        publish(),
      ]);
      expect(a.map((e) => e.id)).toEqual(b.map((e) => e.id));
      expect(a).toHaveLength(5);
    });

    it('ends a subscription when its signal aborts', async () => {
      const { events } = fx();
      const ac = new AbortController();
      const iterable = events.subscribe({ signal: ac.signal });
      const done = (async () => {
        const got: StoredEvent[] = [];
        for await (const e of iterable) got.push(e);
        return got;
      })();
      await new Promise((r) => setTimeout(r, 50));
      ac.abort();
      expect(await done).toEqual([]);
    });

    it('returns the most recent events, newest last, optionally for one endpoint', async () => {
      const { events } = fx();
      expect(await events.recent(5)).toEqual([]);
      for (let i = 0; i < 6; i++) await events.publish(dereg(i % 2 ? 'odd' : 'even', i));
      const last3 = await events.recent(3);
      expect(last3.map((e) => (e as { registrationId: string }).registrationId)).toEqual(['r3', 'r4', 'r5']);
      const odd = await events.recent(10, 'odd');
      expect(odd.map((e) => (e as { registrationId: string }).registrationId)).toEqual(['r1', 'r3', 'r5']);
    });
  });
}
