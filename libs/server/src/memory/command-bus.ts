// In-memory CommandBus for unit tests; same semantics as RedisCommandBus (contract suite): each command is
// run by exactly one serving handler, a late or unanswered command gives a 504 result.
import type { DeviceCommand, DeviceCommandResult } from '../commands';
import type { CommandBus } from '../ports';

type Handler = (cmd: DeviceCommand) => Promise<DeviceCommandResult>;

interface Queued {
  cmd: DeviceCommand;
  finish: (result: DeviceCommandResult) => void;
}

interface Worker {
  handler: Handler;
  inflight: Set<Promise<void>>;
}

function timeoutResult(id: string, error: string): DeviceCommandResult {
  return { id, ok: false, status: 504, error };
}

export class InMemoryCommandBus implements CommandBus {
  private readonly queue: Queued[] = [];
  private readonly workers: Worker[] = [];
  private next = 0;

  execute(cmd: DeviceCommand): Promise<DeviceCommandResult> {
    return new Promise((resolve) => {
      let settled = false;
      const item: Queued = {
        cmd: structuredClone(cmd),
        finish: (result) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          const i = this.queue.indexOf(item);
          if (i >= 0) this.queue.splice(i, 1);
          resolve(result);
        },
      };
      const timer = setTimeout(
        () => item.finish(timeoutResult(cmd.id, `no answer within ${cmd.timeoutMs} ms`)),
        cmd.timeoutMs,
      );
      this.queue.push(item);
      this.dispatch();
    });
  }

  async serve(handler: Handler): Promise<() => Promise<void>> {
    const worker: Worker = { handler, inflight: new Set() };
    this.workers.push(worker);
    this.dispatch();
    return async () => {
      const i = this.workers.indexOf(worker);
      if (i >= 0) this.workers.splice(i, 1);
      await Promise.allSettled([...worker.inflight]);
    };
  }

  private dispatch(): void {
    while (this.queue.length > 0 && this.workers.length > 0) {
      const item = this.queue.shift()!;
      const worker = this.workers[this.next++ % this.workers.length]!;
      const { cmd } = item;
      if (Date.now() >= cmd.createdAt + cmd.timeoutMs) {
        item.finish(timeoutResult(cmd.id, 'deadline passed before a gateway took the command'));
        continue;
      }
      const run = worker
        .handler(structuredClone(cmd))
        .catch((err: unknown): DeviceCommandResult => ({
          id: cmd.id,
          ok: false,
          status: 500,
          error: err instanceof Error ? err.message : String(err),
        }))
        .then((result) => item.finish(structuredClone(result)))
        .finally(() => worker.inflight.delete(run));
      worker.inflight.add(run);
    }
  }
}
