// The anti-replay window lives in libs/bytes: DTLS records and OSCORE requests share it.
export { ReplayWindow, type ReplayWindowState, WINDOW_SIZE } from '@lwm2m/bytes';
