// Every Redis key of the registry, in one place. Hash tags ({...}) pick the Redis Cluster slot.
//
// Slot layout
// -----------
// 1. Per endpoint, slot {ep:<endpoint>}: the authoritative data of one device.
//      <p>{ep:E}:reg     string  "<expiresAt> <v> <gen> <lastSeen> <asleepAt> <queue> <id>\n<compact JSON>"
//                              (registration-record.ts; the first format, a hash id exp v gen json, is still
//                              read, and rewritten as a string on its next change)
//      <p>{ep:E}:obs     hash  <observationId> -> Observation JSON
//      <p>{ep:E}:values  hash  <path> -> JsonPathValue & {receivedAt} JSON
//      <p>{ep:E}:seen    hash  id=<registrationId> t=<lastSeen ms> a=<address> p=<port> k=<peerKey> n=<node>
//                              (presence: written by every node at most once per device per second, apart
//                              from :reg so an uplink never rewrites the registration; readers merge it)
//    Every change of a device's state is one single-slot Lua script, hence atomic on a single Redis,
//    Sentinel and Cluster alike: register (replace + drop observations + drop values), deregister,
//    claim-if-expired (the exactly-once decision of lifetime expiry), update (compare-and-set on v), touch
//    (presence, written only while :reg is its registration; register and removals delete it).
//
// 2. Global indexes, slot {idx}: hints that point into the per-endpoint slots.
//      <p>{idx}:regid      hash  registrationId -> endpoint
//      <p>{idx}:epreg      hash  endpoint -> registrationId the indexes were written for
//      <p>{idx}:endpoints  zset  endpoint, score 0 (ZRANGEBYLEX paging, cursor = last endpoint)
//      <p>{idx}:expiry     zset  endpoint, score expiresAt
//      <p>{idx}:obsid      hash  observationId -> endpoint
//      <p>{idx}:obstoken   hash  token (hex) -> observationId
//    Index changes are single-slot Lua scripts too, but they cannot be in the same script as the
//    per-endpoint change on a Cluster (different slots), so there every change is two steps (on a single
//    Redis or Sentinel, where every key is on one server, Register, Update and De-register are each one
//    script, the *All scripts of scripts.ts, which also append the change's event):
//      - adds: record first, then index; removals: record first, then a compare-and-delete on the index
//        (an entry is removed only while epreg still names the removed registrationId, so a concurrent
//        re-registration's entries survive). Each index step is idempotent and can be replayed.
//      - readers verify: getById checks the record's id, getByToken the observation's token, list skips
//        endpoints without a record; a stale index entry is never returned as data.
//      - the expiry index may only be early, never decisive: claimExpired re-checks expiresAt inside the
//        endpoint's Lua script, so two claimers never both win, and re-indexes a not-yet-expired record.
//      - a crash between the two steps of register leaves a record without index entries: the device's
//        next Update gets 4.04 and the client registers again (TS 1.2 Core 6.2.2), which rewrites them;
//        RedisRegistrationStore.reindex() repairs the rest (SCAN). An Update re-indexes for its id.
//
// 3. Security credentials, slot {sec} (LwM2M TS 1.2 Transport 5.2; the DTLS handshake's lookups):
//      <p>{sec}:cred   hash  endpoint -> credential JSON {t, ix, ...} (t: psk|rpk|x509, ix: its index value;
//                            psk: identity + the key sealed with SECRETS_KEY, rpk: SPKI DER hex,
//                            x509: the expected SAN/CN identity value)
//      <p>{sec}:psk    hash  PSK identity -> endpoint
//      <p>{sec}:rpk    hash  SubjectPublicKeyInfo DER hex -> endpoint
//      <p>{sec}:x509   hash  certificate identity value (SAN or CN) -> endpoint
//      <p>{sec}:oscore hash  OSCORE Recipient ID (the device's kid) hex -> endpoint; the record holds the
//                            ids in clear and the Master Secret and Salt sealed with SECRETS_KEY
//      <p>{oscseq:<context>}:end  string  end of the OSCORE context's last Sender Sequence Number lease
//                            (RFC 8613 section 7.5; INCRBY, redis-sequence-lease-store.ts)
//      <p>{sec}:keycheck string  a known text sealed with SECRETS_KEY: a wrong key fails at start
//    One slot, so put (conflict check + replace + un-index the old identity) and remove are each one Lua
//    script: atomic. PSKs are sealed (AES-256-GCM under SECRETS_KEY, redis-credential-store.ts).
//
// 4. Streams, each its own slot: <p>{events}:stream (the event log), <p>{cmd}:stream (commands, consumer
//    group "gateways"), <p>{cmd}:reply:<processId> (pub/sub channel of one api process), <p>{audit}:stream
//    (the operators' audit trail, capped with XADD MAXLEN ~ AUDIT_MAX_ENTRIES).
//
// 5. Gateway cluster (libs/cluster):
//      <p>{node}:ids        set   numeric ids of nodes that claimed a lease
//      <p>{node}:<id>       string JSON {token, info} with PX = the lease; gone = the node is dead
//      <p>{dtls:<cid>}:s    hash  sealed=<AEAD snapshot> owner=<node id> seqEnd rtop addr port fam, with a TTL
//      <p>{dtlsres:<id>}    string  sealed resumption entry (RFC 5246 7.4.1.2 session_id), with a TTL
//      <p>{cmd:node:<id>}:stream  commands for the node owning the device's DTLS session (group "gateways")
//    Membership is one slot (small, read by every heartbeat with one MGET). Each session is its own slot:
//    take-over, lease extension and removal are compare-and-set Lua scripts on that one hash.
//
// 6. Bootstrap-Server (libs/bootstrap):
//      <p>{bs}:cfg          hash  endpoint ("*default*" for the default) -> BootstrapConfig JSON, PSKs sealed
//      <p>{bs}:cfgid        hash  endpoint -> its bootstrapPsk identity (to un-index it on replace)
//      <p>{bs}:psk          hash  bootstrapPsk identity -> endpoint (the bootstrap port's DTLS lookup)
//      <p>{bs}:cfgkid       hash  endpoint -> its bootstrapOscore kid (hex; to un-index it on replace)
//      <p>{bs}:osc          hash  bootstrapOscore kid (hex) -> endpoint (the bootstrap port's OSCORE lookup)
//      <p>{bs:ep:E}:session string BootstrapSession JSON (generated PSKs sealed), with a TTL; claim and save are
//                                  compare-and-set Lua scripts on the lease (node, leaseUntil) and session id
//
// On Redis Cluster (REDIS_CLUSTER_NODES; libs/registry/test/redis-cluster.spec.ts) every Lua script, MULTI and
// pipeline stays in one slot; what is not per key: SCAN runs per master (reindex), the session touch is one
// command per session (no pipeline across slots), and a blocked XREADGROUP is woken on the master owning its
// stream's slot (connections.ts). Costs, not faults: {idx}, {sec}, {events}, {cmd} and {node} are each one
// slot, so all their traffic goes to one master (hot shards), and list() reads records one by one (no
// cross-slot MGET).
//
// 6. Object models uploaded through the api, slot {models}:
//      <p>{models}:ddf  hash    "<objectId>:<version>" -> JSON {objectId, version, xml}
//      <p>{models}:rev  string  counter, INCR with every put (nodes re-read the hash when it moved)

