/**
 * The one error a decoder of network input may throw. Anything else escaping a decoder is a bug
 * (the fuzz tests assert this). `reason` is a stable machine-readable code for counters and logs;
 * `message` is for humans and never contains key material.
 */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  constructor(
    /** Stable code, e.g. 'truncated', 'bad-option-delta', 'bad-tlv-length'. */
    readonly reason: string,
    message: string,
    /** Which codec raised it, e.g. 'coap', 'tlv', 'senml-json'. */
    readonly codec: string = 'bytes',
  ) {
    super(`${codec}: ${message}`);
  }
}
