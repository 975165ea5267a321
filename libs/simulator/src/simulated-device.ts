// LwM2M TS 1.1/1.2 Core sections 6.2 (Client Registration), 5 (Device Management) and 6.5 (Queue Mode):
// one simulated LwM2M client on one CoAP endpoint: it registers, answers the server's DM requests on
// the same port, observes, sends, updates before its lifetime ends and sleeps in queue mode.
import { EventEmitter } from 'node:events';
import {
  CoapCode,
  CoapEndpoint,
  type CoapEndpointOptions,
  type CoapLogger,
  type DatagramTransport,
  CoapTimeoutError,
  type CoapRequest,
  type CoapResponse,
  formatCode,
  getLocationPath,
  type Peer,
  type TransmissionParams,
} from '@lwm2m/coap';
import {
  type CompositeNodes,
  ContentFormat,
  type Lwm2mNode,
  type Lwm2mObject,
  Lwm2mPath,
  type ObjectModel,
} from '@lwm2m/lwm2m';
import { addModelObject } from './model-objects';
import { FirmwareUpdateObject, type FirmwareOptions } from './firmware-object';
import { SoftwareManagementObject } from './software-object';
import { AttributeStore } from './attributes';
import { populateDeviceObjects, stepTemperatures } from './device-objects';
import { DmHandler, type DmListener, type Lwm2mVersion } from './dm-handler';
import { compositeCodec, compositeFormatFor, type PreferredFormat } from './formats';
import { ObjectTree } from './object-tree';
import { ObservationScheduler, type PatchNotifications } from './observation-scheduler';
import { registerQuery, registrationPayload } from './registration';
import { SleepingTransport } from './sleeping-transport';
import { deviceOscoreSeam, type DeviceOscoreParams, type DeviceOscoreState } from './oscore';
import { simulatorObjectModelRegistry, TEMPERATURE_OBJECT_ID } from './temperature-object';

/**
 * OSCORE (RFC 8613) from the DEVICE's point of view (LwM2M object 21): `senderId` is the device's Sender ID
 * (the kid of its requests, the server's Recipient ID), `recipientId` the server's Sender ID.
 */
export type DeviceOscore = DeviceOscoreParams;

export interface SimulatedDeviceOptions {
  /** Endpoint Client Name ("ep"). */
  endpoint: string;
  transport: DatagramTransport;
  /** The LwM2M server's CoAP address. */
  server: Peer;
  lwm2mVersion?: Lwm2mVersion;
  /** Seconds (default 300). */
  lifetime?: number;
  /** Binding without the 1.0 queue "Q" (default "U"). */
  binding?: string;
  queueMode?: boolean;
  /**
   * The format answered when a request has no Accept, and declared in the root link's ct (1.1+).
   * Default: TLV for 1.0, SenML CBOR for 1.1, LwM2M CBOR for 1.2.
   */
  contentFormat?: PreferredFormat;
  /** Content formats of the root link's ct; default [contentFormat]. */
  declaredFormats?: number[];
  /** Queue mode: how long the client stays awake after its last exchange (default 93 s = MAX_TRANSMIT_WAIT). */
  awakeWindowMs?: number;
  /** Queue mode: how long it sleeps before waking with an Update (default 80 % of the lifetime minus the awake window). */
  sleepMs?: number;
  /** Non-queue mode: send an Update at this fraction of the lifetime (default 0.8); 0 disables. */
  updateAt?: number;
  /** Period of the temperature's random walk (default 1000 ms; 0 freezes it). */
  sensorIntervalMs?: number;
  /** How often observations are checked against pmin/pmax/changes (default 200 ms). */
  observeTickMs?: number;
  /**
   * Issue 19: notifications after the first carry only what changed: a SenML-ETCH Patch Pack ('etch-json',
   * 'etch-cbor'; RFC 8790, also declared in the root link's ct) or plain partial SenML/LwM2M CBOR ('senml').
   */
  patchNotifications?: PatchNotifications;
  /** Accept iPATCH with SenML-ETCH (RFC 8132/8790) on an instance (default true); false answers 4.05. */
  ipatch?: boolean;
  /** Timeout of the client's own requests (Register, Update, Send); CoAP's EXCHANGE_LIFETIME when absent. */
  requestTimeoutMs?: number;
  /**
   * After this many consecutive timeouts of its Updates and Sends, the device recovers as a real client does
   * when the server lost it (a server restarted without its DTLS sessions): it drops its DTLS session and
   * handshakes again (when its transport is a DTLS client), then registers again. Default 2; 0 never.
   */
  recoverAfterTimeouts?: number;
  coapParams?: Partial<TransmissionParams>;
  /**
   * Speak OSCORE with the server: Register, Update, Send and every response and notification protected,
   * the server's requests and responses verified; unprotected requests are answered 4.01.
   */
  oscore?: DeviceOscore;
  manufacturer?: string;
  modelNumber?: string;
  firmwareVersion?: string;
  /**
   * Objects 0, 1 and 2 as a bootstrap left them (BootstrapClient.outcome().objects): they replace the
   * defaults, so the device holds the server accounts the Bootstrap-Server wrote.
   */
  bootstrapped?: Lwm2mObject[];
  /**
   * Play object 5 (Firmware Update): Block1 push to /5/0/0, pull from the Package URI, the State machine,
   * with this download speed and failure rate. Absent: no object 5.
   */
  firmware?: FirmwareOptions;
  /** Play object 9 (Software Management 1.0) with these options (speed; failure rate of Install). */
  software?: FirmwareOptions;
  /**
   * More objects to play, from their models (e.g. parsed DDF files): instance 0 of each, default values per
   * type, its version announced at Register. A model of 3303 replaces the built-in Temperature 1.0.
   */
  models?: ObjectModel[];
  now?: () => number;
  random?: () => number;
  logger?: CoapLogger;
}

