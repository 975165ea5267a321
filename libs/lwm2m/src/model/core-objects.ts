// LwM2M TS 1.1/1.2 Core Appendix E: the core objects 0-7, as published in the OMNA LwM2M registry
// (github.com/OpenMobileAlliance/lwm2m-registry 0.xml-7.xml, LWM2M_Security-v1_1_1.xml), written as compact tables.
import type { ResourceType } from '../value';
import type { ObjectModel, ResourceModel, ResourceOperations } from './object-model';
import { parseRangeEnumeration } from './range';

/** [id, name, operations, multiple, mandatory, type, rangeEnumeration, units] */
type Row = [number, string, ResourceOperations, 'S' | 'M', 'M' | 'O', ResourceType, string?, string?];

interface ObjectHead {
  id: number;
  name: string;
  version: string;
  lwm2mVersion: string;
  multiple: boolean;
  mandatory: boolean;
}

function define(head: ObjectHead, rows: Row[]): ObjectModel {
  const resources = new Map<number, ResourceModel>();
  for (const [id, name, operations, multiple, mandatory, type, range, units] of rows) {
    const r: ResourceModel = {
      id,
      name,
      operations,
      multiple: multiple === 'M',
      mandatory: mandatory === 'M',
      type,
    };
    if (range) {
      r.rangeEnumeration = range;
      const limits = parseRangeEnumeration(range, type);
      if (limits) r.range = limits;
    }
    if (units) r.units = units;
    resources.set(id, r);
  }
  const urn = `urn:oma:lwm2m:oma:${head.id}${head.version === '1.0' ? '' : ':' + head.version}`;
  return { ...head, resources, urn };
}

/** Object 0, LwM2M Security 1.1 (operations empty: only the Bootstrap-Server touches it). */
export const SECURITY_OBJECT = define(
  { id: 0, name: 'LwM2M Security', version: '1.1', lwm2mVersion: '1.1', multiple: true, mandatory: true },
  [
    [0, 'LwM2M Server URI', '', 'S', 'M', 'string', '0..255 bytes'],
    [1, 'Bootstrap-Server', '', 'S', 'M', 'boolean'],
    [2, 'Security Mode', '', 'S', 'M', 'integer', '0..4'],
    [3, 'Public Key or Identity', '', 'S', 'M', 'opaque'],
    [4, 'Server Public Key', '', 'S', 'M', 'opaque'],
    [5, 'Secret Key', '', 'S', 'M', 'opaque'],
    [6, 'SMS Security Mode', '', 'S', 'O', 'integer', '0..255'],
    [7, 'SMS Binding Key Parameters', '', 'S', 'O', 'opaque', '6'],
    [8, 'SMS Binding Secret Key(s)', '', 'S', 'O', 'opaque', '16,32,48'],
    [9, 'LwM2M Server SMS Number', '', 'S', 'O', 'string'],
    [10, 'Short Server ID', '', 'S', 'O', 'integer', '1..65534'],
    [11, 'Client Hold Off Time', '', 'S', 'O', 'integer', undefined, 's'],
    [12, 'Bootstrap-Server Account Timeout', '', 'S', 'O', 'integer', undefined, 's'],
    [13, 'Matching Type', '', 'S', 'O', 'unsigned', '0..3'],
    [14, 'SNI', '', 'S', 'O', 'string'],
    [15, 'Certificate Usage', '', 'S', 'O', 'integer', '0..3'],
    [16, 'DTLS/TLS Ciphersuite', '', 'M', 'O', 'integer'],
    [17, 'OSCORE Security Mode', '', 'S', 'O', 'objlnk'],
  ],
);

