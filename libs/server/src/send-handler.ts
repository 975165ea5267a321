// LwM2M TS 1.2 Core section 6.4.5 (TS 1.1 Core 6.4.?) "Send" / Transport 6.4: a client reports values
// unsolicited with POST /dp in SenML JSON, SenML CBOR or LwM2M CBOR; the server answers 2.04 Changed.
import { CoapCode, type IncomingRequest, type OutgoingResponse } from '@lwm2m/coap';
import { getCompositeCodec } from './content-formats';
import type { CredentialBinding } from './credential-binding';
import type { DeviceClient } from './device-client';
import type { EventBus, ValueStore } from './ports';
import type { Registration } from './registration';
import { refuse } from './registration-handler';

export interface SendHandlerOptions {
  values: ValueStore;
  events: EventBus;
  client: DeviceClient;
  now?: () => number;
  /** A NoSec Send for an endpoint with a credential (or under require-secure) is refused, 4.03. */
  binding?: CredentialBinding;
}

export class SendHandler {
  constructor(private readonly opts: SendHandlerOptions) {}

  /** `reg` is the registration of the sending peer, undefined when the peer is not registered. */
  async handle(req: IncomingRequest, reg: Registration | undefined): Promise<OutgoingResponse> {
    if (req.path.length !== 1) return refuse(CoapCode.NOT_FOUND, 'no such resource');
    if (req.code !== CoapCode.POST) return refuse(CoapCode.METHOD_NOT_ALLOWED, 'Send is POST /dp');
    // Send is only for registered clients (TS 1.1 Core 6.4.7): an unknown peer is not authorized.
    if (reg === undefined) return refuse(CoapCode.FORBIDDEN, 'the client is not registered');
    if (req.peer.identity === undefined && this.opts.binding !== undefined) {
      // A secured peer's Send is its registration's session (bound at Register); a NoSec one is checked.
      const denied = await this.opts.binding.refusal(undefined, reg.endpoint, reg.security);
      if (denied !== undefined) return refuse(CoapCode.FORBIDDEN, denied);
    }
    if (reg.lwm2mVersion === '1.0')
      return refuse(CoapCode.METHOD_NOT_ALLOWED, 'Send needs LwM2M 1.1 or later');
    const cf = req.contentFormat;
    if (cf === undefined) return refuse(CoapCode.BAD_REQUEST, 'Send needs a Content-Format');
    if (getCompositeCodec(cf) === undefined) {
      return refuse(
        CoapCode.UNSUPPORTED_CONTENT_FORMAT,
        `Send carries SenML JSON (110), SenML CBOR (112) or LwM2M CBOR (11544), not ${cf}`,
      );
    }
    const decoded = this.opts.client.decodeComposite(
      { code: CoapCode.CONTENT, payload: req.payload, contentFormat: cf },
      cf,
      true,
      this.opts.client.modelFor(reg),
    );
    if (!decoded.ok) return refuse(CoapCode.BAD_REQUEST, decoded.error ?? 'undecodable payload');
    if (decoded.values.length === 0) return refuse(CoapCode.BAD_REQUEST, 'Send carried no value');
    const now = (this.opts.now ?? Date.now)();
    await this.opts.values.put(reg.endpoint, decoded.values, now);
    await this.opts.events.publish({
      type: 'send',
      endpoint: reg.endpoint,
      values: decoded.values,
      contentFormat: cf,
    });
    return { code: CoapCode.CHANGED };
  }
}
