// The anti-replay window lives in libs/bytes: DTLS records and OSCORE requests share it.
export * from '@lwm2m/bytes/replay-window';
