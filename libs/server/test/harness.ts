// A server and a scripted LwM2M client on one MemoryNetwork: the client side is a bare CoapEndpoint whose
// handler each test programs, so every byte the device sends is chosen by the test.
import {
  CoapCode,
  CoapEndpoint,
  type CoapResponse,
  type IncomingRequest,
  MemoryNetwork,
  type OutgoingResponse,
} from '@lwm2m/coap';
import { ContentFormat } from '@lwm2m/lwm2m';
import { Lwm2mServer, type Lwm2mServerOptions } from '../src';
import { FakeEventBus, FakeObservationStore, FakeRegistrationStore, FakeValueStore } from './fakes';

export const SERVER = { address: '10.0.0.1', port: 5683 };
export const DEVICE = { address: '10.0.0.2', port: 40000 };

export type DeviceHandler = (req: IncomingRequest) => OutgoingResponse | Promise<OutgoingResponse>;

export interface Harness {
  net: MemoryNetwork;
  server: Lwm2mServer;
  serverEp: CoapEndpoint;
  device: CoapEndpoint;
  registrations: FakeRegistrationStore;
  observations: FakeObservationStore;
  values: FakeValueStore;
  events: FakeEventBus;
  /** Requests the device received, in order. */
  received: IncomingRequest[];
  /** Program the device: the handler answers every request the server sends it. */
  on(handler: DeviceHandler): void;
  register(query: string[], links?: string, contentFormat?: number): Promise<CoapResponse>;
  request(
    code: number,
    path: string,
    query?: string[],
    payload?: Buffer | string,
    contentFormat?: number,
  ): Promise<CoapResponse>;
  close(): Promise<void>;
}

export function createHarness(opts: Partial<Lwm2mServerOptions> = {}): Harness {
  const net = new MemoryNetwork();
  const serverEp = new CoapEndpoint({ transport: net.transport(SERVER.address, SERVER.port) });
  const received: IncomingRequest[] = [];
  let handler: DeviceHandler = () => ({ code: CoapCode.NOT_FOUND });
  const device = new CoapEndpoint({
    transport: net.transport(DEVICE.address, DEVICE.port),
    handler: (req) => {
      received.push(req);
      return handler(req);
    },
  });
  const observations = new FakeObservationStore();
  const registrations = new FakeRegistrationStore(observations);
  const values = new FakeValueStore();
  const events = new FakeEventBus();
  const server = new Lwm2mServer({
    endpoint: serverEp,
    registrations,
    observations,
    values,
    events,
    defaultTimeoutMs: 2000,
    ...opts,
  });
  const request: Harness['request'] = (code, path, query = [], payload, contentFormat) =>
    device.request(SERVER, {
      code,
      path,
      query,
      ...(payload !== undefined ? { payload } : {}),
      ...(contentFormat !== undefined ? { contentFormat } : {}),
    });
  return {
    net,
    server,
    serverEp,
    device,
    registrations,
    observations,
    values,
    events,
    received,
    on: (h) => (handler = h),
    register: (query, links = '</1/0>,</3/0>', contentFormat = ContentFormat.LINK) =>
      request(CoapCode.POST, '/rd', query, links, contentFormat),
    request,
    close: async () => {
      await server.stop();
      await device.close();
      await serverEp.close();
    },
  };
}

/** "rd/abc" from a 2.01 response. */
export function locationOf(res: CoapResponse): string[] {
  return res.options.filter((o) => o.number === 8).map((o) => o.value.toString('utf8'));
}
