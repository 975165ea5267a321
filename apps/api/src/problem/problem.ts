// RFC 9457 (Problem Details for HTTP APIs): the one error shape of the api.
import { HttpException } from '@nestjs/common';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Problem type URIs (RFC 9457 section 3.1.1); "about:blank" when the status code says it all. */
export const ProblemType = {
  VALIDATION: 'urn:lwm2m-cluster:problem:validation',
  INVALID_PATH: 'urn:lwm2m-cluster:problem:invalid-path',
  UNKNOWN_DEVICE: 'urn:lwm2m-cluster:problem:unknown-device',
  UNKNOWN_OBSERVATION: 'urn:lwm2m-cluster:problem:unknown-observation',
  DEVICE_TIMEOUT: 'urn:lwm2m-cluster:problem:device-timeout',
  DEVICE_ERROR: 'urn:lwm2m-cluster:problem:device-error',
  UNAUTHORIZED: 'urn:lwm2m-cluster:problem:unauthorized',
  FORBIDDEN: 'urn:lwm2m-cluster:problem:forbidden',
  NOT_READY: 'urn:lwm2m-cluster:problem:not-ready',
  UNKNOWN_CREDENTIAL: 'urn:lwm2m-cluster:problem:unknown-credential',
  CREDENTIAL_CONFLICT: 'urn:lwm2m-cluster:problem:credential-conflict',
  UNKNOWN_BOOTSTRAP_CONFIG: 'urn:lwm2m-cluster:problem:unknown-bootstrap-config',
  TOO_MANY_STREAMS: 'urn:lwm2m-cluster:problem:too-many-streams',
  STORE_UNAVAILABLE: 'urn:lwm2m-cluster:problem:store-unavailable',
  UNSUPPORTED_MEDIA_TYPE: 'urn:lwm2m-cluster:problem:unsupported-media-type',
  PAYLOAD_TOO_LARGE: 'urn:lwm2m-cluster:problem:payload-too-large',
  UNKNOWN_GROUP: 'urn:lwm2m-cluster:problem:unknown-group',
  UNKNOWN_GROUP_REQUEST: 'urn:lwm2m-cluster:problem:unknown-group-request',
  GROUP_EXISTS: 'urn:lwm2m-cluster:problem:group-exists',
  /** GROUP_MAX_GROUPS, GROUP_MAX_ENDPOINTS or GROUP_MAX_MEMBERS reached. */
  GROUP_LIMIT: 'urn:lwm2m-cluster:problem:group-limit',
  BLANK: 'about:blank',
} as const;

export type ProblemDetails = {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
} & {
  /** Extension members (RFC 9457 section 3.2). */
  [extension: string]: unknown;
};

/** Thrown by controllers and pipes; the filter writes it as problem+json. */
export class ProblemException extends HttpException {
  constructor(readonly problem: ProblemDetails) {
    super(problem, problem.status as number);
  }
}

/** The 400 of a request that does not validate (one title and type for every route). */
export function invalidRequest(detail: string, extensions: Record<string, unknown> = {}): ProblemException {
  return new ProblemException({
    type: ProblemType.VALIDATION,
    title: 'Invalid request',
    status: 400,
    detail,
    ...extensions,
  });
}

/** The 503 of an api that cannot seal or open secrets (SECRETS_KEY missing or wrong): a deployment fault. */
export function secretsUnavailable(err: Error): ProblemException {
  return new ProblemException({
    type: ProblemType.BLANK,
    title: 'Service Unavailable',
    status: 503,
    detail: err.message,
  });
}

/** Titles for statuses when no specific type applies (RFC 9110 reason phrases). */
export const STATUS_TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export function statusTitle(status: number): string {
  return STATUS_TITLES[status] ?? (status >= 500 ? 'Server Error' : 'Client Error');
}
