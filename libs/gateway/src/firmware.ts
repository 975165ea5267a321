// Object 5 on the gateway: Pull (coap(s)://<gateway>/fw/<id>, Block2 from the image store, on every gateway)
// and Push (a firmware-push command runs pushFirmware in the background on the node holding the device's
// session; its progress is in the shared PushProgressStore, so a retry on any node resumes it).
import type { CoapEndpoint, EchoGuard, IncomingRequest, OutgoingResponse } from '@lwm2m/coap';
import { FirmwareCoapResource, type ImageStore, type PushProgressStore, pushFirmware } from '@lwm2m/firmware';
import type { DeviceClient, DeviceCommand, DeviceCommandResult, RegistrationStore } from '@lwm2m/server';

/** Where a push may write: object 5's Package, or object 9's (an instance id is 0..65534). */
const PACKAGE_PATH = /^\/(5\/0\/0|9\/(0|[1-9]\d{0,4})\/2)$/;

/** Per-block wait of a push, ms. */
export const PUSH_BLOCK_TIMEOUT_MS = 60_000;

export interface GatewayFirmwareOptions {
  images: ImageStore;
  pushes: PushProgressStore;
  endpoint: CoapEndpoint;
  registrations: RegistrationStore;
  client: Pick<DeviceClient, 'peerOf'>;
  /**
   * RFC 9175 section 2.4 for NoSec pulls (FIRMWARE_NOSEC_ECHO): an EchoGuard in mode 'always' sharing the
   * gateway's Echo key (values any node verifies). Unset: /fw answers any source.
   */
  echo?: EchoGuard;
  /** Whether this peer key is the current address of a registered device (in memory, no store read). */
  registeredPeer?: (peerKey: string) => boolean;
  log: {
    debug(m: string, c?: Record<string, unknown>): void;
    warn(m: string, c?: Record<string, unknown>): void;
  };
}

export class GatewayFirmware {
  readonly resource: FirmwareCoapResource;
  /** Pushes running on this node, by endpoint: one per device; `done` settles when it stopped. */
  private readonly running = new Map<string, { ctl: AbortController; done: Promise<void> }>();
  readonly counters = { pushesStarted: 0, pushesSucceeded: 0, pushesFailed: 0, echoChallenged: 0 };

  constructor(private readonly o: GatewayFirmwareOptions) {
    this.resource = new FirmwareCoapResource(o.images);
    o.endpoint.setStreamedBlocks((path) => this.resource.streams(path));
  }

  /**
   * The /fw handler (undefined for other paths). A NoSec GET draws a 1 KiB block for ~20 bytes: an
   * amplification a forged source address could aim at a victim (RFC 7252 section 11.3). So a NoSec peer
   * gets blocks only once its address is verified (RFC 9175 section 2.4 item 3): it is a registered
   * device's current address (it proved it when registering), or it repeated our Echo value (then it is
   * served freely for the guard's verified time). Otherwise a 4.01 with an Echo value and no payload,
   * smaller than the request. DTLS (and OSCORE) peers are never challenged.
   */
  handle(req: IncomingRequest): Promise<OutgoingResponse> | undefined {
    if (!this.resource.streams(req.path)) return undefined;
    const echo = this.o.echo;
    if (
      echo !== undefined &&
      req.peer.identity === undefined &&
      this.o.registeredPeer?.(req.peerKey) !== true
    ) {
      const routable = echo.check(req);
      if (!routable.ok) {
        this.counters.echoChallenged++;
        return Promise.resolve(routable.response);
      }
    }
    return this.resource.handle(req);
  }

  /** Pushes now running on this node. */
  get activePushes(): number {
    return this.running.size;
  }

