// One HTTP POST of a JSON body to an operator's endpoint, bounded in time, optionally signed (HMAC-SHA256 of
// the body with a shared secret, header X-Lwm2m-Signature: sha256=<hex>). A non-2xx answer is an error so the
// queue retries it with backoff. The secret and the URL's credentials never reach an error message.
import { createHmac } from 'node:crypto';

export interface WebhookTarget {
  url: string;
  secret?: string;
}

export class WebhookError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'WebhookError';
  }
}

/** The URL without user:password, for logs and errors. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    return u.toString();
  } catch {
    return '<invalid url>';
  }
}

export async function postJson(target: WebhookTarget, body: unknown, timeoutMs: number): Promise<number> {
  const text = JSON.stringify(body);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'lwm2m-scheduler',
  };
  if (target.secret) {
    headers['x-lwm2m-signature'] = 'sha256=' + createHmac('sha256', target.secret).update(text).digest('hex');
  }
  let res: Response;
  try {
    res = await fetch(target.url, {
      method: 'POST',
      headers,
      body: text,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const why =
      err instanceof Error && err.name === 'TimeoutError'
        ? `no answer within ${timeoutMs} ms`
        : 'unreachable';
    throw new WebhookError(`POST ${redactUrl(target.url)}: ${why}`);
  }
  await res.arrayBuffer().catch(() => undefined);
  if (res.status < 200 || res.status > 299) {
    throw new WebhookError(`POST ${redactUrl(target.url)}: HTTP ${res.status}`, res.status);
  }
  return res.status;
}
