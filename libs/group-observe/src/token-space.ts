// Section 2.1 step 2: the Token space of the endpoint for messages from GRP_ADDR:GRP_PORT to
// SRV_ADDR:SRV_PORT is under the exclusive control of the server; section 2.5: T is freed on cancellation.

export class GroupTokenSpace {
  private readonly used = new Map<string, Set<string>>();

  constructor(
    private readonly randomBytes: (n: number) => Buffer,
    private readonly tokenLength: number,
  ) {
    if (!Number.isInteger(tokenLength) || tokenLength < 1 || tokenLength > 8) {
      throw new RangeError('group token length must be 1..8 bytes (RFC 7252 section 5.3.1)');
    }
  }

  private space(spaceKey: string): Set<string> {
    let s = this.used.get(spaceKey);
    if (!s) this.used.set(spaceKey, (s = new Set()));
    return s;
  }

  /** An available value T (random, RFC 7252 section 5.3.1). */
  allocate(spaceKey: string): Buffer {
    const s = this.space(spaceKey);
    if (s.size >= 2 ** Math.min(8 * this.tokenLength, 48) / 2) throw new Error('group token space exhausted');
    for (;;) {
      const t = Buffer.from(this.randomBytes(this.tokenLength));
      const hex = t.toString('hex');
      if (!s.has(hex)) {
        s.add(hex);
        return t;
      }
    }
  }

  /** Marks a restored T as taken (a restart keeps the tokens clients already use). */
  reserve(spaceKey: string, token: Buffer): void {
    this.space(spaceKey).add(token.toString('hex'));
  }

  free(spaceKey: string, token: Buffer): void {
    this.used.get(spaceKey)?.delete(token.toString('hex'));
  }

  has(spaceKey: string, token: Buffer): boolean {
    return this.used.get(spaceKey)?.has(token.toString('hex')) ?? false;
  }
}

/** The Token space key of (GRP_ADDR:GRP_PORT -> SRV_ADDR:SRV_PORT). */
export function tokenSpaceKey(
  groupAddr: string,
  groupPort: number,
  srvAddr: string,
  srvPort: number,
): string {
  return `${groupAddr}:${groupPort}->${srvAddr}:${srvPort}`;
}