/** Object 1, LwM2M Server 1.2. */
export const SERVER_OBJECT = define(
  { id: 1, name: 'LwM2M Server', version: '1.2', lwm2mVersion: '1.2', multiple: true, mandatory: true },
  [
    [0, 'Short Server ID', 'R', 'S', 'M', 'integer', '1..65534'],
    [1, 'Lifetime', 'RW', 'S', 'M', 'unsigned', undefined, 's'],
    [2, 'Default Minimum Period', 'RW', 'S', 'O', 'integer', undefined, 's'],
    [3, 'Default Maximum Period', 'RW', 'S', 'O', 'integer', undefined, 's'],
    [4, 'Disable', 'E', 'S', 'O', 'none'],
    [5, 'Disable Timeout', 'RW', 'S', 'O', 'integer', undefined, 's'],
    [6, 'Notification Storing When Disabled or Offline', 'RW', 'S', 'M', 'boolean'],
    [7, 'Binding', 'RW', 'S', 'M', 'string'],
    [8, 'Registration Update Trigger', 'E', 'S', 'M', 'none'],
    [9, 'Bootstrap-Request Trigger', 'E', 'S', 'O', 'none'],
    [10, 'APN Link', 'RW', 'S', 'O', 'objlnk'],
    [11, 'TLS-DTLS Alert Code', 'R', 'S', 'O', 'unsigned', '0..255'],
    [12, 'Last Bootstrapped', 'R', 'S', 'O', 'time'],
    [13, 'Registration Priority Order', 'R', 'S', 'O', 'unsigned'],
    [14, 'Initial Registration Delay Timer', 'RW', 'S', 'O', 'unsigned', undefined, 's'],
    [15, 'Registration Failure Block', 'R', 'S', 'O', 'boolean'],
    [16, 'Bootstrap on Registration Failure', 'R', 'S', 'O', 'boolean'],
    [17, 'Communication Retry Count', 'RW', 'S', 'O', 'unsigned'],
    [18, 'Communication Retry Timer', 'RW', 'S', 'O', 'unsigned', undefined, 's'],
    [19, 'Communication Sequence Delay Timer', 'RW', 'S', 'O', 'unsigned', undefined, 's'],
    [20, 'Communication Sequence Retry Count', 'RW', 'S', 'O', 'unsigned'],
    [21, 'Trigger', 'RW', 'S', 'O', 'boolean'],
    [22, 'Preferred Transport', 'RW', 'S', 'O', 'string'],
    [23, 'Mute Send', 'RW', 'S', 'O', 'boolean'],
    [24, 'Alternate APN Links', 'RW', 'M', 'O', 'objlnk'],
    [25, 'Supported Server Versions', 'RW', 'M', 'O', 'string'],
    [26, 'Default Notification Mode', 'RW', 'S', 'O', 'integer', '0..1'],
    [27, 'Profile ID Hash Algorithm', 'RW', 'S', 'O', 'unsigned', '0..255'],
  ],
);

/** Object 2, LwM2M Access Control 1.1. */
export const ACCESS_CONTROL_OBJECT = define(
  {
    id: 2,
    name: 'LwM2M Access Control',
    version: '1.1',
    lwm2mVersion: '1.0',
    multiple: true,
    mandatory: false,
  },
  [
    [0, 'Object ID', 'R', 'S', 'M', 'integer', '1..65534'],
    [1, 'Object Instance ID', 'R', 'S', 'M', 'integer', '0..65535'],
    [2, 'ACL', 'RW', 'M', 'O', 'integer', '0..31'],
    [3, 'Access Control Owner', 'RW', 'S', 'M', 'integer', '0..65535'],
  ],
);

/** Object 3, Device 1.2. */
export const DEVICE_OBJECT = define(
  { id: 3, name: 'Device', version: '1.2', lwm2mVersion: '1.1', multiple: false, mandatory: true },
  [
    [0, 'Manufacturer', 'R', 'S', 'O', 'string'],
    [1, 'Model Number', 'R', 'S', 'O', 'string'],
    [2, 'Serial Number', 'R', 'S', 'O', 'string'],
    [3, 'Firmware Version', 'R', 'S', 'O', 'string'],
    [4, 'Reboot', 'E', 'S', 'M', 'none'],
    [5, 'Factory Reset', 'E', 'S', 'O', 'none'],
    [6, 'Available Power Sources', 'R', 'M', 'O', 'integer', '0..7'],
    [7, 'Power Source Voltage', 'R', 'M', 'O', 'integer', undefined, 'mV'],
    [8, 'Power Source Current', 'R', 'M', 'O', 'integer', undefined, 'mA'],
    [9, 'Battery Level', 'R', 'S', 'O', 'integer', '0..100', '/100'],
    [10, 'Memory Free', 'R', 'S', 'O', 'integer', undefined, 'KB'],
    [11, 'Error Code', 'R', 'M', 'M', 'integer', '0..32'],
    [12, 'Reset Error Code', 'E', 'S', 'O', 'none'],
    [13, 'Current Time', 'RW', 'S', 'O', 'time'],
    [14, 'UTC Offset', 'RW', 'S', 'O', 'string'],
    [15, 'Timezone', 'RW', 'S', 'O', 'string'],
    [16, 'Supported Binding and Modes', 'R', 'S', 'M', 'string'],
    [17, 'Device Type', 'R', 'S', 'O', 'string'],
    [18, 'Hardware Version', 'R', 'S', 'O', 'string'],
    [19, 'Software Version', 'R', 'S', 'O', 'string'],
    [20, 'Battery Status', 'R', 'S', 'O', 'integer', '0..6'],
    [21, 'Memory Total', 'R', 'S', 'O', 'integer', undefined, 'KB'],
    [22, 'ExtDevInfo', 'R', 'M', 'O', 'objlnk'],
  ],
);