export interface RegistryKeys {
  prefix: string;
  reg(endpoint: string): string;
  obs(endpoint: string): string;
  values(endpoint: string): string;
  presence(endpoint: string): string;
  regIdIndex: string;
  endpointRegIndex: string;
  endpointsIndex: string;
  expiryIndex: string;
  obsIdIndex: string;
  obsTokenIndex: string;
  eventStream: string;
  commandStream: string;
  commandGroup: string;
  auditStream: string;
  replyChannel(processId: string): string;
  securityCredentials: string;
  pskIndex: string;
  rpkIndex: string;
  x509Index: string;
  oscoreIndex: string;
  /** RFC 8613 section 7.5: the end of the last Sender Sequence Number lease of an OSCORE context. */
  oscoreSequence: (contextKey: string) => string;
  secretsKeyCheck: string;
  nodeIds: string;
  nodeCommandStream(id: number): string;
  node(id: number): string;
  dtlsSession(cid: string): string;
  dtlsResumption(sessionId: string): string;
  bootstrapConfigs: string;
  bootstrapConfigIdentities: string;
  bootstrapPskIndex: string;
  bootstrapConfigKids: string;
  bootstrapOscoreIndex: string;
  bootstrapSession(endpoint: string): string;
  models: string;
  modelsRevision: string;
}

export const DEFAULT_KEY_PREFIX = 'lwm2m:';

export function registryKeys(prefix: string = DEFAULT_KEY_PREFIX): RegistryKeys {
  // A brace in the prefix would become the hash tag and put every key in one slot.
  if (/[{}]/.test(prefix)) throw new Error(`key prefix must not contain braces: ${prefix}`);
  const ep = (endpoint: string, suffix: string) => `${prefix}{ep:${endpoint}}:${suffix}`;
  return {
    prefix,
    reg: (endpoint) => ep(endpoint, 'reg'),
    obs: (endpoint) => ep(endpoint, 'obs'),
    values: (endpoint) => ep(endpoint, 'values'),
    presence: (endpoint) => ep(endpoint, 'seen'),
    regIdIndex: `${prefix}{idx}:regid`,
    endpointRegIndex: `${prefix}{idx}:epreg`,
    endpointsIndex: `${prefix}{idx}:endpoints`,
    expiryIndex: `${prefix}{idx}:expiry`,
    obsIdIndex: `${prefix}{idx}:obsid`,
    obsTokenIndex: `${prefix}{idx}:obstoken`,
    eventStream: `${prefix}{events}:stream`,
    commandStream: `${prefix}{cmd}:stream`,
    commandGroup: 'gateways',
    auditStream: `${prefix}{audit}:stream`,
    replyChannel: (processId) => `${prefix}{cmd}:reply:${processId}`,
    securityCredentials: `${prefix}{sec}:cred`,
    pskIndex: `${prefix}{sec}:psk`,
    rpkIndex: `${prefix}{sec}:rpk`,
    x509Index: `${prefix}{sec}:x509`,
    oscoreIndex: `${prefix}{sec}:oscore`,
    oscoreSequence: (contextKey) => `${prefix}{oscseq:${contextKey}}:end`,
    secretsKeyCheck: `${prefix}{sec}:keycheck`,
    nodeIds: `${prefix}{node}:ids`,
    nodeCommandStream: (id) => `${prefix}{cmd:node:${id}}:stream`,
    node: (id) => `${prefix}{node}:${id}`,
    dtlsSession: (cid) => `${prefix}{dtls:${cid}}:s`,
    dtlsResumption: (id) => `${prefix}{dtlsres:${id}}`,
    bootstrapConfigs: `${prefix}{bs}:cfg`,
    bootstrapConfigIdentities: `${prefix}{bs}:cfgid`,
    bootstrapPskIndex: `${prefix}{bs}:psk`,
    bootstrapConfigKids: `${prefix}{bs}:cfgkid`,
    bootstrapOscoreIndex: `${prefix}{bs}:osc`,
    bootstrapSession: (endpoint) => `${prefix}{bs:ep:${endpoint}}:session`,
    models: `${prefix}{models}:ddf`,
    modelsRevision: `${prefix}{models}:rev`,
  };
}
