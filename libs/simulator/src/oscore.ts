// The simulated device's side of LwM2M over OSCORE (RFC 8613): one security context with the server, the
// seam of libs/oscore on the device's CoAP endpoint. Requests to the server (Register, Update, Send, ...)
// are protected and their responses verified; the server's requests are verified (unprotected ones get
// 4.01) and the answers and notifications protected.
import { leasedSequence, OscoreSeam, SecurityContext, type SequenceLeaseStore } from '@lwm2m/oscore';

export interface DeviceOscoreParams {
  masterSecret: Buffer;
  masterSalt?: Buffer;
  /** The device's Sender ID: the kid of its requests. */
  senderId: Buffer;
  /** The server's Sender ID. */
  recipientId: Buffer;
  idContext?: Buffer;
  sequences?: SequenceLeaseStore;
}

export interface DeviceOscoreState {
  seam: OscoreSeam;
  /** Resolves once the context (and its first sequence lease, when a store is given) is ready. */
  ready: Promise<void>;
  readonly context: SecurityContext;
}

export function deviceOscoreSeam(p: DeviceOscoreParams): DeviceOscoreState {
  const input = {
    masterSecret: p.masterSecret,
    senderId: p.senderId,
    recipientId: p.recipientId,
    ...(p.masterSalt !== undefined ? { masterSalt: p.masterSalt } : {}),
    ...(p.idContext !== undefined ? { idContext: p.idContext } : {}),
  };
  // Without a store the sequence lives as long as the device object (what one simulator run needs).
  let context = new SecurityContext(input);
  const ready =
    p.sequences === undefined
      ? Promise.resolve()
      : leasedSequence({ store: p.sequences, contextKey: p.senderId.toString('hex') }).then((sequence) => {
          context = new SecurityContext(input, { sequence });
        });
  const seam = new OscoreSeam({
    lookup: (kid) => (kid.equals(context.recipientId) ? { context } : undefined),
    contextFor: () => context,
    acceptUnprotected: false,
  });
  return {
    seam,
    ready,
    get context() {
      return context;
    },
  };
}