/** Object 4, Connectivity Monitoring 1.3. */
export const CONNECTIVITY_MONITORING_OBJECT = define(
  {
    id: 4,
    name: 'Connectivity Monitoring',
    version: '1.3',
    lwm2mVersion: '1.1',
    multiple: false,
    mandatory: false,
  },
  [
    [0, 'Network Bearer', 'R', 'S', 'M', 'integer', '0..50'],
    [1, 'Available Network Bearer', 'R', 'M', 'M', 'integer', '0..50'],
    [2, 'Radio Signal Strength', 'R', 'S', 'M', 'integer', undefined, 'dBm'],
    [3, 'Link Quality', 'R', 'S', 'O', 'integer'],
    [4, 'IP Addresses', 'R', 'M', 'M', 'string'],
    [5, 'Router IP Addresses', 'R', 'M', 'O', 'string'],
    [6, 'Link Utilization', 'R', 'S', 'O', 'integer', '0..100', '/100'],
    [7, 'APN', 'R', 'M', 'O', 'string'],
    [8, 'Cell ID', 'R', 'S', 'O', 'integer'],
    [9, 'SMNC', 'R', 'S', 'O', 'integer', '0..999'],
    [10, 'SMCC', 'R', 'S', 'O', 'integer', '0..999'],
    [11, 'SignalSNR', 'R', 'S', 'O', 'integer', undefined, 'dB'],
    [12, 'LAC', 'R', 'S', 'O', 'integer'],
    [13, 'Coverage Enhancement Level', 'R', 'S', 'O', 'integer', '0..4'],
  ],
);

/** Object 5, Firmware Update 1.1 (the registry DDF defines no resource 4). */
export const FIRMWARE_UPDATE_OBJECT = define(
  { id: 5, name: 'Firmware Update', version: '1.1', lwm2mVersion: '1.1', multiple: false, mandatory: false },
  [
    [0, 'Package', 'W', 'S', 'M', 'opaque'],
    [1, 'Package URI', 'RW', 'S', 'M', 'string', '0..255'],
    [2, 'Update', 'E', 'S', 'M', 'none'],
    [3, 'State', 'R', 'S', 'M', 'integer', '0..3'],
    [5, 'Update Result', 'R', 'S', 'M', 'integer', '0..11'],
    [6, 'PkgName', 'R', 'S', 'O', 'string', '0..255'],
    [7, 'PkgVersion', 'R', 'S', 'O', 'string', '0..255'],
    [8, 'Firmware Update Protocol Support', 'R', 'M', 'O', 'integer', '0..5'],
    [9, 'Firmware Update Delivery Method', 'R', 'S', 'M', 'integer', '0..2'],
    [10, 'Cancel', 'E', 'S', 'O', 'none'],
    [11, 'Severity', 'RW', 'S', 'O', 'integer', '0..2'],
    [12, 'Last State Change Time', 'R', 'S', 'O', 'time'],
    [13, 'Maximum Defer Period', 'RW', 'S', 'O', 'unsigned', undefined, 's'],
  ],
);

/** Object 6, Location 1.1. */
export const LOCATION_OBJECT = define(
  { id: 6, name: 'Location', version: '1.1', lwm2mVersion: '1.0', multiple: false, mandatory: false },
  [
    [0, 'Latitude', 'RW', 'S', 'M', 'float', undefined, 'lat'],
    [1, 'Longitude', 'RW', 'S', 'M', 'float', undefined, 'lon'],
    [2, 'Altitude', 'RW', 'S', 'O', 'float', undefined, 'm'],
    [3, 'Radius', 'R', 'S', 'O', 'float', undefined, 'm'],
    [4, 'Velocity', 'R', 'S', 'O', 'opaque'],
    [5, 'Timestamp', 'R', 'S', 'M', 'time'],
    [6, 'Speed', 'R', 'S', 'O', 'float', undefined, 'm/s'],
    [8, 'Expected Latitude', 'RW', 'S', 'O', 'float', undefined, 'lat'],
    [9, 'Expected Longitude', 'RW', 'S', 'O', 'float', undefined, 'lon'],
    [10, 'Expected Altitude', 'RW', 'S', 'O', 'float', undefined, 'm'],
    [11, 'Location Change Threshold', 'RW', 'S', 'O', 'float', undefined, 'm'],
    [12, 'Location Changed', 'R', 'S', 'O', 'boolean'],
  ],
);