export interface ExecutionRecord {
  path: string;
  args: string;
  at: number;
}

export interface WriteRecord {
  path: string;
  node: Lwm2mNode;
  replace: boolean;
  at: number;
}

/** Events: registered, updated, deregistered, execute, write, create, delete, writeAttributes,
 * notification, sleep, wake, failure. */
export interface SimulatedDeviceEvents {
  registered: [{ location: string[] }];
  updated: [{ code: string }];
  deregistered: [];
  execute: [ExecutionRecord];
  write: [WriteRecord];
  create: [{ path: string }];
  delete: [{ path: string }];
  writeAttributes: [{ path: string }];
  notification: [{ resource: string; observers: number }];
  sleep: [];
  wake: [];
  failure: [{ operation: string; error: string }];
  /** The server executed Bootstrap-Request Trigger (/1/0/9, TS 1.2 Core E.2): the owner runs a bootstrap. */
  bootstrapTrigger: [];
  /** recoverAfterTimeouts reached: a new handshake (DTLS) and a new Register follow. */
  recovering: [{ timeouts: number }];
}

export class RegistrationError extends Error {
  constructor(
    readonly operation: string,
    readonly code: number,
  ) {
    super(`${operation} failed with ${formatCode(code)}`);
    this.name = 'RegistrationError';
  }
}

const DEFAULT_FORMAT: Record<Lwm2mVersion, PreferredFormat> = {
  '1.0': ContentFormat.TLV,
  '1.1': ContentFormat.SENML_CBOR,
  '1.2': ContentFormat.LWM2M_CBOR,
};

type Timer = ReturnType<typeof setTimeout>;

export class SimulatedDevice extends EventEmitter<SimulatedDeviceEvents> {
  readonly endpointName: string;
  readonly lwm2mVersion: Lwm2mVersion;
  readonly contentFormat: PreferredFormat;
  readonly queueMode: boolean;
  readonly tree: ObjectTree;
  readonly attributes = new AttributeStore();
  readonly coap: CoapEndpoint;
  readonly executions: ExecutionRecord[] = [];
  readonly writes: WriteRecord[] = [];
  notificationsSent = 0;
  /** Times the device recovered after consecutive timeouts (re-handshake and Register). */
  recoveries = 0;
  lifetime: number;
  binding: string;
  /** Object 5, when options.firmware is set. */
  readonly firmware?: FirmwareUpdateObject;
  /** Object 9, when options.software is set. */
  readonly software?: SoftwareManagementObject;
  /** Location-Path of the registration ("rd", "<id>"), undefined when not registered. */
  location?: string[];

  private readonly opts: SimulatedDeviceOptions;
  private readonly transport: SleepingTransport;
  /** OSCORE: the device's security context and seam (its counters tell what was protected or refused). */
  readonly oscore?: DeviceOscoreState;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly scheduler: ObservationScheduler;
  private readonly declared: number[];
  private timeOffsetMs = 0;
  /** iPATCH requests with SenML-ETCH applied (RFC 8132/8790). */
  ipatches = 0;
  private sensorTimer?: Timer;
  private updateTimer?: Timer;
  private awakeTimer?: Timer;
  private wakeTimer?: Timer;
  private started = false;
  private closed = false;
  /** Consecutive timeouts of Updates and Sends (reset by any answer). */
  private timeouts = 0;
  private recovery?: Promise<void>;

