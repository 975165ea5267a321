// A minimal LwM2M server for the simulator's tests: a plain CoapEndpoint over UDP on 127.0.0.1 that
// accepts Register/Update/De-register/Send (LwM2M TS 1.1 Transport 6.2, 6.4.1) and records them.
import {
  CoapCode,
  CoapEndpoint,
  type CoapRequest,
  type CoapResponse,
  type IncomingRequest,
  OptionNumber,
  type Peer,
  type RequestOptions,
} from '@lwm2m/coap';
import { UdpTransport } from '@lwm2m/udp';

export interface Recorded {
  kind: 'register' | 'update' | 'deregister' | 'send';
  query: string[];
  payload: Buffer;
  contentFormat?: number;
  peer: Peer;
  id?: string;
}

export class TestLwm2mServer {
  readonly received: Recorded[] = [];
  /** Where the latest registered device is reached. */
  devicePeer?: Peer;
  private nextId = 1;
  private readonly ids = new Set<string>();

  private constructor(
    readonly coap: CoapEndpoint,
    readonly address: Peer,
  ) {}

  static async start(): Promise<TestLwm2mServer> {
    const transport = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
    const coap = new CoapEndpoint({ transport });
    const server = new TestLwm2mServer(coap, transport.address());
    coap.setHandler((req) => server.handle(req));
    return server;
  }

  private handle(req: IncomingRequest): { code: number; options?: { number: number; value: Buffer }[] } {
    const rec = { query: req.query, payload: req.payload, contentFormat: req.contentFormat, peer: req.peer };
    if (req.path[0] === 'rd' && req.path.length === 1 && req.code === CoapCode.POST) {
      const id = `r${this.nextId++}`;
      this.ids.add(id);
      this.devicePeer = req.peer;
      this.received.push({ kind: 'register', id, ...rec });
      return {
        code: CoapCode.CREATED,
        options: [
          { number: OptionNumber.LOCATION_PATH, value: Buffer.from('rd') },
          { number: OptionNumber.LOCATION_PATH, value: Buffer.from(id) },
        ],
      };
    }
    if (req.path[0] === 'rd' && req.path.length === 2) {
      const id = req.path[1];
      if (!this.ids.has(id)) return { code: CoapCode.NOT_FOUND };
      if (req.code === CoapCode.POST) {
        this.devicePeer = req.peer;
        this.received.push({ kind: 'update', id, ...rec });
        return { code: CoapCode.CHANGED };
      }
      if (req.code === CoapCode.DELETE) {
        this.ids.delete(id);
        this.received.push({ kind: 'deregister', id, ...rec });
        return { code: CoapCode.DELETED };
      }
    }
    if (req.path.length === 1 && req.path[0] === 'dp' && req.code === CoapCode.POST) {
      this.received.push({ kind: 'send', ...rec });
      return { code: CoapCode.CHANGED };
    }
    return { code: CoapCode.NOT_FOUND };
  }

  /** Forgets every registration (an Update then gets 4.04). */
  forgetAll(): void {
    this.ids.clear();
  }

  of(kind: Recorded['kind']): Recorded[] {
    return this.received.filter((r) => r.kind === kind);
  }

  /** A DM request to the registered device. */
  request(req: CoapRequest, opts: RequestOptions = { timeout: 5000 }): Promise<CoapResponse> {
    if (this.devicePeer === undefined) throw new Error('no device registered');
    return this.coap.request(this.devicePeer, req, opts);
  }

  close(): Promise<void> {
    return this.coap.close();
  }
}

export function until(pred: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (pred()) return resolve();
      if (Date.now() - start > ms) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 5);
    };
    tick();
  });
}
