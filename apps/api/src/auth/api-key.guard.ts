// Optional API-key authentication (Authorization: Bearer <key>). Without configured keys the api is open
// (single-node development) and every request acts as "anonymous". Role "read" may only use safe methods.
// Shared by every HTTP app of the cluster (the api, the group-observer) through httpSecurityProviders.
import { type CanActivate, type ExecutionContext, Inject, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { HttpRequest as Request } from '../http';
import { ProblemException, ProblemType } from '../problem/problem';
import { ANONYMOUS, type ApiKey, keyOf } from './api-keys';
import { verifySseToken } from './sse-tokens';

export const PUBLIC_ROUTE = 'lwm2m:public';
/** Routes open without a key (health probes). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC_ROUTE, true);

export const ADMIN_ROUTE = 'lwm2m:admin';
/** Routes only the admin role may use (security credentials, the audit trail). */
export const AdminOnly = (): MethodDecorator & ClassDecorator => SetMetadata(ADMIN_ROUTE, true);

export const SSE_TOKEN_ROUTE = 'lwm2m:sse-token';
/**
 * The one route (GET /api/v1/events) that also takes a short-lived token in ?sse_token= (EventSource sends no
 * headers). Every other route refuses such a token: it is not an API key.
 */
export const SseTokenAccepted = (): MethodDecorator => SetMetadata(SSE_TOKEN_ROUTE, true);

export const READ_ROLE_POST = 'lwm2m:read-role-post';
/** A POST that changes nothing (minting an event-stream token), open to read keys too. */
export const ReadRoleMayPost = (): MethodDecorator => SetMetadata(READ_ROLE_POST, true);

/** The parsed API_KEYS (parseApiKeys) the guard checks against. */
export const API_KEY_SET = Symbol('ApiKeySet');

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const PRINCIPAL = Symbol('lwm2m:principal');

/** The key a request was authenticated with (name and role), "anonymous" without API_KEYS. */
export function principalOf(req: object): ApiKey {
  return (req as { [PRINCIPAL]?: ApiKey })[PRINCIPAL] ?? ANONYMOUS;
}

@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    @Inject(API_KEY_SET) private readonly apiKeys: Map<string, ApiKey>,
    private readonly reflector: Reflector,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (this.apiKeys.size === 0) return true;
    const isPublic = this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic) return true;
    const req = context.switchToHttp().getRequest<Request>();
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    let key = match ? keyOf(this.apiKeys, match[1]) : undefined;
    const sseToken = req.query?.sse_token;
    if (!match && sseToken !== undefined) {
      const tokenRoute = this.reflector.get<boolean>(SSE_TOKEN_ROUTE, context.getHandler()) === true;
      const checked =
        typeof sseToken !== 'string'
          ? { refused: 'malformed event-stream token' }
          : tokenRoute
            ? verifySseToken(this.apiKeys, sseToken)
            : { refused: 'an event-stream token opens only GET /api/v1/events' };
      if ('refused' in checked) {
        throw new ProblemException({
          type: ProblemType.UNAUTHORIZED,
          title: 'Unauthorized',
          status: 401,
          detail: checked.refused,
        });
      }
      key = checked.key;
    }
    if (!key) {
      throw new ProblemException({
        type: ProblemType.UNAUTHORIZED,
        title: 'Unauthorized',
        status: 401,
        detail: match ? 'unknown API key' : 'missing "Authorization: Bearer <api key>" header',
      });
    }
    (req as { [PRINCIPAL]?: ApiKey })[PRINCIPAL] = key;
    const adminOnly = this.reflector.getAllAndOverride<boolean>(ADMIN_ROUTE, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (adminOnly && key.role !== 'admin') {
      throw new ProblemException({
        type: ProblemType.FORBIDDEN,
        title: 'Forbidden',
        status: 403,
        detail: 'this route needs an API key with the admin role',
      });
    }
    const readMayPost =
      req.method === 'POST' && this.reflector.get<boolean>(READ_ROLE_POST, context.getHandler()) === true;
    if (key.role === 'read' && !SAFE_METHODS.has(req.method) && !readMayPost) {
      throw new ProblemException({
        type: ProblemType.FORBIDDEN,
        title: 'Forbidden',
        status: 403,
        detail: 'this API key has the read role and may only use GET',
      });
    }
    return true;
  }
}
