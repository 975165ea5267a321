// One exception filter for the whole api: everything that goes wrong leaves as RFC 9457 problem+json.
import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { DecodeError } from '@lwm2m/bytes';
import { RateLimitedLog } from '@lwm2m/config';
import { redisUnavailableCode } from '@lwm2m/registry';
import { CredentialConflictError, InvalidCredentialError } from '@lwm2m/server';
import { GroupError, type GroupErrorCode } from '@lwm2m/groups';
import type { HttpRequest as Request, HttpResponse as Response } from '../http';
import {
  PROBLEM_CONTENT_TYPE,
  ProblemException,
  type ProblemDetails,
  ProblemType,
  statusTitle,
} from './problem';

@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('api');
  /** One line per kind of Redis refusal per interval: a client retrying in a loop must not flood the log. */
  private readonly storeWarnings = new RateLimitedLog((line) => this.logger.warn(line));

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const req = ctx.getRequest<Request>();
    const res = ctx.getResponse<Response>();
    const problem = { ...this.toProblem(exception), instance: req.originalUrl ?? req.url };
    if (problem.status >= 500 && problem.status !== 503 && problem.status !== 504 && problem.status !== 502) {
      this.logger.error(`${req.method} ${req.path}: ${describe(exception)}`);
    }
    if (res.headersSent) {
      // A streaming response (SSE) already started: the body can't change any more.
      res.end();
      return;
    }
    if (problem.status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
    if (problem.type === ProblemType.STORE_UNAVAILABLE) {
      // RFC 9110 section 15.6.4: a 503 may say when to try again.
      res.setHeader('Retry-After', String(STORE_RETRY_AFTER_S));
      const code = redisUnavailableCode(exception);
      this.storeWarnings.log(`redis:${code}`, `${req.method} ${req.path}: 503, Redis refused it (${code})`);
    }
    res.status(problem.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem));
  }

  /** The problem an exception becomes (also what the audit trail records of a failed operation). */
  toProblem(exception: unknown): ProblemDetails {
    if (exception instanceof ProblemException) return { ...exception.problem };
    // An LwM2M path or payload the protocol libs refused (e.g. Lwm2mPath.parse).
    if (exception instanceof DecodeError) {
      return {
        type: exception.codec === 'path' ? ProblemType.INVALID_PATH : ProblemType.VALIDATION,
        title: exception.codec === 'path' ? 'Invalid LwM2M path' : 'Invalid input',
        status: 400,
        detail: exception.message,
        reason: exception.reason,
      };
    }
    // Credential rules of the CredentialStore (their messages never carry key material).
    if (exception instanceof InvalidCredentialError) {
      return {
        type: ProblemType.VALIDATION,
        title: 'Invalid credential',
        status: 400,
        detail: exception.message,
      };
    }
    if (exception instanceof CredentialConflictError) {
      return {
        type: ProblemType.CREDENTIAL_CONFLICT,
        title: 'Credential in use',
        status: 409,
        detail: `${exception.message} ("${exception.holder.slice(0, 64)}")`,
        holder: exception.holder,
      };
    }
    // Fleet group operations (libs/groups): each refusal by its meaning.
    if (exception instanceof GroupError) {
      const { status, type } = GROUP_PROBLEMS[exception.code];
      return { type, title: statusTitle(status), status, detail: exception.message };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const body = exception.getResponse();
      const detail =
        typeof body === 'string'
          ? body
          : Array.isArray((body as { message?: unknown }).message)
            ? ((body as { message: string[] }).message.join('; ') as string)
            : String((body as { message?: unknown }).message ?? exception.message);
      // Terminus: a failed health check carries the per-check details.
      const checks =
        typeof body === 'object' && body !== null && 'details' in body ? body.details : undefined;
      return {
        type: status === 503 && checks ? ProblemType.NOT_READY : ProblemType.BLANK,
        title: statusTitle(status),
        status,
        detail: checks ? 'a dependency is not reachable' : detail,
        ...(checks ? { checks } : {}),
      };
    }
    // body-parser (malformed JSON, too large): errors carrying an HTTP status and an `expose` flag.
    const http = exception as { status?: unknown; expose?: unknown; message?: unknown; type?: unknown };
    if (typeof http?.status === 'number' && http.status >= 400 && http.status < 500 && http.expose === true) {
      if (http.type === 'entity.too.large') {
        const limit = (exception as { limit?: unknown }).limit;
        return {
          type: ProblemType.PAYLOAD_TOO_LARGE,
          title: statusTitle(413),
          status: 413,
          detail: `the request body is larger than ${String(limit)} bytes (opaque values: base64 in JSON or raw bytes, up to that size)`,
          ...(typeof limit === 'number' ? { maxBytes: limit } : {}),
        };
      }
      return {
        type: ProblemType.VALIDATION,
        title: statusTitle(http.status),
        status: http.status,
        detail:
          http.type === 'entity.parse.failed' ? 'the request body is not valid JSON' : String(http.message),
      };
    }
    // Redis refuses work for now (out of memory, read-only, unreachable): the client may retry; Redis'
    // own text stays out of the answer.
    if (redisUnavailableCode(exception) !== undefined) {
      return {
        type: ProblemType.STORE_UNAVAILABLE,
        title: statusTitle(503),
        status: 503,
        detail: 'the data store does not accept requests now; try again later',
      };
    }
    return { type: ProblemType.BLANK, title: statusTitle(500), status: 500, detail: 'internal error' };
  }
}

const GROUP_PROBLEMS: Record<GroupErrorCode, { status: number; type: string }> = {
  invalid: { status: 400, type: ProblemType.VALIDATION },
  'unknown-group': { status: 404, type: ProblemType.UNKNOWN_GROUP },
  'unknown-group-request': { status: 404, type: ProblemType.UNKNOWN_GROUP_REQUEST },
  'group-exists': { status: 409, type: ProblemType.GROUP_EXISTS },
  'too-many-groups': { status: 409, type: ProblemType.GROUP_LIMIT },
  'too-many-members': { status: 413, type: ProblemType.GROUP_LIMIT },
  finished: { status: 409, type: ProblemType.BLANK },
  'not-implemented': { status: 501, type: ProblemType.BLANK },
};

/** Retry-After of a 503 for a data store that refuses work, seconds. */
const STORE_RETRY_AFTER_S = 5;

function describe(e: unknown): string {
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}
