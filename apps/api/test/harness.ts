// Starts the api on a free port over given ports and calls it with Node's fetch.
import type { AddressInfo } from 'node:net';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { type ApiAppOptions, createApiApp } from '../src/create-api-app';
import type { ApiPorts } from '../src/tokens';

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed JSON body (undefined when empty or not JSON). */
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface TestApi {
  app: NestExpressApplication;
  base: string;
  call(
    method: string,
    path: string,
    opts?: { body?: unknown; raw?: string; headers?: Record<string, string> },
  ): Promise<Reply>;
  close(): Promise<void>;
}

export async function startApi(ports: ApiPorts, opts: ApiAppOptions = {}): Promise<TestApi> {
  const app = await createApiApp(ports, { logger: false, shutdownHooks: false, ...opts });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  return {
    app,
    base,
    async call(method, path, o = {}) {
      const hasBody = o.body !== undefined || o.raw !== undefined;
      const res = await fetch(base + path, {
        method,
        headers: { ...(hasBody ? { 'content-type': 'application/json' } : {}), ...o.headers },
        ...(hasBody ? { body: o.raw ?? JSON.stringify(o.body) } : {}),
      });
      const text = await res.text();
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = undefined;
      }
      return { status: res.status, headers: res.headers, text, body };
    },
    close: () => app.close(),
  };
}

/** Reads SSE messages from a streaming response until `count` arrived (comments are collected apart). */
export async function readSse(
  res: Response,
  until: (msgs: SseMessage[], comments: string[]) => boolean,
  timeoutMs = 5000,
): Promise<{ messages: SseMessage[]; comments: string[] }> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const messages: SseMessage[] = [];
  const comments: string[] = [];
  let buf = '';
  const deadline = Date.now() + timeoutMs;
  while (!until(messages, comments)) {
    if (Date.now() > deadline) throw new Error(`SSE: timed out with ${messages.length} messages`);
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let sep: number;
    while ((sep = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, sep);
      buf = buf.slice(sep + 2);
      const msg: SseMessage = { data: '' };
      let isMessage = false;
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) comments.push(line.slice(1).trim());
        else {
          const i = line.indexOf(':');
          const field = line.slice(0, i);
          const val = line.slice(i + 1).replace(/^ /, '');
          if (field === 'id') msg.id = val;
          else if (field === 'event') msg.event = val;
          else if (field === 'data') msg.data += val;
          isMessage = true;
        }
      }
      if (isMessage) messages.push(msg);
    }
  }
  await reader.cancel().catch(() => undefined);
  return { messages, comments };
}

export interface SseMessage {
  id?: string;
  event?: string;
  data: string;
}