  constructor(opts: SimulatedDeviceOptions) {
    super();
    this.opts = opts;
    this.endpointName = opts.endpoint;
    this.lwm2mVersion = opts.lwm2mVersion ?? '1.1';
    this.contentFormat = opts.contentFormat ?? DEFAULT_FORMAT[this.lwm2mVersion];
    const etch =
      opts.patchNotifications === 'etch-json'
        ? [ContentFormat.SENML_ETCH_JSON]
        : opts.patchNotifications === 'etch-cbor'
          ? [ContentFormat.SENML_ETCH_CBOR]
          : [];
    this.declared = opts.declaredFormats ?? [this.contentFormat, ...etch];
    this.queueMode = opts.queueMode ?? false;
    this.lifetime = opts.lifetime ?? 300;
    this.binding = opts.binding ?? 'U';
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.tree = new ObjectTree(simulatorObjectModelRegistry());
    populateDeviceObjects(
      this.tree,
      {
        endpoint: opts.endpoint,
        serverUri: `coap://${opts.server.address}:${opts.server.port}`,
        lifetime: this.lifetime,
        binding: this.binding,
        manufacturer: opts.manufacturer,
        modelNumber: opts.modelNumber,
        firmwareVersion: opts.firmwareVersion,
      },
      Math.round((18 + this.random() * 6) * 100) / 100,
    );
    for (const obj of opts.bootstrapped ?? []) this.tree.addObject(obj);
    for (const m of opts.models ?? []) addModelObject(this.tree, m, [0], this.now());
    this.installExecutables();
    this.tree.onBeforeRead(() => {
      // Current Time is optional and writable: a Replace of /3/0 without it removes it (Core 5.4.3).
      if (this.tree.getValue('/3/0/13') === undefined) return;
      const t = Math.floor((this.now() + this.timeOffsetMs) / 1000) * 1000;
      this.tree.setValue('/3/0/13', new Date(t));
    });
    this.transport = new SleepingTransport(opts.transport);
    const handler = new DmHandler({
      tree: this.tree,
      attributes: this.attributes,
      preferred: this.contentFormat,
      lwm2mVersion: this.lwm2mVersion,
      listener: this.dmListener(),
      ...(opts.ipatch !== undefined ? { ipatch: opts.ipatch } : {}),
    });
    if (opts.oscore !== undefined) this.oscore = deviceOscoreSeam(opts.oscore);
    let firmware: FirmwareUpdateObject | undefined;
    let software: SoftwareManagementObject | undefined;
    const coapOptions: CoapEndpointOptions = {
      ...(this.oscore !== undefined ? { seam: this.oscore.seam } : {}),
      transport: this.transport,
      // The Package (/5/0/0) takes its Block1 blocks one by one: hashed as they come, never reassembled.
      handler: (req) =>
        firmware?.streams(req.path)
          ? firmware.receivePackage(req)
          : software?.streams(req.path)
            ? software.receivePackage(req)
            : handler.handle(req),
      streamedBlocks: (path) => firmware?.streams(path) === true || software?.streams(path) === true,
      params: opts.coapParams,
      now: this.now,
      random: this.random,
      logger: opts.logger,
    };
    this.coap = new CoapEndpoint(coapOptions);
    if (opts.firmware !== undefined) {
      firmware = new FirmwareUpdateObject({
        tree: this.tree,
        coap: this.coap,
        server: opts.server,
        now: this.now,
        random: this.random,
        options: opts.firmware,
      });
      this.firmware = firmware;
    }
    if (opts.software !== undefined) {
      software = new SoftwareManagementObject({
        tree: this.tree,
        coap: this.coap,
        server: opts.server,
        now: this.now,
        random: this.random,
        options: opts.software,
      });
      this.software = software;
    }
    this.scheduler = new ObservationScheduler({
      tree: this.tree,
      attributes: this.attributes,
      endpoint: this.coap,
      now: this.now,
      tickMs: opts.observeTickMs ?? 200,
      canSend: () => !this.transport.sleeping,
      ...(opts.patchNotifications !== undefined ? { patch: opts.patchNotifications } : {}),
      compositeFormat: compositeFormatFor(this.contentFormat),
      onNotification: (resource, observers) => {
        this.notificationsSent += observers;
        this.emit('notification', { resource, observers });
      },
    });
  }

