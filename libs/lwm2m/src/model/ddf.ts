// LwM2M TS 1.2 Core Appendix D (Object template) as the OMNA registry publishes it: DDF XML after the schemas
// LWM2M.xsd (1.0) and LWM2M-v1_1.xsd (1.1, 1.2: adds LWM2MVersion, ObjectVersion, Corelnk), read with
// fast-xml-parser into ObjectModels.
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { ResourceType } from '../value';
import type { ObjectModel, ResourceModel, ResourceOperations } from './object-model';
import { parseRangeEnumeration } from './range';

/** A DDF that cannot become an object model: `source` names the file (or upload), `reason` says why. */
export class DdfError extends Error {
  override readonly name = 'DdfError';
  constructor(
    readonly source: string,
    readonly reason: string,
  ) {
    super(`${source}: ${reason}`);
  }
}

/** The largest DDF accepted: the biggest registry file is 33 KB. */
export const MAX_DDF_BYTES = 1024 * 1024;
const MAX_OBJECTS_PER_DOCUMENT = 64;

const TYPES: Record<string, ResourceType> = {
  String: 'string',
  Integer: 'integer',
  'Unsigned Integer': 'unsigned',
  Float: 'float',
  Boolean: 'boolean',
  Opaque: 'opaque',
  Time: 'time',
  Objlnk: 'objlnk',
  Corelnk: 'corelnk',
  // Executable resources carry no value (Appendix D.1: Type is empty when Operations is E).
  '': 'none',
  none: 'none',
};
const OPERATIONS = new Set<ResourceOperations>(['', 'R', 'W', 'RW', 'E']);
const VERSION = /^[0-9]{1,3}\.[0-9]{1,3}$/;
const ID = /^[0-9]{1,5}$/;

/**
 * The parser: no DTD (a DDF has none; a document type declaration is refused before parsing, so no entity
 * can be declared, let alone expand), entity expansion capped anyway, numeric character references and the
 * five XML entities decoded, values kept as text (ObjectID "0010" is not an octal or a float).
 */
const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  htmlEntities: true,
  processEntities: {
    enabled: true,
    maxEntityCount: 16,
    maxEntitySize: 1024,
    maxExpansionDepth: 2,
    maxTotalExpansions: 1000,
    maxExpandedLength: 64 * 1024,
  },
  maxNestedTags: 32,
  isArray: (_name, jpath) => jpath === 'LWM2M.Object' || jpath === 'LWM2M.Object.Resources.Item',
});

type XmlNode = Record<string, unknown>;

function isNode(v: unknown): v is XmlNode {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parses one DDF document (a file of the registry holds one Object, the schema allows several). Throws
 * DdfError naming `source` for anything that is not a well-formed, complete object definition.
 */
export function parseDdf(input: string | Buffer, source = 'DDF'): ObjectModel[] {
  const size = typeof input === 'string' ? Buffer.byteLength(input, 'utf8') : input.length;
  if (size > MAX_DDF_BYTES) throw new DdfError(source, `${size} bytes; a DDF may have ${MAX_DDF_BYTES}`);
  let xml = typeof input === 'string' ? input : input.toString('utf8');
  if (xml.charCodeAt(0) === 0xfeff) xml = xml.slice(1);
  if (xml.trim() === '') throw new DdfError(source, 'empty document');
  // XML 1.0 section 2.8: entities are declared only in a DOCTYPE; without one, nothing can expand.
  if (/<!DOCTYPE/i.test(xml)) throw new DdfError(source, 'a DDF has no document type declaration (DOCTYPE)');
  let doc: unknown;
  try {
    const valid = XMLValidator.validate(xml);
    if (valid !== true) {
      const { msg, line, col } = valid.err;
      throw new DdfError(source, `not well-formed XML at line ${line}, column ${col}: ${msg}`);
    }
    doc = parser.parse(xml);
  } catch (err) {
    if (err instanceof DdfError) throw err;
    throw new DdfError(source, `not well-formed XML: ${err instanceof Error ? err.message : String(err)}`);
  }
  const root = isNode(doc) ? doc.LWM2M : undefined;
  if (!isNode(root)) throw new DdfError(source, 'the root element is not <LWM2M>');
  const objects = root.Object;
  if (!Array.isArray(objects) || objects.length === 0) throw new DdfError(source, 'no <Object> in <LWM2M>');
  if (objects.length > MAX_OBJECTS_PER_DOCUMENT)
    throw new DdfError(source, `${objects.length} objects; at most ${MAX_OBJECTS_PER_DOCUMENT} per document`);
  return objects.map((o: unknown, n) =>
    parseObject(o, objects.length > 1 ? `${source} object ${n + 1}` : source),
  );
}

/** The text of a leaf element; `fallback` when absent (undefined: required). */
function text(node: XmlNode, key: string, where: string, fallback?: string): string {
  const v = node[key];
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw new DdfError(where, `<${key}> is missing`);
  }
  if (typeof v === 'string') return v;
  throw new DdfError(where, `<${key}> must hold text`);
}

