// RFC 7252 section 4.8: transmission parameters, and 4.8.2: the time values derived from them.

/** RFC 7252 section 4.8.1 defaults; all times in milliseconds. */
export interface TransmissionParams {
  ackTimeout: number;
  ackRandomFactor: number;
  maxRetransmit: number;
  nstart: number;
  defaultLeisure: number;
  /** Bytes per second (RFC 7252 section 4.7). */
  probingRate: number;
  /** RFC 7252 section 4.8.2: maximum one-way delay, 100 s. */
  maxLatency: number;
  /** RFC 7252 section 4.8.2: PROCESSING_DELAY is ACK_TIMEOUT by default. */
  processingDelay?: number;
}

export const DEFAULT_TRANSMISSION_PARAMS: Readonly<TransmissionParams> = Object.freeze({
  ackTimeout: 2_000,
  ackRandomFactor: 1.5,
  maxRetransmit: 4,
  nstart: 1,
  defaultLeisure: 5_000,
  probingRate: 1,
  maxLatency: 100_000,
});

/** RFC 7252 section 4.8.2 derived times, in milliseconds. */
export interface DerivedTimes {
  /** ACK_TIMEOUT * (2^MAX_RETRANSMIT - 1) * ACK_RANDOM_FACTOR: 45 s by default. */
  maxTransmitSpan: number;
  /** ACK_TIMEOUT * (2^(MAX_RETRANSMIT + 1) - 1) * ACK_RANDOM_FACTOR: 93 s by default. */
  maxTransmitWait: number;
  maxLatency: number;
  processingDelay: number;
  /** 2 * MAX_LATENCY + PROCESSING_DELAY: 202 s by default. */
  maxRtt: number;
  /** MAX_TRANSMIT_SPAN + 2 * MAX_LATENCY + PROCESSING_DELAY: 247 s by default. */
  exchangeLifetime: number;
  /** MAX_TRANSMIT_SPAN + MAX_LATENCY: 145 s by default. */
  nonLifetime: number;
}

export function resolveParams(overrides?: Partial<TransmissionParams>): TransmissionParams {
  const p = { ...DEFAULT_TRANSMISSION_PARAMS, ...overrides };
  if (!(p.ackTimeout > 0)) throw new RangeError('ackTimeout must be > 0');
  if (!(p.ackRandomFactor >= 1)) throw new RangeError('ackRandomFactor must be >= 1 (RFC 7252 4.8.1)');
  if (!Number.isInteger(p.maxRetransmit) || p.maxRetransmit < 0)
    throw new RangeError('maxRetransmit must be >= 0');
  if (!Number.isInteger(p.nstart) || p.nstart < 1) throw new RangeError('nstart must be >= 1');
  return p;
}

export function deriveTimes(p: TransmissionParams): DerivedTimes {
  const processingDelay = p.processingDelay ?? p.ackTimeout;
  const maxTransmitSpan = p.ackTimeout * (2 ** p.maxRetransmit - 1) * p.ackRandomFactor;
  const maxTransmitWait = p.ackTimeout * (2 ** (p.maxRetransmit + 1) - 1) * p.ackRandomFactor;
  return {
    maxTransmitSpan,
    maxTransmitWait,
    maxLatency: p.maxLatency,
    processingDelay,
    maxRtt: 2 * p.maxLatency + processingDelay,
    exchangeLifetime: maxTransmitSpan + 2 * p.maxLatency + processingDelay,
    nonLifetime: maxTransmitSpan + p.maxLatency,
  };
}
