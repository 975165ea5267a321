// RFC 8790 (FETCH and PATCH with SenML), section 5: a Patch Pack in application/senml-etch+json
// (Content-Format 320) or application/senml-etch+cbor (322). Its records carry what changed; a record whose
// value is null removes the records it names. LwM2M devices use it for notifications that carry only the
// changed resources ("patch" notifications) and the server for iPATCH (RFC 8132) of an object instance.
import { DecodeError } from '@lwm2m/bytes';
import type { ObjectModelRegistry } from '../model/object-model';
import type { CompositeNodes } from '../node';
import { Lwm2mPath } from '../path';
import { ContentFormat } from './codec';
import { compositeToRecords, resolveRecords, type SenmlRecord } from './senml';
import { senmlCbor, senmlEtchCborRecords } from './senml-cbor';
import { senmlEtchJsonRecords, senmlJson } from './senml-json';
import { leavesToComposite, type RawLeaf } from './typed-leaves';

/** What a Patch Pack says: values to set (nodes by path) and resource (instance) paths to remove. */
export interface SenmlPatch {
  set: CompositeNodes;
  removed: Lwm2mPath[];
}

/** Whether a Content-Format is a SenML FETCH/PATCH format (RFC 8790 section 6). */
export function isSenmlEtch(contentFormat: number | undefined): boolean {
  return contentFormat === ContentFormat.SENML_ETCH_JSON || contentFormat === ContentFormat.SENML_ETCH_CBOR;
}

const codecName = (cf: number): string =>
  cf === ContentFormat.SENML_ETCH_JSON ? 'senml-etch-json' : 'senml-etch-cbor';

/** Decodes a Patch Pack (network input: throws only DecodeError). */
export function decodeSenmlPatch(
  payload: Buffer,
  contentFormat: number,
  model: ObjectModelRegistry,
  now?: () => number,
): SenmlPatch {
  if (!isSenmlEtch(contentFormat)) {
    throw new DecodeError('bad-format', `Content-Format ${contentFormat} is not SenML-ETCH`, 'senml-etch');
  }
  const codec = codecName(contentFormat);
  const records =
    contentFormat === ContentFormat.SENML_ETCH_JSON
      ? senmlEtchJsonRecords(payload)
      : senmlEtchCborRecords(payload);
  // resolveRecords keeps the order: record i resolves to resolved[i].
  const resolved = resolveRecords(records, codec, now);
  const leaves: RawLeaf[] = [];
  const removed: Lwm2mPath[] = [];
  resolved.forEach((r, i) => {
    const path = parsePath(r.name, codec);
    if (records[i]!.remove === true) {
      if (path.depth < 3) throw new DecodeError('bad-path', `cannot remove ${r.name.slice(0, 40)}`, codec);
      removed.push(path);
    } else if (r.value === undefined) {
      throw new DecodeError('no-value', `record ${r.name.slice(0, 40)} has no value`, codec);
    } else leaves.push({ path, raw: r.value, time: r.time });
  });
  const set = leaves.length > 0 ? leavesToComposite(leaves, model, codec) : [];
  return { set, removed };
}

/** Encodes a Patch Pack: removals first (absolute names, before any base name), then the values. */
export function encodeSenmlPatch(patch: SenmlPatch, contentFormat: number): Buffer {
  const codec = codecName(contentFormat);
  const records: SenmlRecord[] = [
    ...patch.removed.map((p) => ({ n: p.toString(), remove: true })),
    ...compositeToRecords(patch.set, codec),
  ];
  return contentFormat === ContentFormat.SENML_ETCH_JSON
    ? senmlJson.fromRecords(records)
    : senmlCbor.fromRecords(records);
}

function parsePath(text: string, codec: string): Lwm2mPath {
  try {
    return Lwm2mPath.parse(text);
  } catch (e) {
    throw new DecodeError('bad-path', e instanceof Error ? e.message : String(e), codec);
  }
}
