// The state of a group observation that must survive a restart (so token T never changes for the
// clients already listening), behind a store interface: in memory here, Redis in libs/registry.

export interface GroupObservationRecord {
  /** Uri-Path segments joined by "/" (no leading slash). */
  resource: string;
  /** Token T, hex. */
  token: string;
  groupAddr: string;
  groupPort: number;
  srvAddr: string;
  srvPort: number;
  /** Section 2.2.1 serialization of the (protected) phantom registration request, base64. */
  phReq: string;
  /** Section 2.2.1 serialization of the latest multicast notification (INIT_NOTIF until one is sent), base64. */
  lastNotif: string;
  /** Whether lastNotif went out on the wire (false: it is INIT_NOTIF, section 2.1 step 6). */
  lastNotifSent: boolean;
  /** The next Observe value. */
  seq: number;
  /** The observer counter (section 2). */
  counter: number;
  /** Multicast notifications until the next count update (Appendix B.3). */
  nextCountIn: number;
  createdAt: number;
  lastSentAt: number;
}

export interface GroupObservationStore {
  list(): Promise<GroupObservationRecord[]>;
  save(record: GroupObservationRecord): Promise<void>;
  delete(resource: string): Promise<void>;
}

export class InMemoryGroupObservationStore implements GroupObservationStore {
  private readonly records = new Map<string, GroupObservationRecord>();

  list(): Promise<GroupObservationRecord[]> {
    return Promise.resolve([...this.records.values()].map((r) => ({ ...r })));
  }

  save(record: GroupObservationRecord): Promise<void> {
    this.records.set(record.resource, { ...record });
    return Promise.resolve();
  }

  delete(resource: string): Promise<void> {
    this.records.delete(resource);
    return Promise.resolve();
  }
}