  get registered(): boolean {
    return this.location !== undefined;
  }

  get sleeping(): boolean {
    return this.transport.sleeping;
  }

  /** Datagrams lost because the device was asleep. */
  get droppedWhileAsleep(): number {
    return this.transport.droppedIn;
  }

  /** Registers, then keeps the registration alive (Update before the lifetime ends; queue-mode sleep). */
  async start(): Promise<void> {
    this.started = true;
    await this.oscore?.ready;
    this.startSensor();
    await this.register();
    if (this.queueMode) this.startAwakeWindow();
  }

  /** De-registers (best effort) and closes the endpoint. */
  async stop(): Promise<void> {
    if (this.closed) return;
    this.started = false;
    this.clearTimers();
    if (this.registered) {
      this.transport.wake();
      try {
        await this.deregister();
      } catch (err) {
        this.emit('failure', { operation: 'deregister', error: String(err) });
      }
    }
    await this.close();
  }

  /** Closes without de-registering (a device that vanishes). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clearTimers();
    this.scheduler.stop();
    this.firmware?.close();
    this.software?.close();
    await this.coap.close();
  }

  /** Register (Core 6.2.1): POST /rd?ep=..&lt=..&lwm2m=..&b=..[&Q] with the object links. */
  async register(): Promise<string[]> {
    const res = await this.coap.request(
      this.opts.server,
      {
        code: CoapCode.POST,
        path: ['rd'],
        query: registerQuery({
          endpoint: this.endpointName,
          lifetime: this.lifetime,
          version: this.lwm2mVersion,
          binding: this.binding,
          queueMode: this.queueMode,
        }),
        contentFormat: ContentFormat.LINK,
        payload: this.objectLinks(),
      },
      { timeout: this.opts.requestTimeoutMs },
    );
    if (res.code !== CoapCode.CREATED) throw new RegistrationError('register', res.code);
    const location = getLocationPath(res.message);
    this.location = location.length > 0 ? location : ['rd', this.endpointName];
    this.scheduleUpdate();
    this.emit('registered', { location: this.location });
    return this.location;
  }

  /** The Register/Update link payload as text. */
  objectLinks(): string {
    return registrationPayload(this.tree, this.lwm2mVersion, this.declared).toString('utf8');
  }

  /**
   * Update (Core 6.2.2): POST /rd/{id} with lt/b when they change and the links when objects changed.
   * A 4.04 (the server forgot us) leads to a new Register (Core 6.2.2).
   */
  async update(
    opts: { lifetime?: number; binding?: string; objectsChanged?: boolean } = {},
  ): Promise<number> {
    if (this.location === undefined) throw new Error('not registered');
    const query: string[] = [];
    if (opts.lifetime !== undefined) {
      this.lifetime = opts.lifetime;
      this.tree.setValue('/1/0/1', opts.lifetime);
      query.push(`lt=${opts.lifetime}`);
    }
    if (opts.binding !== undefined) {
      this.binding = opts.binding;
      query.push(`b=${opts.binding}`);
    }
    const res = await this.serverRequest({
      code: CoapCode.POST,
      path: this.location,
      query,
      ...(opts.objectsChanged ? { contentFormat: ContentFormat.LINK, payload: this.objectLinks() } : {}),
    });
    this.emit('updated', { code: formatCode(res.code) });
    if (res.code === CoapCode.NOT_FOUND) {
      this.location = undefined;
      await this.register();
      return res.code;
    }
    if (res.code !== CoapCode.CHANGED) throw new RegistrationError('update', res.code);
    this.scheduleUpdate();
    return res.code;
  }

  /** De-register (Core 6.2.3): DELETE /rd/{id}. */
  async deregister(): Promise<number> {
    if (this.location === undefined) throw new Error('not registered');
    const res = await this.coap.request(
      this.opts.server,
      { code: CoapCode.DELETE, path: this.location },
      { timeout: this.opts.requestTimeoutMs },
    );
    this.location = undefined;
    if (this.updateTimer) clearTimeout(this.updateTimer);
    this.emit('deregistered');
    if (res.code !== CoapCode.DELETED) throw new RegistrationError('deregister', res.code);
    return res.code;
  }

