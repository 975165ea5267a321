// Errors of the DTLS layer: an alert to send (RFC 5246 section 7.2) or a closed/failed session.
import { AlertDescription, AlertLevel } from './constants';

const NAMES = new Map<number, string>(Object.entries(AlertDescription).map(([k, v]) => [v, k]));

/** The name of an alert description, e.g. 40 -> "handshake_failure". */
export function alertName(description: number): string {
  return NAMES.get(description) ?? `alert(${description})`;
}

/** A protocol failure that ends the handshake or session with a fatal alert of this description. */
export class DtlsAlertError extends Error {
  override readonly name = 'DtlsAlertError';
  constructor(
    readonly description: number,
    message: string,
    readonly level: number = AlertLevel.fatal,
  ) {
    super(`dtls: ${alertName(description)}: ${message}`);
  }
}

/** Raised to callers of a client handshake or send when the session failed or was closed. */
export class DtlsError extends Error {
  override readonly name = 'DtlsError';
  constructor(
    /** Stable code: 'timeout', 'alert', 'closed', 'limit', 'handshake'. */
    readonly code: string,
    message: string,
  ) {
    super(`dtls: ${message}`);
  }
}