  /** A firmware-push command: 202 once the push started (progress: PushProgressStore), else why not. */
  async startPush(cmd: DeviceCommand): Promise<DeviceCommandResult> {
    const { registrations, client, images } = this.o;
    const fail = (status: number, error: string): DeviceCommandResult => ({
      id: cmd.id,
      ok: false,
      status,
      error,
    });
    if (cmd.imageId === undefined) return fail(400, 'firmware-push needs an imageId');
    // The Package resource: object 5's (default) or an object 9 instance's (Software Management, 9.xml).
    const path = cmd.path ?? '/5/0/0';
    if (!PACKAGE_PATH.test(path))
      return fail(400, `firmware-push writes /5/0/0 or /9/<instance>/2, not ${path}`);
    const reg = await registrations.getByEndpoint(cmd.endpoint);
    if (reg === undefined) return fail(404, `endpoint ${cmd.endpoint} is not registered`);
    if ((await images.get(cmd.imageId)) === undefined) return fail(404, `no firmware image ${cmd.imageId}`);
    if (this.running.has(cmd.endpoint)) return fail(409, `a push to ${cmd.endpoint} is running`);
    const ctl = new AbortController();
    const entry = { ctl, done: Promise.resolve() };
    this.running.set(cmd.endpoint, entry);
    this.counters.pushesStarted++;
    const target = {
      endpoint: this.o.endpoint,
      // Read again before each retry: an Update from a new address (NAT rebinding) moved the device.
      peer: async () => client.peerOf((await registrations.getByEndpoint(cmd.endpoint)) ?? reg),
    };
    entry.done = pushFirmware(target, images, cmd.imageId, {
      endpoint: cmd.endpoint,
      path,
      progress: this.o.pushes,
      signal: ctl.signal,
      // A block unanswered for a minute (its retransmissions spent) is sent again to where the device is
      // now, rather than waiting out EXCHANGE_LIFETIME; six such attempts and the push stops, resumable.
      timeoutMs: PUSH_BLOCK_TIMEOUT_MS,
    })
      .then((r) => {
        if (r.ok) this.counters.pushesSucceeded++;
        else this.counters.pushesFailed++;
        this.o.log.debug('firmware: push ended', { endpoint: cmd.endpoint, ok: r.ok, error: r.error });
      })
      .catch((err: unknown) => {
        this.counters.pushesFailed++;
        this.o.log.warn('firmware: push failed', { endpoint: cmd.endpoint, error: String(err) });
      })
      .finally(() => {
        if (this.running.get(cmd.endpoint) === entry) this.running.delete(cmd.endpoint);
      });
    return { id: cmd.id, ok: true, status: 202 };
  }

  /**
   * A firmware-push-abort command (a campaign cancelled): the push to the device stops, its block in flight
   * abandoned, and its progress is forgotten. Answered once the push running here has stopped, so that the
   * reset the caller writes next (an empty Package, Core E.6) is not followed by another block of this push.
   * A push running on another node (it began before a takeover, or a NAT rebinding moved the session here)
   * sees the abort in the shared store and stops within pushFirmware's abortCheckEvery blocks; a block of it
   * that reaches the reset device is refused (4.08, no block 0: RFC 7959 section 2.5) and it does not start
   * over. 200 when a push was running here, 204 when none was (its progress is dropped all the same).
   */
  async abortPush(cmd: DeviceCommand): Promise<DeviceCommandResult> {
    await this.o.pushes.abort(cmd.endpoint);
    const entry = this.running.get(cmd.endpoint);
    if (entry !== undefined) {
      entry.ctl.abort();
      await entry.done;
      this.o.log.debug('firmware: push aborted', { endpoint: cmd.endpoint });
    }
    // Again: the push stopped here saved its progress ('failed') on its way out.
    await this.o.pushes.delete(cmd.endpoint);
    return { id: cmd.id, ok: true, status: entry !== undefined ? 200 : 204 };
  }

  /** Stops this node's pushes (their progress stays: another node or a retry resumes them). */
  close(): void {
    for (const { ctl } of this.running.values()) ctl.abort();
    this.running.clear();
  }
}
