// DDF XML (TS 1.2 Core Appendix D) read into object models: every file of the vendored OMNA registry
// (models/omna, copied from OpenMobileAlliance/lwm2m-registry), bad documents refused with the file named,
// entity bombs refused, and the parser fuzzed with random and mutated registry files.
import { readdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DdfError,
  DEFAULT_OBJECT_MODELS,
  loadModelDirectories,
  MAX_DDF_BYTES,
  parseDdf,
  parseRangeEnumeration,
  rangeProblem,
  vendoredModelsDir,
} from '@lwm2m/lwm2m';
import { fuzzDecoder } from '../../../test/support/fuzz';

const DIR = vendoredModelsDir();
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.xml'));
const read = (name: string) => readFileSync(join(DIR, name));
const one = (name: string) => {
  const models = parseDdf(read(name), name);
  expect(models).toHaveLength(1);
  return models[0]!;
};

describe('the vendored OMNA registry', () => {
  it('parses every one of its 327 object files, one object each, ids matching the file names', () => {
    expect(FILES).toHaveLength(327);
    const { models, files } = loadModelDirectories([DIR]);
    expect(files).toBe(327);
    expect(models).toHaveLength(327);
    for (const m of models) expect(FILES).toContain(`${m.id}.xml`);
    // Every resource has a name and a type; every type is one of Appendix C's.
    const types = new Set(models.flatMap((m) => [...m.resources.values()].map((r) => r.type)));
    expect([...types].sort()).toEqual(
      [
        'boolean',
        'corelnk',
        'float',
        'integer',
        'none',
        'objlnk',
        'opaque',
        'string',
        'time',
        'unsigned',
      ].sort(),
    );
  });

  it('reads Device 1.2 (object 3) as the DDF says', () => {
    const d = one('3.xml');
    expect(d).toMatchObject({ id: 3, name: 'Device', version: '1.2', lwm2mVersion: '1.1', multiple: false });
    expect(d.urn).toBe('urn:oma:lwm2m:oma:3:1.2');
    expect(d.resources.size).toBe(23);
    expect(d.resources.get(4)).toMatchObject({
      name: 'Reboot',
      operations: 'E',
      type: 'none',
      mandatory: true,
    });
    expect(d.resources.get(9)).toMatchObject({ name: 'Battery Level', type: 'integer', units: '/100' });
    expect(d.resources.get(9)!.range).toEqual({ limits: 'value', intervals: [[0, 100]] });
    expect(d.resources.get(11)).toMatchObject({ multiple: true, mandatory: true, rangeEnumeration: '0..32' });
    expect(d.resources.get(13)).toMatchObject({ name: 'Current Time', operations: 'RW', type: 'time' });
    expect(d.description).toMatch(/device/i);
  });

  it('reads Temperature 1.1 (object 3303): the 1.0 resources and the 1.1 additions (5518, 6050, ...)', () => {
    const t = one('3303.xml');
    expect(t).toMatchObject({
      id: 3303,
      name: 'Temperature',
      version: '1.1',
      lwm2mVersion: '1.0',
      multiple: true,
    });
    expect([...t.resources.keys()].sort((a, b) => a - b)).toEqual([
      5518, 5601, 5602, 5603, 5604, 5605, 5700, 5701, 5750, 6042, 6049, 6050,
    ]);
    expect(t.resources.get(5700)).toMatchObject({ name: 'Sensor Value', operations: 'R', type: 'float' });
    expect(t.resources.get(5518)).toMatchObject({ name: 'Timestamp', type: 'time' });
  });

  it('reads Firmware Update (5), LwM2M Software Management (9) and a vendor object (10241)', () => {
    const fw = one('5.xml');
    expect(fw).toMatchObject({ id: 5, name: 'Firmware Update', version: '1.2' });
    expect(fw.resources.get(0)).toMatchObject({ name: 'Package', operations: 'W', type: 'opaque' });
    expect(fw.resources.get(1)!.range).toEqual({ limits: 'length', intervals: [[0, 255]] });
    const sw = one('9.xml');
    expect(sw).toMatchObject({ id: 9, name: 'LWM2M Software Management', version: '1.0', multiple: true });
    expect(sw.resources.size).toBe(19);
    const vendor = one('10241.xml');
    expect(vendor.id).toBe(10241);
    expect(vendor.resources.size).toBe(4);
    expect(vendor.name.length).toBeGreaterThan(0);
  });

  it('describes the core objects as the built-in tables do where both have the same version, but one resource', () => {
    const differences: string[] = [];
    for (const builtIn of DEFAULT_OBJECT_MODELS) {
      const name = `${builtIn.id}.xml`;
      if (!FILES.includes(name)) continue;
      const ddf = one(name);
      if (ddf.version !== builtIn.version) continue;
      for (const r of builtIn.resources.values()) {
        const d = ddf.resources.get(r.id);
        expect(d, `${name} resource ${r.id}`).toBeDefined();
        for (const key of ['type', 'operations', 'multiple', 'mandatory'] as const) {
          if (d![key] !== r[key]) differences.push(`/${builtIn.id}/${r.id} ${key}: ${r[key]} vs ${d![key]}`);
        }
      }
    }
    // Server 1.2 Lifetime: the built-in table says unsigned (Core E.2, a 32-bit lifetime), 1.xml Integer.
    // The built-in tables stay in charge of the versions they describe (ObjectModels), so nothing changes.
    expect(differences).toEqual(['/1/1 type: unsigned vs integer']);
  });
});

