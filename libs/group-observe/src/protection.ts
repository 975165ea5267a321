// Sections 6, 7 and 9: the place of an end-to-end protection layer (Group OSCORE: group-oscore.ts).
// The server protects the phantom requests and every multicast notification; the client verifies
// the rebuilt phantom request, the rebuilt latest notification and each multicast notification.
import type { CoapMessage } from '@lwm2m/coap';
import type { OscoreGroupInfo } from './informative-response';

export interface GroupProtectionServer {
  /** Section 6.2.1 / 6.2.4: protects a phantom registration or cancellation request (consumes an SN). */
  protectPhantomRequest(phantom: CoapMessage): CoapMessage;
  /** Section 6.2.3: protects a multicast notification bound to the phantom request. */
  protectNotification(notification: CoapMessage, phantom: CoapMessage): CoapMessage;
  /** Section 6.1: the OSCORE group to announce in informative responses, if any. */
  groupInfo?(): OscoreGroupInfo | undefined;
}

export interface GroupProtectionClient {
  /**
   * Section 6.3.1: verifies the rebuilt phantom request (no replay check); undefined when it fails.
   * `path` is the resource the client registered at: a protected phantom request for another one is refused.
   */
  verifyPhantomRequest(
    phantom: CoapMessage,
    group?: OscoreGroupInfo,
    path?: readonly string[],
  ): CoapMessage | undefined;
  /** Section 6.3.2: verifies a (rebuilt or received) multicast notification; undefined when it fails. */
  unprotectNotification(notification: CoapMessage, phantom: CoapMessage): CoapMessage | undefined;
}

/** Unprotected group observation (sections 2 and 3): every message passes as it is. */
export const NO_PROTECTION: GroupProtectionServer & GroupProtectionClient = {
  protectPhantomRequest: (m) => m,
  protectNotification: (m) => m,
  verifyPhantomRequest: (m) => m,
  unprotectNotification: (m) => m,
};
