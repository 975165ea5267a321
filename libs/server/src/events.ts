// The event stream (Redis Streams in the product): what happened to devices, in order, seen once by each
// consumer on any node.
import type { Registration } from './registration';

/** A value as it crosses process boundaries (JSON): opaque as base64, time as seconds, bigint as string. */
export interface JsonPathValue {
  path: string;
  type: string;
  value: unknown;
  /** seconds since epoch (SenML t) when the device timestamped it */
  time?: number;
}

export type Lwm2mEvent =
  | { type: 'registered'; endpoint: string; registration: Registration; replaced?: string }
  | { type: 'updated'; endpoint: string; registration: Registration }
  | { type: 'deregistered'; endpoint: string; registrationId: string }
  | { type: 'expired'; endpoint: string; registrationId: string }
  | {
      type: 'notification';
      endpoint: string;
      observationId: string;
      paths: string[];
      values: JsonPathValue[];
      contentFormat?: number;
    }
  | { type: 'send'; endpoint: string; values: JsonPathValue[]; contentFormat?: number }
  | { type: 'response'; endpoint: string; requestId: string; result: DeviceCommandResultSummary };

export interface DeviceCommandResultSummary {
  ok: boolean;
  status: number;
  coapCode?: string;
}

/** An event as read back from the stream, with its stream id (resume point for SSE Last-Event-ID). */
export type StoredEvent = Lwm2mEvent & { id: string; at: number };
