// Every Redis key of the firmware images and pushes, in one place (the registry's are in libs/registry).
//   <p>{fw:<id>}:meta        hash   name, version, size, sha256, created (written last: an image exists once
//                                   its content is whole)
//   <p>{fw:<id>}:c:<n>       string chunk n of the content (chunkBytes each, the last shorter)
//   <p>{fwidx}:images        set    ids of complete images (the listing)
//   <p>{<endpoint>}:fwpush   string JSON PushProgress of the device's push (one per device)
//   <p>{<endpoint>}:fwabort  string the device's push abort generation (INCR by an abort; a running push
//                                   on any node stops once it changed)
// An image's meta and chunks share a slot (its id in the hash tag), so deleting it is one transaction on
// Redis Cluster; the listing is one small set.
import { DEFAULT_KEY_PREFIX } from '@lwm2m/registry';

export interface FirmwareKeys {
  meta(id: string): string;
  chunk(id: string, n: number): string;
  images: string;
  push(endpoint: string): string;
  pushAbort(endpoint: string): string;
}

export function firmwareKeys(prefix = DEFAULT_KEY_PREFIX): FirmwareKeys {
  return {
    meta: (id) => `${prefix}{fw:${id}}:meta`,
    chunk: (id, n) => `${prefix}{fw:${id}}:c:${n}`,
    images: `${prefix}{fwidx}:images`,
    push: (endpoint) => `${prefix}{${endpoint}}:fwpush`,
    pushAbort: (endpoint) => `${prefix}{${endpoint}}:fwabort`,
  };
}
