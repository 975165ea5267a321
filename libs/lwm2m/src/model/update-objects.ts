// The state machines' codes of the two update objects, shared by the server (campaigns) and the simulator:
// object 5 Firmware Update (TS 1.2 Core E.6, OMNA 5.xml) and object 9 Software Management (OMNA 9.xml).

/** /5/0/3 State. */
export const FirmwareState = { IDLE: 0, DOWNLOADING: 1, DOWNLOADED: 2, UPDATING: 3 } as const;

/** /5/0/5 Update Result: 0 initial, 1 success, 2..9 failures, 10 cancelled (1.1+), 11 deferred (1.2). */
export const FirmwareUpdateResult = {
  INITIAL: 0,
  SUCCESS: 1,
  NOT_ENOUGH_FLASH: 2,
  OUT_OF_RAM: 3,
  CONNECTION_LOST: 4,
  INTEGRITY_CHECK_FAILURE: 5,
  UNSUPPORTED_PACKAGE_TYPE: 6,
  INVALID_URI: 7,
  UPDATE_FAILED: 8,
  UNSUPPORTED_PROTOCOL: 9,
  CANCELLED: 10,
  DEFERRED: 11,
} as const;

/** /9/x/7 Update State. */
export const SoftwareUpdateState = {
  INITIAL: 0,
  DOWNLOAD_STARTED: 1,
  DOWNLOADED: 2,
  DELIVERED: 3,
  INSTALLED: 4,
} as const;

/** /9/x/9 Update Result. */
export const SoftwareUpdateResult = {
  INITIAL: 0,
  DOWNLOADING: 1,
  INSTALLED: 2,
  DOWNLOADED_VERIFIED: 3,
  NOT_ENOUGH_STORAGE: 50,
  OUT_OF_MEMORY: 51,
  CONNECTION_LOST: 52,
  INTEGRITY_CHECK_FAILURE: 53,
  UNSUPPORTED_PACKAGE_TYPE: 54,
  INVALID_URI: 56,
  DEVICE_DEFINED_ERROR: 57,
  INSTALLATION_FAILURE: 58,
  UNINSTALLATION_FAILURE: 59,
} as const;
