// Optional API-key authentication (Authorization: Bearer <key>). Without configured keys the api is open
// (single-node development). Role "read" may only use safe methods.
import { type CanActivate, type ExecutionContext, Inject, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { HttpRequest as Request } from '../http';
import { ProblemException, ProblemType } from '../problem/problem';
import { API_OPTIONS, type ResolvedApiOptions } from '../tokens';
import { roleOf } from './api-keys';

export const PUBLIC_ROUTE = 'lwm2m:public';
/** Routes open without a key (health probes). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC_ROUTE, true);

export const ADMIN_ROUTE = 'lwm2m:admin';
/** Routes only the admin role may use (security credentials). */
export const AdminOnly = (): MethodDecorator & ClassDecorator => SetMetadata(ADMIN_ROUTE, true);

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    @Inject(API_OPTIONS) private readonly options: ResolvedApiOptions,
    private readonly reflector: Reflector,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (this.options.apiKeys.size === 0) return true;
    const isPublic = this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic) return true;
    const req = context.switchToHttp().getRequest<Request>();
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    const role = match ? roleOf(this.options.apiKeys, match[1]) : undefined;
    if (!role) {
      throw new ProblemException({
        type: ProblemType.UNAUTHORIZED,
        title: 'Unauthorized',
        status: 401,
        detail: match ? 'unknown API key' : 'missing "Authorization: Bearer <api key>" header',
      });
    }
    const adminOnly = this.reflector.getAllAndOverride<boolean>(ADMIN_ROUTE, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (adminOnly && role !== 'admin') {
      throw new ProblemException({
        type: ProblemType.FORBIDDEN,
        title: 'Forbidden',
        status: 403,
        detail: 'this route needs an API key with the admin role',
      });
    }
    if (role === 'read' && !SAFE_METHODS.has(req.method)) {
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