/** Object 7, Connectivity Statistics 1.0. */
export const CONNECTIVITY_STATISTICS_OBJECT = define(
  {
    id: 7,
    name: 'Connectivity Statistics',
    version: '1.0',
    lwm2mVersion: '1.0',
    multiple: false,
    mandatory: false,
  },
  [
    [0, 'SMS Tx Counter', 'R', 'S', 'O', 'integer'],
    [1, 'SMS Rx Counter', 'R', 'S', 'O', 'integer'],
    [2, 'Tx Data', 'R', 'S', 'O', 'integer', undefined, 'KB'],
    [3, 'Rx Data', 'R', 'S', 'O', 'integer', undefined, 'KB'],
    [4, 'Max Message Size', 'R', 'S', 'O', 'integer', undefined, 'B'],
    [5, 'Average Message Size', 'R', 'S', 'O', 'integer', undefined, 'B'],
    [6, 'Start', 'E', 'S', 'M', 'none'],
    [7, 'Stop', 'E', 'S', 'M', 'none'],
    [8, 'Collection Period', 'RW', 'S', 'O', 'integer', undefined, 's'],
  ],
);

/**
 * Object 21, LwM2M OSCORE 2.0 (TS 1.1 Core E.9; OMNA 21.xml): the OSCORE context a Bootstrap-Server writes and
 * a Security instance links to (/0/x/17). No operations: only the Bootstrap-Server touches it.
 */
export const OSCORE_OBJECT = define(
  { id: 21, name: 'LwM2M OSCORE', version: '2.0', lwm2mVersion: '1.1', multiple: true, mandatory: false },
  [
    [0, 'OSCORE Master Secret', '', 'S', 'M', 'opaque'],
    [1, 'OSCORE Sender ID', '', 'S', 'M', 'opaque'],
    [2, 'OSCORE Recipient ID', '', 'S', 'M', 'opaque'],
    [3, 'OSCORE AEAD Algorithm', '', 'S', 'O', 'integer'],
    [4, 'OSCORE HMAC Algorithm', '', 'S', 'O', 'integer'],
    [5, 'OSCORE Master Salt', '', 'S', 'O', 'opaque'],
    [6, 'OSCORE ID Context', '', 'S', 'O', 'opaque'],
  ],
);

/**
 * Object 3303 Temperature 1.0 (IPSO Smart Objects Guideline; OMNA registry 3303.xml): the most common sensor
 * object, known by default so a TLV or LwM2M CBOR value of 5700 decodes as a float rather than as opaque.
 */
export const TEMPERATURE_OBJECT: ObjectModel = {
  ...define(
    { id: 3303, name: 'Temperature', version: '1.0', lwm2mVersion: '1.0', multiple: true, mandatory: false },
    [
      [5700, 'Sensor Value', 'R', 'S', 'M', 'float'],
      [5601, 'Min Measured Value', 'R', 'S', 'O', 'float'],
      [5602, 'Max Measured Value', 'R', 'S', 'O', 'float'],
      [5603, 'Min Range Value', 'R', 'S', 'O', 'float'],
      [5604, 'Max Range Value', 'R', 'S', 'O', 'float'],
      [5605, 'Reset Min and Max Measured Values', 'E', 'S', 'O', 'none'],
      [5701, 'Sensor Units', 'R', 'S', 'O', 'string'],
      [5750, 'Application Type', 'RW', 'S', 'O', 'string'],
    ],
  ),
  urn: 'urn:oma:lwm2m:ext:3303',
};

/** The objects every server knows: the core objects (Core Appendix E), OSCORE (21) and IPSO Temperature. */
export const DEFAULT_OBJECT_MODELS: readonly ObjectModel[] = [
  SECURITY_OBJECT,
  SERVER_OBJECT,
  ACCESS_CONTROL_OBJECT,
  DEVICE_OBJECT,
  CONNECTIVITY_MONITORING_OBJECT,
  FIRMWARE_UPDATE_OBJECT,
  LOCATION_OBJECT,
  CONNECTIVITY_STATISTICS_OBJECT,
  OSCORE_OBJECT,
  TEMPERATURE_OBJECT,
];
