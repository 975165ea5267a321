// Public API of @lwm2m/transport: the datagram seam below CoAP, DTLS, UDP and the cluster link.
export * from './transport';
export * from './memory-transport';
export * from './session-ref';
