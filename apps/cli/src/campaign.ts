// `npm run campaign -- <command>`: a firmware campaign from the terminal, through the REST api.
//   status <id> [--watch]   progress bar and counts (--watch: until it ends)
//   list                    campaigns, newest first
//   pause|resume|cancel <id>
// LWM2M_API_URL (default http://localhost:8080) and LWM2M_API_KEY (Bearer; never printed).
import { type CampaignProgress, formatStatus, progressBar } from './progress';

const base = (process.env.LWM2M_API_URL ?? 'http://localhost:8080').replace(/\/+$/, '');
const key = process.env.LWM2M_API_KEY;

class ApiError extends Error {}

async function call<T>(method: string, path: string): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: key ? { authorization: `Bearer ${key}` } : {},
    });
  } catch (err) {
    throw new ApiError(`cannot reach ${base}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    const p = (body ?? {}) as { title?: string; detail?: string };
    throw new ApiError(`${res.status} ${p.title ?? res.statusText}${p.detail ? `: ${p.detail}` : ''}`);
  }
  return body as T;
}

const idPath = (id: string | undefined) => {
  if (!id) throw new ApiError('a campaign id is needed');
  return `/api/v1/campaigns/${encodeURIComponent(id)}`;
};

async function status(id: string | undefined, watch: boolean): Promise<void> {
  const tty = process.stdout.isTTY === true;
  const width = Math.max(10, Math.min(60, (process.stdout.columns ?? 80) - 30));
  for (;;) {
    const p = await call<CampaignProgress>('GET', idPath(id));
    if (!watch || p.endedAt) {
      if (watch && tty) process.stdout.write('\n');
      process.stdout.write(`${formatStatus(p, width)}\n`);
      return;
    }
    const line = `${progressBar(p, width)} ${p.state}`;
    process.stdout.write(tty ? `\r${line}` : `${line}\n`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, id] = argv.filter((a) => !a.startsWith('--'));
  const watch = argv.includes('--watch');
  switch (command) {
    case 'status':
      return status(id, watch);
    case 'list': {
      const page = await call<{ items: CampaignProgress[] }>('GET', '/api/v1/campaigns?limit=100');
      for (const c of page.items)
        process.stdout.write(`${c.id}  ${c.state.padEnd(9)} ${progressBar(c, 20)}  ${c.name ?? ''}\n`);
      return;
    }
    case 'pause':
    case 'resume':
    case 'cancel': {
      const p = await call<CampaignProgress>('POST', `${idPath(id)}/${command}`);
      process.stdout.write(`${formatStatus(p)}\n`);
      return;
    }
    default:
      process.stderr.write(
        'usage: npm run campaign -- status <id> [--watch] | list | pause <id> | resume <id> | cancel <id>\n' +
          '  LWM2M_API_URL (default http://localhost:8080), LWM2M_API_KEY\n',
      );
      process.exitCode = 2;
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`${err instanceof ApiError ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
