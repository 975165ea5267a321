// The few Express request/response members the api uses (the repo has no @types/express).
export interface HttpRequest {
  method: string;
  url: string;
  originalUrl?: string;
  path: string;
  /** The parsed query string (Express' default parser: a string, an array or an object per name). */
  query?: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined> & { authorization?: string };
  socket?: { remoteAddress?: string };
  on(event: 'close', listener: () => void): unknown;
  off(event: 'close', listener: () => void): unknown;
}

export interface HttpResponse {
  readonly headersSent: boolean;
  readonly writableEnded: boolean;
  /** write() returned false and 'drain' has not come yet. */
  readonly writableNeedDrain: boolean;
  status(code: number): this;
  type(contentType: string): this;
  location(url: string): this;
  setHeader(name: string, value: string): unknown;
  send(body: string): unknown;
  write(chunk: string): boolean;
  end(): unknown;
  /** Closes the connection at once (a stream whose client stopped reading). */
  destroy(): unknown;
  flushHeaders(): void;
  on(event: 'close' | 'drain', listener: () => void): unknown;
  off(event: 'close' | 'drain', listener: () => void): unknown;
}
