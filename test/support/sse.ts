// A Server-Sent Events reader over fetch (Node 20 has no EventSource): collects events for assertions.

export interface SseEvent {
  event: string;
  id?: string;
  data: string;
}

export interface SseStream {
  events: SseEvent[];
  /** Resolves once `count` events match `pred` (rejects after `timeoutMs`). */
  waitFor(pred: (e: SseEvent) => boolean, count?: number, timeoutMs?: number): Promise<SseEvent[]>;
  close(): void;
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const abort = new AbortController();
  const res = await fetch(url, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: abort.signal,
  });
  if (!res.ok || !res.body) throw new Error(`SSE ${url}: HTTP ${res.status}`);
  const events: SseEvent[] = [];
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const e: SseEvent = { event: 'message', data: '' };
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue;
            const i = line.indexOf(':');
            const field = i < 0 ? line : line.slice(0, i);
            const v = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
            if (field === 'event') e.event = v;
            else if (field === 'id') e.id = v;
            else if (field === 'data') data.push(v);
          }
          if (data.length) {
            e.data = data.join('\n');
            events.push(e);
          }
        }
      }
    } catch {
      // aborted
    }
  })();
  return {
    events,
    async waitFor(pred, count = 1, timeoutMs = 15_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const hits = events.filter(pred);
        if (hits.length >= count) return hits;
        if (Date.now() > end) {
          throw new Error(
            `SSE: ${hits.length}/${count} matching events; got ${events.map((x) => x.event).join(',')}`,
          );
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close() {
      abort.abort();
    },
  };
}
