// draft-tiloca-core-observe-multicast-notifications-04 section 8 (Intermediaries) and Appendix C: a
// proxy that takes part in the group observation itself (it listens to the multicast group) and
// serves its own observers over unicast, each with the token of that observer's registration.
// Downstream it is a request handler on any CoapEndpoint, so observers reached over DTLS sessions
// (devices behind NAT, which cannot receive IP multicast) are served like UDP ones.
import {
  CoapCode,
  type CoapEndpoint,
  type IncomingRequest,
  type OutgoingResponse,
  type Peer,
} from '@lwm2m/coap';
import type { GroupNotification, GroupObservationHandle, GroupObserveClient } from './group-observe-client';
import type { GroupObserveLogger } from './group-observe-server';

export interface GroupObserveProxyOptions {
  /** The endpoint the observers register at (UDP or DTLS transport). */
  downstream: CoapEndpoint;
  /** A group-observe client on the proxy's unicast endpoint towards the origin server. */
  upstream: GroupObserveClient;
  /** The origin server. */
  origin: Peer;
  /** Which downstream requests are proxied (default: paths starting with "ps"). */
  claims?(path: readonly string[]): boolean;
  /** Downstream path -> origin path (reverse proxy; default identity). */
  mapPath?(path: readonly string[]): string[];
  logger?: GroupObserveLogger;
}

export interface GroupObserveProxyStats {
  registrations: number;
  upstreamRegistrations: number;
  /** Notifications received from upstream (multicast or unicast). */
  upstreamNotifications: number;
  /** Unicast notifications sent to observers. */
  unicastNotifications: number;
  groupEnded: number;
}

interface ProxiedResource {
  downstreamPath: string[];
  handle?: GroupObservationHandle;
  ready: Promise<OutgoingResponse | undefined>;
  latest?: GroupNotification;
  ended: boolean;
}

const silent: GroupObserveLogger = { debug: () => undefined, warn: () => undefined };

export class GroupObserveProxy {
  readonly stats: GroupObserveProxyStats = {
    registrations: 0,
    upstreamRegistrations: 0,
    upstreamNotifications: 0,
    unicastNotifications: 0,
    groupEnded: 0,
  };
  private readonly resources = new Map<string, ProxiedResource>();
  private readonly log: GroupObserveLogger;

  constructor(private readonly opts: GroupObserveProxyOptions) {
    this.log = opts.logger ?? silent;
  }

  /** Request handler: a response for proxied paths, undefined for the others. */
  handle(req: IncomingRequest): Promise<OutgoingResponse> | undefined {
    const claims = this.opts.claims ? this.opts.claims(req.path) : req.path[0] === 'ps';
    if (!claims) return undefined;
    return this.serve(req).catch((err: unknown) => {
      this.log.warn('group-observe proxy: request failed', { error: String(err) });
      return { code: CoapCode.BAD_GATEWAY };
    });
  }

  /** The group observations the proxy follows upstream. */
  list(): { path: string; mode: string; token?: string }[] {
    return [...this.resources.entries()].map(([path, r]) => ({
      path,
      mode: r.handle?.mode ?? 'pending',
      ...(r.handle?.token ? { token: r.handle.token.toString('hex') } : {}),
    }));
  }

  private async serve(req: IncomingRequest): Promise<OutgoingResponse> {
    if (req.code !== CoapCode.GET) return { code: CoapCode.METHOD_NOT_ALLOWED };
    const key = req.path.join('/');
    if (req.observe === 0) this.stats.registrations++;
    let r = this.resources.get(key);
    if (r === undefined || r.ended) r = this.subscribe(key, req.path);
    const failure = await r.ready;
    if (failure !== undefined) return failure;
    const latest = r.latest;
    if (latest === undefined) return { code: CoapCode.SERVICE_UNAVAILABLE };
    // The proxy answers from the latest notification it holds; the endpoint registers the observer
    // under its own token (RFC 7641 section 5; draft section 8: "the Token value ... used in the
    // original registration request that the client has sent to the proxy").
    return {
      code: latest.code,
      payload: latest.payload,
      contentFormat: latest.contentFormat,
    };
  }

  /** Section 8: the proxy registers upstream once per resource and follows the group observation. */
  private subscribe(key: string, downstreamPath: string[]): ProxiedResource {
    const r: ProxiedResource = { downstreamPath, ready: Promise.resolve(undefined), ended: false };
    this.resources.set(key, r);
    const upstreamPath = this.opts.mapPath ? this.opts.mapPath(downstreamPath) : downstreamPath;
    this.stats.upstreamRegistrations++;
    r.ready = this.opts.upstream
      .observe(this.opts.origin, upstreamPath, {
        onNotification: (n) => this.onUpstream(r, n),
        onEnd: (end) => this.onEnd(key, r, end.code),
      })
      .then((handle) => {
        r.handle = handle;
        if (handle.mode === 'none') {
          this.resources.delete(key);
          r.ended = true;
          const res = handle.response;
          return { code: res.code, payload: res.payload, contentFormat: res.contentFormat };
        }
        return undefined;
      })
      .catch((err: unknown): OutgoingResponse => {
        this.resources.delete(key);
        r.ended = true;
        this.log.debug('group-observe proxy: upstream registration failed', { error: String(err) });
        return { code: CoapCode.BAD_GATEWAY };
      });
    return r;
  }

  private onUpstream(r: ProxiedResource, n: GroupNotification): void {
    r.latest = n;
    // Section 8: the proxy does not consider 'last_notif' as a notification to forward.
    if (n.source === 'informative') return;
    this.stats.upstreamNotifications++;
    void this.opts.downstream
      .notify(r.downstreamPath, {
        response: { code: n.code, payload: n.payload, contentFormat: n.contentFormat },
      })
      .then((count) => {
        this.stats.unicastNotifications += count;
      });
  }

  private onEnd(key: string, r: ProxiedResource, code?: number): void {
    r.ended = true;
    this.stats.groupEnded++;
    if (this.resources.get(key) === r) this.resources.delete(key);
    // The observers learn it as the origin's clients would: a notification with the error code.
    void this.opts.downstream.notify(r.downstreamPath, {
      response: { code: code ?? CoapCode.SERVICE_UNAVAILABLE },
    });
  }
}