const minimal = (resources: string, head = '') => `<?xml version="1.0" encoding="UTF-8"?>
<LWM2M><Object ObjectType="MODefinition"><Name>Widget</Name><Description1>d</Description1>
<ObjectID>32769</ObjectID><ObjectURN>urn:oma:lwm2m:x:32769</ObjectURN>${head}
<MultipleInstances>Multiple</MultipleInstances><Mandatory>Optional</Mandatory>
<Resources>${resources}</Resources><Description2></Description2></Object></LWM2M>`;
const item = (id: string, fields: Record<string, string>) =>
  `<Item ID="${id}">${Object.entries({
    Name: 'R',
    Operations: 'RW',
    MultipleInstances: 'Single',
    Mandatory: 'Optional',
    Type: 'Integer',
    RangeEnumeration: '',
    Units: '',
    Description: '',
    ...fields,
  })
    .map(([k, v]) => `<${k}>${v}</${k}>`)
    .join('')}</Item>`;

function refusal(xml: string | Buffer, source = 'upload.xml'): DdfError {
  try {
    parseDdf(xml, source);
  } catch (err) {
    expect(err).toBeInstanceOf(DdfError);
    expect((err as DdfError).message.startsWith(source)).toBe(true);
    return err as DdfError;
  }
  throw new Error('parsed: ' + String(xml).slice(0, 80));
}

describe('parseDdf', () => {
  it('reads a 1.0-schema DDF without LWM2MVersion and ObjectVersion as version 1.0', () => {
    const [m] = parseDdf(minimal(item('1', { Type: 'Unsigned Integer', Units: 'Cel' })), 'w.xml');
    expect(m).toMatchObject({ id: 32769, version: '1.0', lwm2mVersion: '1.0', name: 'Widget' });
    expect(m!.resources.get(1)).toMatchObject({ type: 'unsigned', units: 'Cel', operations: 'RW' });
  });

  it('decodes character references and CDATA in text', () => {
    const [m] = parseDdf(
      minimal(item('2', { Name: 'A &amp; B &#60;x&#62;', Description: '<![CDATA[<b>bold</b>]]>' })),
    );
    expect(m!.resources.get(2)).toMatchObject({ name: 'A & B <x>', description: '<b>bold</b>' });
  });

  it('refuses bad documents with the source and the reason', () => {
    expect(refusal('').reason).toBe('empty document');
    expect(refusal('<LWM2M><Object>').reason).toMatch(/not well-formed XML at line 1/);
    expect(refusal('<Other/>').reason).toMatch(/root element is not <LWM2M>/);
    expect(refusal('<LWM2M><Other/></LWM2M>').reason).toMatch(/no <Object>/);
    expect(refusal(minimal(item('1', {})).replace('32769</ObjectID>', '70000</ObjectID>')).reason).toMatch(
      /ObjectID "70000" is not 0..65535/,
    );
    expect(refusal(minimal(item('1', { Type: 'Decimal' }))).message).toMatch(
      /object 32769\) resource 1: Type "Decimal" is not a LwM2M data type/,
    );
    expect(refusal(minimal(item('1', { Operations: 'RX' }))).reason).toMatch(/Operations "RX"/);
    expect(refusal(minimal(item('1', {}) + item('1', {}))).reason).toMatch(/resource 1 is defined twice/);
    expect(refusal(minimal(item('x', {}))).reason).toMatch(/resource ID "x"/);
    expect(refusal(minimal('', '<ObjectVersion>one</ObjectVersion>')).reason).toMatch(/ObjectVersion/);
    expect(refusal(minimal(item('1', {})).replace('<Name>Widget</Name>', '')).reason).toBe(
      '<Name> is missing',
    );
    expect(refusal(Buffer.alloc(MAX_DDF_BYTES + 1, 0x20)).reason).toMatch(/bytes; a DDF may have/);
  });

  it('refuses entity bombs (billion laughs, external entities) before anything expands', () => {
    const lol = (n: number) => `&lol${n};`.repeat(10);
    const laughs = `<?xml version="1.0"?>
<!DOCTYPE LWM2M [<!ENTITY lol0 "lol">${[1, 2, 3, 4, 5, 6, 7, 8, 9]
      .map((n) => `<!ENTITY lol${n} "${lol(n - 1)}">`)
      .join('')}]>
${minimal(item('1', { Name: '&lol9;' }))}`;
    const started = performance.now();
    expect(refusal(laughs).reason).toMatch(/DOCTYPE/);
    const external = `<!DOCTYPE LWM2M [<!ENTITY x SYSTEM "file:///etc/passwd">]>${minimal(item('1', { Name: '&x;' }))}`;
    expect(refusal(external).reason).toMatch(/DOCTYPE/);
    expect(performance.now() - started).toBeLessThan(1000);
    // An undeclared entity is not expanded into anything: it stays text.
    const [m] = parseDdf(minimal(item('1', { Name: '&lol9;' })));
    expect(m!.resources.get(1)!.name).toBe('&lol9;');
  });

  it('refuses deep nesting instead of recursing without bound', () => {
    const deep = '<a>'.repeat(5000) + '</a>'.repeat(5000);
    expect(refusal(`<LWM2M>${deep}</LWM2M>`)).toBeInstanceOf(DdfError);
  });

  it('throws only DdfError for random and mutated registry files (fuzz)', () => {
    // Registry files under 8 KB: the harness measures the allocation of every larger input (a full GC each).
    const seeds = ['3303.xml', '10241.xml', '10358.xml', '2049.xml', '3420.xml'].map(read);
    seeds.push(Buffer.from(minimal(item('1', {}))));
    const report = fuzzDecoder({
      name: 'parseDdf',
      decode: (b) => parseDdf(b, 'fuzz.xml'),
      seeds,
      seed: 0xddf,
      runs: 10_000,
      errorClass: DdfError,
      // XML is text: a parsed object tree costs several times its bytes.
      allocFactor: 64,
      allocSlack: 4 * 1024 * 1024,
    });
    expect(report.accepted).toBeGreaterThan(300);
    expect(report.rejected).toBeGreaterThan(3000);
  });
});

