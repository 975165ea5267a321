// The processes of the load benches (bench/load.bench.ts, bench/workers.bench.ts): the load generator and the
// raw UDP echo server that gives every figure its baseline, each in its own process.
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import type { Job, JobResult } from './generator';

export const ROOT = resolve(__dirname, '../..');

/** The load process: one job at a time over IPC. */
export function startGenerator(): { run(job: Job): Promise<JobResult>; child: ChildProcess } {
  const child = fork(join(__dirname, 'generator.ts'), [], {
    execArgv: ['--import', 'tsx'],
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return {
    child,
    run: (job) =>
      new Promise((ok, fail) => {
        child.once('message', (m: { ok: boolean; result?: JobResult; error?: string }) =>
          m.ok ? ok(m.result!) : fail(new Error(m.error)),
        );
        child.send(job);
      }),
  };
}

export async function startEchoServer(): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'echo-server.ts')], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((ok) =>
    child.stdout!.on('data', (c: Buffer) => {
      const m = /echo (\d+)/.exec(c.toString());
      if (m) ok(Number(m[1]));
    }),
  );
  return { port, child };
}
