// CommandBus contract: the api runs a command on whichever gateway serves, exactly one of them, and gets
// 504 when nobody answers in time.
import type { DeviceCommand, DeviceCommandResult } from '@lwm2m/server';
import { describe, expect, it } from 'vitest';
import { type FixtureFactory, useFixture } from './fixture';

let n = 0;
function command(overrides: Partial<DeviceCommand> = {}): DeviceCommand {
  n++;
  return {
    id: `cmd-${n}-${Math.random().toString(36).slice(2, 6)}`,
    endpoint: 'urn:cmd:dev',
    op: 'read',
    path: '/3/0/0',
    timeoutMs: 3000,
    createdAt: Date.now(),
    ...overrides,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function describeCommandBusContract(name: string, factory: FixtureFactory): void {
  describe(`CommandBus contract: ${name}`, () => {
    const fx = useFixture(factory);

    it('runs a command on a serving gateway and returns its result', async () => {
      const { commands, peer } = fx();
      const seen: DeviceCommand[] = [];
      const stop = await peer.commands.serve(async (cmd) => {
        seen.push(cmd);
        return {
          id: cmd.id,
          ok: true,
          status: 200,
          coapCode: '2.05',
          contentFormat: 112,
          values: [{ path: '/3/0/0', type: 'string', value: 'ACME' }],
        };
      });
      const cmd = command({ values: [{ path: '/3/0/14', type: 'string', value: '+02' }], replace: false });
      const result = await commands.execute(cmd);
      expect(result).toEqual({
        id: cmd.id,
        ok: true,
        status: 200,
        coapCode: '2.05',
        contentFormat: 112,
        values: [{ path: '/3/0/0', type: 'string', value: 'ACME' }],
      });
      expect(seen).toEqual([cmd]);
      await stop();
    });

    it('answers 504 when no gateway answers within the timeout', async () => {
      const { commands } = fx();
      const started = Date.now();
      const result = await commands.execute(command({ timeoutMs: 300 }));
      expect(result).toMatchObject({ ok: false, status: 504 });
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    });

    it('answers 504 when the gateway is slower than the timeout', async () => {
      const { commands, peer } = fx();
      const stop = await peer.commands.serve(async (cmd) => {
        await sleep(600);
        return { id: cmd.id, ok: true, status: 204 };
      });
      expect(await commands.execute(command({ timeoutMs: 200 }))).toMatchObject({ ok: false, status: 504 });
      await stop();
    });

    it('answers 504 without running a command whose deadline has passed', async () => {
      const { commands, peer } = fx();
      let runs = 0;
      const stop = await peer.commands.serve(async (cmd) => {
        runs++;
        return { id: cmd.id, ok: true, status: 204 };
      });
      const stale = command({ createdAt: Date.now() - 10_000, timeoutMs: 1000 });
      expect(await commands.execute(stale)).toMatchObject({ id: stale.id, ok: false, status: 504 });
      expect(runs).toBe(0);
      await stop();
    });

    it('turns a failing handler into a 500 result', async () => {
      const { commands } = fx();
      const stop = await commands.serve(async () => {
        throw new Error('socket gone');
      });
      const cmd = command();
      expect(await commands.execute(cmd)).toMatchObject({
        id: cmd.id,
        ok: false,
        status: 500,
        error: 'socket gone',
      });
      await stop();
    });

    it('runs each command on exactly one of two serving gateways', async () => {
      const { commands, peer } = fx();
      const runs = new Map<string, string[]>();
      const serveAs =
        (gateway: string) =>
        async (cmd: DeviceCommand): Promise<DeviceCommandResult> => {
          runs.set(cmd.id, [...(runs.get(cmd.id) ?? []), gateway]);
          await sleep(5);
          return { id: cmd.id, ok: true, status: 200, coapCode: '2.05' };
        };
      const stopA = await commands.serve(serveAs('a'));
      const stopB = await peer.commands.serve(serveAs('b'));
      const cmds = Array.from({ length: 30 }, () => command());
      const results = await Promise.all(cmds.map((c) => commands.execute(c)));
      expect(results.every((r) => r.ok)).toBe(true);
      expect(results.map((r) => r.id)).toEqual(cmds.map((c) => c.id));
      for (const c of cmds) expect(runs.get(c.id)).toHaveLength(1);
      await sleep(100);
      expect([...runs.values()].flat()).toHaveLength(30);
      await Promise.all([stopA(), stopB()]);
    });

    it('stops taking commands once serve is stopped', async () => {
      const { commands, peer } = fx();
      let runs = 0;
      const stop = await peer.commands.serve(async (cmd) => {
        runs++;
        return { id: cmd.id, ok: true, status: 204 };
      });
      expect(await commands.execute(command())).toMatchObject({ ok: true });
      await stop();
      expect(await commands.execute(command({ timeoutMs: 300 }))).toMatchObject({ status: 504 });
      expect(runs).toBe(1);
    });
  });
}
