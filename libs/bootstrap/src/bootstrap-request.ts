// LwM2M TS 1.2 Transport 6.1 (Bootstrap Interface over CoAP): the client's requests to the Bootstrap-Server,
// Bootstrap-Request "POST /bs?ep={Endpoint Client Name}&pct={Preferred Content Format}" (pct: 1.1+) and
// Bootstrap-Pack-Request "GET /bspack?ep={Endpoint Client Name}" (1.2). Network input: parsed, never trusted.
import { DecodeError } from '@lwm2m/bytes';

export interface BootstrapRequestParams {
  endpoint: string;
  /** Preferred Content Format (TS 1.1 Transport 6.1.1), when given. */
  preferredContentFormat?: number;
}

/** An Endpoint Client Name: 1..128 printable characters (no control characters: it reaches logs and keys). */
const ENDPOINT = /^[\x21-\x7e\u00a0-\uffff][\x20-\x7e\u00a0-\uffff]{0,127}$/u;

/**
 * The Uri-Query values of a Bootstrap-Request. Throws DecodeError (-> 4.00) when ep is missing, repeated or
 * not a plausible name, or pct is not a Content-Format number. Unknown parameters are ignored.
 */
export function parseBootstrapQuery(query: readonly string[]): BootstrapRequestParams {
  let endpoint: string | undefined;
  let pct: number | undefined;
  for (const q of query) {
    const eq = q.indexOf('=');
    const name = eq === -1 ? q : q.slice(0, eq);
    const value = eq === -1 ? '' : q.slice(eq + 1);
    if (name === 'ep') {
      if (endpoint !== undefined) throw new DecodeError('ep-repeated', 'ep is given twice', 'bootstrap');
      if (!ENDPOINT.test(value))
        throw new DecodeError('bad-ep', 'ep is not a valid Endpoint Client Name', 'bootstrap');
      endpoint = value;
    } else if (name === 'pct') {
      if (!/^\d{1,5}$/.test(value) || Number(value) > 65535)
        throw new DecodeError('bad-pct', 'pct is not a Content-Format number', 'bootstrap');
      pct = Number(value);
    }
  }
  if (endpoint === undefined) throw new DecodeError('no-ep', 'ep is missing', 'bootstrap');
  return pct === undefined ? { endpoint } : { endpoint, preferredContentFormat: pct };
}
