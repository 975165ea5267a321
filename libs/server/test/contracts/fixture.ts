// What every contract suite runs against: one set of ports, and a peer set sharing the same state (a
// second node of the cluster, or the same objects for in-memory implementations).
import type {
  CommandBus,
  EventBus,
  Observation,
  ObservationStore,
  Registration,
  RegistrationStore,
  CredentialStore,
  ValueStore,
} from '@lwm2m/server';
import { afterEach, beforeEach } from 'vitest';

export interface PortSet {
  registrations: RegistrationStore;
  observations: ObservationStore;
  values: ValueStore;
  events: EventBus;
  commands: CommandBus;
  credentials: CredentialStore;
}

export interface StoreFixture extends PortSet {
  peer: PortSet;
  close(): Promise<void>;
}

export type FixtureFactory = () => Promise<StoreFixture>;

/** A fresh fixture per test, closed after it. */
export function useFixture(factory: FixtureFactory): () => StoreFixture {
  let current: StoreFixture | undefined;
  beforeEach(async () => {
    current = await factory();
  });
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });
  return () => {
    if (!current) throw new Error('fixture used outside a test');
    return current;
  };
}

let seq = 0;

export function makeRegistration(endpoint: string, overrides: Partial<Registration> = {}): Registration {
  const now = Date.now();
  seq++;
  return {
    registrationId: `r${seq}-${Math.random().toString(36).slice(2, 8)}`,
    endpoint,
    lwm2mVersion: '1.1',
    lifetime: 86400,
    binding: 'U',
    queueMode: false,
    address: { address: '192.0.2.1', port: 5683 + (seq % 1000) },
    session: { kind: 'address', address: '192.0.2.1', port: 5683 + (seq % 1000), secure: false },
    rootPath: '/',
    objectLinks: [
      { path: '/', attributes: { rt: '"oma.lwm2m"', ct: '110' } },
      { path: '/1/0', attributes: {} },
      { path: '/3/0', attributes: {} },
    ],
    supportedContentFormats: [110, 112],
    registeredAt: now,
    lastUpdate: now,
    lastSeen: now,
    expiresAt: now + 86_400_000,
    security: 'nosec',
    ...overrides,
  };
}

export function makeObservation(reg: Registration, overrides: Partial<Observation> = {}): Observation {
  seq++;
  return {
    id: `o${seq}-${Math.random().toString(36).slice(2, 8)}`,
    endpoint: reg.endpoint,
    registrationId: reg.registrationId,
    token: seq.toString(16).padStart(8, '0'),
    paths: ['/3303/0/5700'],
    composite: false,
    createdAt: Date.now() + seq,
    ...overrides,
  };
}