/** Free text (descriptions): elements inside it (XHTML some files use) are not an error, just not kept. */
function prose(node: XmlNode, key: string): string | undefined {
  const v = node[key];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function oneOf<T extends string>(value: string, allowed: readonly T[], what: string, where: string): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new DdfError(
    where,
    `${what} "${value.slice(0, 40)}" is not one of ${allowed.map((a) => `"${a}"`).join(', ')}`,
  );
}

function parseId(value: string, what: string, where: string): number {
  const n = ID.test(value) ? Number(value) : NaN;
  if (!(n >= 0 && n <= 65535)) throw new DdfError(where, `${what} "${value.slice(0, 40)}" is not 0..65535`);
  return n;
}

function parseObject(o: unknown, source: string): ObjectModel {
  if (!isNode(o)) throw new DdfError(source, '<Object> has no content');
  const id = parseId(text(o, 'ObjectID', source), 'ObjectID', source);
  const where = `${source} (object ${id})`;
  const name = text(o, 'Name', where);
  if (name === '') throw new DdfError(where, '<Name> is empty');
  // LWM2M-v1_1.xsd: both optional; a 1.0 DDF (LWM2M.xsd) has neither, and its object is version 1.0.
  const version = text(o, 'ObjectVersion', where, '1.0') || '1.0';
  if (!VERSION.test(version))
    throw new DdfError(where, `<ObjectVersion> "${version.slice(0, 20)}" is not "major.minor"`);
  const lwm2mVersion = text(o, 'LWM2MVersion', where, '1.0') || '1.0';
  if (!VERSION.test(lwm2mVersion))
    throw new DdfError(where, `<LWM2MVersion> "${lwm2mVersion.slice(0, 20)}" is not "major.minor"`);
  const multiple = oneOf(
    text(o, 'MultipleInstances', where),
    ['Multiple', 'Single'],
    'MultipleInstances',
    where,
  );
  const mandatory = oneOf(text(o, 'Mandatory', where), ['Mandatory', 'Optional'], 'Mandatory', where);
  const resources = new Map<number, ResourceModel>();
  const container = o.Resources;
  // An object may define no resource (<Resources/>).
  const items = isNode(container) && Array.isArray(container.Item) ? (container.Item as unknown[]) : [];
  if (container !== undefined && container !== '' && !isNode(container))
    throw new DdfError(where, '<Resources> must hold <Item> elements');
  if (container === undefined) throw new DdfError(where, '<Resources> is missing');
  for (const item of items) {
    const r = parseResource(item, where);
    if (resources.has(r.id)) throw new DdfError(where, `resource ${r.id} is defined twice`);
    resources.set(r.id, r);
  }
  const model: ObjectModel = {
    id,
    name,
    version,
    lwm2mVersion,
    multiple: multiple === 'Multiple',
    mandatory: mandatory === 'Mandatory',
    resources,
  };
  const urn = prose(o, 'ObjectURN');
  if (urn !== undefined) model.urn = urn;
  const description = prose(o, 'Description1');
  if (description !== undefined) model.description = description;
  return model;
}

function parseResource(item: unknown, object: string): ResourceModel {
  if (!isNode(item)) throw new DdfError(object, '<Item> has no content');
  const rawId = item['@ID'];
  if (typeof rawId !== 'string') throw new DdfError(object, '<Item> has no ID attribute');
  const id = parseId(rawId.trim(), 'resource ID', object);
  const where = `${object} resource ${id}`;
  const operations = oneOf(text(item, 'Operations', where, ''), [...OPERATIONS], 'Operations', where);
  const typeText = text(item, 'Type', where, '');
  if (!Object.hasOwn(TYPES, typeText))
    throw new DdfError(where, `Type "${typeText.slice(0, 40)}" is not a LwM2M data type (Appendix C)`);
  // An empty Type belongs to an executable resource; on a readable one (a registry slip) its value is bytes.
  const type =
    TYPES[typeText] === 'none' && operations !== 'E' && operations !== '' ? 'opaque' : TYPES[typeText]!;
  const multiple = oneOf(
    text(item, 'MultipleInstances', where),
    ['Multiple', 'Single'],
    'MultipleInstances',
    where,
  );
  const mandatory = oneOf(text(item, 'Mandatory', where), ['Mandatory', 'Optional'], 'Mandatory', where);
  const r: ResourceModel = {
    id,
    name: text(item, 'Name', where),
    operations,
    multiple: multiple === 'Multiple',
    mandatory: mandatory === 'Mandatory',
    type,
  };
  const range = prose(item, 'RangeEnumeration');
  if (range !== undefined) {
    r.rangeEnumeration = range;
    const limits = parseRangeEnumeration(range, type);
    if (limits) r.range = limits;
  }
  const units = prose(item, 'Units');
  if (units !== undefined) r.units = units;
  const description = prose(item, 'Description');
  if (description !== undefined) r.description = description;
  return r;
}