  /** Send (Core 6.4.1, LwM2M 1.1+): POST /dp with the current values of `paths` in a composite format. */
  async send(paths: string[], contentFormat?: number): Promise<number> {
    if (this.lwm2mVersion === '1.0') throw new Error('Send needs LwM2M 1.1 or later');
    const format = contentFormat ?? compositeFormatFor(this.contentFormat);
    const codec = compositeCodec(format);
    if (codec === undefined) throw new Error(`content format ${format} is not composite`);
    const nodes: CompositeNodes = paths.map((p) => {
      const path = Lwm2mPath.parse(p);
      return { path, node: this.tree.read(path) };
    });
    const res = await this.serverRequest({
      code: CoapCode.POST,
      path: ['dp'],
      contentFormat: format,
      payload: codec.encodeComposite(nodes, this.tree.model),
    });
    return res.code;
  }

  /** Moves every temperature one random-walk step (tests call it to force a change). */
  stepSensors(): void {
    stepTemperatures(this.tree, this.random);
  }

  /** Queue mode: turn the radio off now (the awake window ended). */
  sleep(): void {
    if (this.transport.sleeping || this.closed) return;
    if (this.awakeTimer) clearTimeout(this.awakeTimer);
    this.transport.onActivity = undefined;
    this.transport.sleep();
    this.emit('sleep');
    const sleepMs =
      this.opts.sleepMs ?? Math.max(1000, this.lifetime * 800 - (this.opts.awakeWindowMs ?? 93_000));
    this.wakeTimer = setTimeout(() => void this.wakeUp(), sleepMs);
    this.wakeTimer.unref?.();
  }

