// @lwm2m/cluster: CID pinning, the authenticated cluster link, membership and DTLS sessions shared through a
// store (Redis in libs/registry), so any gateway node handles any device's datagram.
export * from './cid';
export * from './cluster-key';
export * from './link-codec';
export * from './ports';
export * from './membership';
export * from './session-keeper';
export * from './cluster-transport';
export * from './sealed-session-cache';
