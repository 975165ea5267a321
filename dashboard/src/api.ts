// The dashboard's only way to the server: calls go through the route table (routes.ts) with the key kept in
// sessionStorage (gone when the tab closes), and the event stream opens with a short-lived token, since
// EventSource cannot send an Authorization header.
import { ROUTES, routeUrl, type Role, type RouteName } from './routes';
import { EVENT_TYPES } from './event-types';

const KEY_ITEM = 'lwm2m.apiKey';

export interface Session {
  name: string;
  role: Role;
}

/** An answer of the API: status, parsed JSON (or text), and the problem's detail when it is an error. */
export interface ApiReply<T = unknown> {
  status: number;
  ok: boolean;
  body: T;
  /** RFC 9457 problem detail (or title) of an error answer. */
  problem?: string;
}

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY_ITEM);
}

export function forgetKey(): void {
  sessionStorage.removeItem(KEY_ITEM);
}

/** Calls one route of the table. Network failures come back as status 0, never as a thrown error. */
export async function call<T = unknown>(
  route: RouteName,
  opts: {
    params?: Record<string, string | number>;
    query?: Record<string, string | number | undefined>;
    body?: unknown;
    key?: string;
  } = {},
): Promise<ApiReply<T>> {
  const def = ROUTES[route];
  const key = opts.key ?? storedKey();
  const headers: Record<string, string> = { accept: 'application/json, text/plain' };
  if (key) headers.authorization = `Bearer ${key}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(routeUrl(route, opts.params, opts.query), {
      method: def.method,
      headers,
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
    });
  } catch (err) {
    return { status: 0, ok: false, body: undefined as T, problem: `network error: ${String(err)}` };
  }
  const text = await res.text();
  let body: unknown = text;
  if ((res.headers.get('content-type') ?? '').includes('json') && text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  const reply: ApiReply<T> = { status: res.status, ok: res.ok, body: body as T };
  if (!res.ok) {
    const p = body as { detail?: string; title?: string } | string;
    reply.problem = typeof p === 'object' && p ? (p.detail ?? p.title ?? res.statusText) : res.statusText;
  }
  return reply;
}

interface TokenReply {
  token: string;
  expiresAt: string;
  name: string;
  role: Role;
}

/** Signs in: the key is good when it can mint an event-stream token, which also says its name and role. */
export async function signIn(key: string): Promise<Session | string> {
  const r = await call<TokenReply>('eventToken', { key });
  if (!r.ok) return r.status === 401 ? 'This API key is not accepted.' : (r.problem ?? `error ${r.status}`);
  sessionStorage.setItem(KEY_ITEM, key);
  return { name: r.body.name, role: r.body.role };
}

/** The tab's stored key still valid, or no key needed at all (an api without API_KEYS: "anonymous"). */
export async function resumeSession(): Promise<Session | undefined> {
  const r = await call<TokenReply>('eventToken', { key: storedKey() ?? '' });
  if (!r.ok) return undefined;
  return { name: r.body.name, role: r.body.role };
}

/** An LwM2M event as the stream carries it (see libs/server events). */
export interface LiveEvent {
  id: string;
  type: string;
  endpoint?: string;
  at?: number | string;
  values?: Array<{ path: string; value: unknown; type?: string }>;
  [k: string]: unknown;
}

type Listener = (e: LiveEvent) => void;

/**
 * One event stream for the whole page. A token opens it; when it drops, a new token is minted and the stream
 * reopened after the last event seen (?lastEventId=), so nothing is missed.
 */
export class EventFeed {
  private source: EventSource | undefined;
  private lastId: string | undefined;
  private readonly listeners = new Set<Listener>();
  private stopped = false;
  private retry: ReturnType<typeof setTimeout> | undefined;
  connected = false;
  onState: (connected: boolean) => void = () => undefined;

  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  async start(): Promise<void> {
    this.stopped = false;
    const r = await call<TokenReply>('eventToken');
    if (this.stopped) return;
    if (!r.ok) return this.later();
    const src = new EventSource(
      routeUrl(
        'events',
        {},
        { sse_token: r.body.token, ...(this.lastId ? { lastEventId: this.lastId } : {}) },
      ),
    );
    this.source = src;
    src.onopen = () => this.setState(true);
    src.onerror = () => {
      // The browser would retry with the same (soon expired) token: reopen with a new one instead.
      src.close();
      this.setState(false);
      this.later();
    };
    const onMessage = (m: MessageEvent<string>) => {
      if (m.lastEventId) this.lastId = m.lastEventId;
      let e: LiveEvent;
      try {
        e = JSON.parse(m.data) as LiveEvent;
      } catch {
        return;
      }
      for (const l of this.listeners) l(e);
    };
    for (const type of EVENT_TYPES) src.addEventListener(type, onMessage as EventListener);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    this.source?.close();
    this.setState(false);
  }

  private later(): void {
    if (this.stopped) return;
    clearTimeout(this.retry);
    this.retry = setTimeout(() => void this.start(), 2000);
  }

  private setState(c: boolean): void {
    this.connected = c;
    this.onState(c);
  }
}

export { EVENT_TYPES };