  /**
   * Queue mode: radio on, then an Update (Core 6.5: the client tells the server it is reachable).
   * `update: false` only turns the radio on (the client's next uplink, e.g. a Send, says it is awake).
   */
  async wakeUp(opts: { update?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.transport.wake();
    this.emit('wake');
    this.startAwakeWindow();
    if (!this.registered || opts.update === false) return;
    try {
      await this.update();
    } catch (err) {
      this.emit('failure', { operation: 'update', error: String(err) });
    }
  }

  // ------------------------------------------------------------------ internals

  /**
   * An Update or Send: an answer of any kind resets the count of consecutive timeouts; reaching
   * recoverAfterTimeouts starts the recovery (the caller still gets its timeout).
   */
  private async serverRequest(req: CoapRequest): Promise<CoapResponse> {
    try {
      const res = await this.coap.request(this.opts.server, req, { timeout: this.opts.requestTimeoutMs });
      this.timeouts = 0;
      return res;
    } catch (err) {
      if (err instanceof CoapTimeoutError) this.timedOut();
      throw err;
    }
  }

  private timedOut(): void {
    this.timeouts++;
    const limit = this.opts.recoverAfterTimeouts ?? 2;
    if (limit <= 0 || this.timeouts < limit || this.recovery !== undefined || this.closed) return;
    this.emit('recovering', { timeouts: this.timeouts });
    this.timeouts = 0;
    this.recovery = this.recover()
      .catch((err: unknown) => {
        this.emit('failure', { operation: 'recover', error: String(err) });
      })
      .finally(() => (this.recovery = undefined));
  }

  /**
   * The server no longer answers this session (it lost it, or the registration): a DTLS client drops its
   * session and handshakes again (RFC 6347 section 4.2.8: a new connection, not the old epoch), then the
   * device registers again (Core 6.2.1), as after a 4.04 to an Update.
   */
  private async recover(): Promise<void> {
    const dtls = this.opts.transport as { reconnect?: (server: Peer) => Promise<unknown> };
    if (typeof dtls.reconnect === 'function') await dtls.reconnect(this.opts.server);
    this.location = undefined;
    await this.register();
    this.recoveries++;
  }

  private dmListener(): DmListener {
    return {
      onPatch: () => {
        this.ipatches++;
      },
      onWrite: (path, node, replace) => {
        const rec: WriteRecord = { path: path.toString(), node, replace, at: this.now() };
        this.writes.push(rec);
        this.emit('write', rec);
        this.afterWrite(path);
      },
      onExecute: (path, args) => {
        const rec: ExecutionRecord = { path: path.toString(), args, at: this.now() };
        this.executions.push(rec);
        this.emit('execute', rec);
      },
      onCreate: (path) => {
        if (path.objectId === TEMPERATURE_OBJECT_ID) this.installTemperatureReset(path.instanceId!);
        this.emit('create', { path: path.toString() });
        this.later('update', () => this.update({ objectsChanged: true }));
      },
      onDelete: (path) => {
        this.emit('delete', { path: path.toString() });
        this.later('update', () => this.update({ objectsChanged: true }));
      },
      onWriteAttributes: (path) => this.emit('writeAttributes', { path: path.toString() }),
      onObserve: (req, paths, composite) => this.scheduler.track(req, paths, composite),
    };
  }

  /** Side effects of writes on the Server and Device objects. */
  private afterWrite(path: Lwm2mPath): void {
    const touches = (p: string): boolean => {
      const q = Lwm2mPath.parse(p);
      return q.startsWith(path) || path.startsWith(q);
    };
    if (this.firmware !== undefined && touches('/5/0/1')) this.firmware.packageUriWritten();
    if (this.software !== undefined && touches('/9/0/3')) this.software.packageUriWritten();
    if (touches('/3/0/13')) {
      const v = this.tree.getValue('/3/0/13');
      if (v instanceof Date) this.timeOffsetMs = v.getTime() - this.now();
    }
    if (touches('/1/0/1') || touches('/1/0/7')) {
      const lt = Number(this.tree.getValue('/1/0/1'));
      const b = String(this.tree.getValue('/1/0/7') ?? this.binding);
      const changes: { lifetime?: number; binding?: string } = {};
      if (lt !== this.lifetime) changes.lifetime = lt;
      if (b !== this.binding) changes.binding = b;
      // Core 6.2.2: a changed lifetime or binding is told to the server with an Update.
      if (Object.keys(changes).length > 0) this.later('update', () => this.update(changes));
    }
  }

  /** Runs a client operation after the current exchange has been answered. */
  private later(operation: string, op: () => Promise<unknown>): void {
    setTimeout(() => {
      if (this.closed || !this.registered) return;
      op().catch((err: unknown) => this.emit('failure', { operation, error: String(err) }));
    }, 10).unref?.();
  }

  private installExecutables(): void {
    this.tree.onExecute('/1/0/8', () => this.later('update', () => this.update()));
    this.tree.onExecute('/1/0/9', () => setImmediate(() => this.emit('bootstrapTrigger')));
    this.tree.onExecute('/3/0/4', () => undefined);
    this.tree.onExecute('/3/0/5', () => undefined);
    this.tree.onExecute('/3/0/12', () => {
      const r = this.tree.getObject(3)?.instances.get(0)?.resources.get(11);
      if (r?.kind === 'multipleResource') r.instances = new Map([[0, 0]]);
    });
    for (const iid of this.tree.instanceIds(TEMPERATURE_OBJECT_ID)) this.installTemperatureReset(iid);
  }

  /** IPSO 5605: min and max measured restart from the current value. */
  private installTemperatureReset(iid: number): void {
    const base = `/${TEMPERATURE_OBJECT_ID}/${iid}`;
    this.tree.onExecute(`${base}/5605`, () => {
      const v = this.tree.getValue(`${base}/5700`);
      if (v === undefined) return;
      this.tree.setValue(`${base}/5601`, v);
      this.tree.setValue(`${base}/5602`, v);
    });
  }

  private startSensor(): void {
    const period = this.opts.sensorIntervalMs ?? 1000;
    if (period <= 0 || this.sensorTimer) return;
    this.sensorTimer = setInterval(() => this.stepSensors(), period);
    this.sensorTimer.unref?.();
  }

  private scheduleUpdate(): void {
    if (this.updateTimer) clearTimeout(this.updateTimer);
    const at = this.opts.updateAt ?? 0.8;
    if (!this.started || this.queueMode || at <= 0) return;
    this.updateTimer = setTimeout(
      () => {
        if (this.closed || !this.registered) return;
        this.update().catch((err: unknown) =>
          this.emit('failure', { operation: 'update', error: String(err) }),
        );
      },
      this.lifetime * 1000 * at,
    );
    this.updateTimer.unref?.();
  }

  /** Queue mode: the awake window restarts with each datagram (Core 6.5: awake for MAX_TRANSMIT_WAIT). */
  private startAwakeWindow(): void {
    if (!this.queueMode || this.closed) return;
    const window = this.opts.awakeWindowMs ?? 93_000;
    if (this.awakeTimer) clearTimeout(this.awakeTimer);
    this.awakeTimer = setTimeout(() => this.sleep(), window);
    this.awakeTimer.unref?.();
    this.transport.onActivity = () => this.awakeTimer?.refresh();
  }

  private clearTimers(): void {
    for (const t of [this.sensorTimer, this.updateTimer, this.awakeTimer, this.wakeTimer]) {
      if (t !== undefined) clearTimeout(t);
    }
    this.sensorTimer = this.updateTimer = this.awakeTimer = this.wakeTimer = undefined;
    this.transport.onActivity = undefined;
  }
}