describe('loadModelDirectories', () => {
  it('names the file that does not parse', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ddf-'));
    try {
      writeFileSync(join(dir, 'a.xml'), minimal(item('1', {})));
      writeFileSync(join(dir, 'b.xml'), '<LWM2M><Object>');
      writeFileSync(join(dir, 'notes.txt'), 'not read');
      expect(() => loadModelDirectories([dir])).toThrow(new RegExp(`${join(dir, 'b.xml')}: not well-formed`));
      rmSync(join(dir, 'b.xml'));
      expect(loadModelDirectories([dir])).toMatchObject({ files: 1 });
      expect(() => loadModelDirectories([join(dir, 'missing')])).toThrow(/cannot read the directory: ENOENT/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

describe('RangeEnumeration', () => {
  it('understands the registry forms and refuses to guess the others', () => {
    expect(parseRangeEnumeration('-40..85', 'float')).toEqual({ limits: 'value', intervals: [[-40, 85]] });
    expect(parseRangeEnumeration('1...63', 'integer')).toEqual({ limits: 'value', intervals: [[1, 63]] });
    expect(parseRangeEnumeration('0..3, 99', 'integer')!.intervals).toEqual([
      [0, 3],
      [99, 99],
    ]);
    expect(parseRangeEnumeration('0; 3.8..20.5', 'float')!.intervals).toEqual([
      [0, 0],
      [3.8, 20.5],
    ]);
    expect(parseRangeEnumeration('0..255 bytes', 'string')).toEqual({
      limits: 'length',
      intervals: [[0, 255]],
    });
    expect(parseRangeEnumeration('16,32,48', 'opaque')!.limits).toBe('length');
    expect(parseRangeEnumeration('0: RELEASED\n\t1: PRESSED\n\t2: FAULT', 'unsigned')!.intervals).toEqual([
      [0, 0],
      [1, 1],
      [2, 2],
    ]);
    for (const [text, type] of [
      ['ON;OFF', 'float'],
      ['2 Instances', 'integer'],
      ['8-Bits', 'integer'],
      ['2 bytes', 'integer'],
      ['-30..-120', 'integer'],
      ['0..65535', 'boolean'],
      ['', 'integer'],
    ] as const) {
      expect(parseRangeEnumeration(text, type), text).toBeUndefined();
    }
  });

  it('says why a value is outside, by value or by byte length', () => {
    const r = parseRangeEnumeration('0..100', 'integer');
    expect(rangeProblem(r, 100)).toBeUndefined();
    expect(rangeProblem(r, 101)).toBe('101 is outside 0..100');
    expect(rangeProblem(r, -1n)).toBe('-1 is outside 0..100');
    const len = parseRangeEnumeration('1..3 bytes', 'string');
    expect(rangeProblem(len, 'abc')).toBeUndefined();
    expect(rangeProblem(len, 'é€')).toBe('length 5 bytes is outside 1..3 bytes');
    expect(rangeProblem(len, Buffer.alloc(0))).toBe('length 0 bytes is outside 1..3 bytes');
    expect(rangeProblem(undefined, 5)).toBeUndefined();
  });
});
