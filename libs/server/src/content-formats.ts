// LwM2M TS 1.2 Core section 7.4 (Data Formats): which Content-Format the server asks a device for when the
// operator did not choose one. The rule itself lives in @lwm2m/lwm2m formats/registry.ts.
import { preferredContentFormat as preferred } from '@lwm2m/lwm2m';
import type { Registration } from './registration';

export { getCompositeCodec, getNodeCodec, UnsupportedContentFormatError } from '@lwm2m/lwm2m';

/** The registration's best format (declared ct= first, else the version's default). Throws UnsupportedContentFormatError. */
export function formatFor(
  reg: Pick<Registration, 'lwm2mVersion' | 'supportedContentFormats'>,
  opts: { single?: boolean; composite?: boolean } = {},
): number {
  return preferred({ lwm2mVersion: reg.lwm2mVersion, supported: reg.supportedContentFormats, ...opts });
}
