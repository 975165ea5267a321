// Errors of the CoAP message layer (RFC 7252 section 4), seen by client code awaiting an exchange.

/** Base class: `reason` is a stable code for counters and logs. */
export class CoapExchangeError extends Error {
  override readonly name: string = 'CoapExchangeError';
  constructor(
    readonly reason: 'timeout' | 'reset' | 'cancelled' | 'closed' | 'blockwise' | 'send-failed',
    message: string,
  ) {
    super(message);
  }
}

/** RFC 7252 section 4.2: no ACK after MAX_RETRANSMIT retransmissions, or no response in time. */
export class CoapTimeoutError extends CoapExchangeError {
  override readonly name = 'CoapTimeoutError';
  constructor(message = 'CoAP exchange timed out') {
    super('timeout', message);
  }
}

/** RFC 7252 section 4.2/4.3: the peer answered with RST. */
export class CoapResetError extends CoapExchangeError {
  override readonly name = 'CoapResetError';
  constructor(message = 'CoAP peer answered with Reset') {
    super('reset', message);
  }
}
