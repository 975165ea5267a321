// ModelStore contract: put with and without replace, list, a revision that moves with every write and is
// seen by another node (client) of the same store; SharedObjectModels on top picks uploads up by revision.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ModelLimitError, type ModelStore, SharedObjectModels } from '@lwm2m/server';
import { vendoredModelsDir } from '@lwm2m/lwm2m';
import { afterEach, describe, expect, it } from 'vitest';

export interface ModelStoreFixture {
  store: ModelStore;
  /** The same store seen by another node. */
  peer: ModelStore;
  close(): Promise<void>;
}

/** A one-resource object 32770 of `version`, resource 1 named `name`. */
export function widgetDdf(version: string, name = 'Level', extra = ''): string {
  return `<?xml version="1.0" encoding="UTF-8"?><LWM2M><Object ObjectType="MODefinition"><Name>Widget</Name>
<Description1>test object</Description1><ObjectID>32770</ObjectID><ObjectURN>urn:oma:lwm2m:x:32770</ObjectURN>
<LWM2MVersion>1.1</LWM2MVersion><ObjectVersion>${version}</ObjectVersion>
<MultipleInstances>Multiple</MultipleInstances><Mandatory>Optional</Mandatory><Resources>
<Item ID="1"><Name>${name}</Name><Operations>RW</Operations><MultipleInstances>Single</MultipleInstances>
<Mandatory>Mandatory</Mandatory><Type>Integer</Type><RangeEnumeration>0..100</RangeEnumeration><Units>%</Units>
<Description>d</Description></Item>${extra}</Resources><Description2></Description2></Object></LWM2M>`;
}

export function describeModelStoreContract(name: string, factory: () => Promise<ModelStoreFixture>): void {
  describe(`ModelStore contract: ${name}`, () => {
    let fx: ModelStoreFixture | undefined;
    afterEach(async () => {
      await fx?.close();
      fx = undefined;
    });

    it('stores by object id and version, refuses a second put without replace, and moves the revision', async () => {
      fx = await factory();
      const r0 = await fx.store.revision();
      expect(await fx.store.put({ objectId: 32770, version: '1.0', xml: 'a' }, false)).toBe(true);
      expect(await fx.store.put({ objectId: 32770, version: '1.1', xml: 'b' }, false)).toBe(true);
      const r1 = await fx.peer.revision();
      expect(r1).toBeGreaterThan(r0);
      expect(await fx.peer.put({ objectId: 32770, version: '1.0', xml: 'c' }, false)).toBe(false);
      expect(await fx.store.revision()).toBe(r1);
      expect(await fx.peer.put({ objectId: 32770, version: '1.0', xml: 'd' }, true)).toBe(true);
      expect(await fx.store.revision()).toBeGreaterThan(r1);
      expect(await fx.peer.count()).toBe(2);
      const all = (await fx.store.list()).sort((a, b) => a.version.localeCompare(b.version));
      expect(all).toEqual([
        { objectId: 32770, version: '1.0', xml: 'd' },
        { objectId: 32770, version: '1.1', xml: 'b' },
      ]);
    });

    it('carries an upload of one node to another node on its next refresh', async () => {
      fx = await factory();
      const a = new SharedObjectModels({ store: fx.store });
      const b = new SharedObjectModels({ store: fx.peer });
      await Promise.all([a.refresh(), b.refresh()]);
      expect(await a.upload(widgetDdf('1.0'), 'upload', false)).toMatchObject({ result: 'added' });
      expect(a.models.get(32770, '1.0')?.resources.get(1)?.name).toBe('Level');
      expect(b.models.get(32770, '1.0')).toBeUndefined();
      await b.refresh();
      expect(b.models.get(32770, '1.0')?.resources.get(1)).toMatchObject({ name: 'Level', units: '%' });
      // Known on b now: without replace it stays; with replace the new one wins everywhere.
      expect((await b.upload(widgetDdf('1.0', 'Other'), 'upload', false)).result).toBe('exists');
      expect((await b.upload(widgetDdf('1.0', 'Other'), 'upload', true)).result).toBe('replaced');
      await a.refresh();
      expect(a.models.get(32770, '1.0')?.resources.get(1)?.name).toBe('Other');
      // A built-in object version is known too: replacing it must be asked for.
      const device = readFileSync(join(vendoredModelsDir(), '3.xml'), 'utf8');
      expect((await a.upload(device, '3.xml', false)).result).toBe('exists');
    });

    it('refuses a new object version beyond maxStored, still replaces a known one', async () => {
      fx = await factory();
      const a = new SharedObjectModels({ store: fx.store, maxStored: 2 });
      await a.upload(widgetDdf('1.0'), 'upload', false);
      await a.upload(widgetDdf('1.1'), 'upload', false);
      await expect(a.upload(widgetDdf('1.2'), 'upload', false)).rejects.toThrow(ModelLimitError);
      expect((await a.upload(widgetDdf('1.1', 'New'), 'upload', true)).result).toBe('replaced');
      expect(await fx.store.count()).toBe(2);
    });
  });
}
