// Operations an operator asks of a device (LwM2M TS 1.2 Core 6.3 Device Management & Service Enablement,
// 6.4 Information Reporting). The api puts them on the command bus; the gateway holding the device runs them.
import type { JsonPathValue } from './events';

export type DeviceOperation =
  | 'read'
  | 'write'
  | 'execute'
  | 'create'
  | 'delete'
  | 'discover'
  | 'write-attributes'
  | 'observe'
  | 'cancel-observation'
  | 'read-composite'
  | 'write-composite'
  | 'observe-composite'
  /** An operator removes the registration (no message to the device; its observations are forgotten). */
  | 'deregister'
  /**
   * Object 5 Push: the gateway holding the device writes image `imageId` to /5/0/0 block-wise (Block1) in
   * the background, resuming a push of the same image that stopped; answered 202 at once (libs/firmware).
   */
  | 'firmware-push'
  /**
   * Stops the device's firmware-push on the node running it (answered once no block will follow) and forgets
   * its progress, so no later push resumes into a device that was reset. Sends nothing to the device.
   */
  | 'firmware-push-abort';

export interface DeviceCommand {
  /** Unique id (also the request id operators see). */
  id: string;
  endpoint: string;
  op: DeviceOperation;
  /** Single-path operations. */
  path?: string;
  /** Composite operations and observations. */
  paths?: string[];
  /** Content-Format override (number); default: negotiated from the registration. */
  contentFormat?: number;
  /** Write / Create / Write-Composite values. */
  values?: JsonPathValue[];
  /** Write: false = partial update (POST), true (default) = replace (PUT). */
  replace?: boolean;
  /** Execute arguments (TS 1.2 Core 5.4.5 text). */
  args?: string;
  /** Write-Attributes: pmin, pmax, gt, lt, st, epmin, epmax (undefined = leave, null = remove). */
  attributes?: Record<string, number | null>;
  /** cancel-observation */
  observationId?: string;
  /** observe: the device's notifications carry only changed resources (merged over the last full state). */
  notifications?: 'patch';
  /** firmware-push: the image (libs/firmware ImageStore id). */
  imageId?: string;
  /** How long the caller waits, ms. */
  timeoutMs: number;
  /** ms since epoch */
  createdAt: number;
  /** Queued delivery: the attempt's fencing token (DeliveryLedger); absent for direct commands. */
  delivery?: string;
}

export interface DeviceCommandResult {
  id: string;
  ok: boolean;
  /**
   * HTTP-like status the api returns: 200/201/204 on success; the device's CoAP error mapped
   * (4.04 -> 404, 4.05 -> 405, 4.00 -> 400, 4.01/4.03 -> 403, 4.06 -> 406, 4.15 -> 415, 5.xx -> 502);
   * 504 when the device did not answer in time; 404 when the endpoint is not registered.
   */
  status: number;
  /** The device's response code as "2.05". */
  coapCode?: string;
  contentFormat?: number;
  values?: JsonPathValue[];
  /** Discover: the link list as text. */
  links?: string;
  /** Create: the new instance path (Location-Path). */
  location?: string;
  /** Write with replace=false: 'iPATCH' when the device took the SenML-ETCH patch (else a POST was sent). */
  method?: 'iPATCH';
  /** Observe: the observation id. */
  observationId?: string;
  /** Observe: an observation of the same path (set) already existed; its id is returned, none is made. */
  reused?: boolean;
  /** Observe refused (409): the per-device cap and the observations the device has. */
  observationLimit?: { max: number; active: number };
  /** Human-readable error (never key material). */
  error?: string;
}
