// MODELS_DIR at the api's start: a DDF that does not parse stops the start naming the file; a good one is
// served beside the built-in objects (and MODELS_DIR empty leaves only those).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { vendoredModelsDir } from '@lwm2m/lwm2m';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createInMemoryStores, InMemoryModelStore } from '@lwm2m/server';
import { createApiApp } from '../src/create-api-app';
import { startApi } from './harness';
import { widgetDdf } from '../../../libs/server/test/contracts/model-store.contract';

const dir = mkdtempSync(join(tmpdir(), 'models-dir-'));
afterAll(() => rmSync(dir, { recursive: true }));

describe('MODELS_DIR', () => {
  it('stops the start with the name of a file that does not parse', async () => {
    writeFileSync(join(dir, 'bad.xml'), '<LWM2M><Object>');
    await expect(
      createApiApp(createInMemoryStores(), { logger: false, shutdownHooks: false, modelsDirs: [dir] }),
    ).rejects.toThrow(new RegExp(`${join(dir, 'bad.xml')}: not well-formed XML`));
    rmSync(join(dir, 'bad.xml'));
  });

  it('serves the models of its directories beside the built-in ones', async () => {
    writeFileSync(join(dir, 'widget.xml'), widgetDdf('1.3'));
    const api = await startApi(createInMemoryStores(), { modelsDirs: [dir] });
    try {
      expect((await api.call('GET', '/api/v1/models/32770')).body).toMatchObject({
        version: '1.3',
        name: 'Widget',
      });
      expect((await api.call('GET', '/api/v1/models/3')).status).toBe(200);
      // Not the vendored registry: only the built-ins and this directory.
      expect((await api.call('GET', '/api/v1/models/3328')).status).toBe(404);
    } finally {
      await api.close();
    }
    const bare = await startApi(createInMemoryStores(), { modelsDirs: [] });
    try {
      const list = await bare.call('GET', '/api/v1/models?limit=1000');
      // The built-in objects: 0-7, 21 (OSCORE) and 3303.
      expect(list.body.items).toHaveLength(10);
    } finally {
      await bare.close();
    }
  });
});

describe('the bound of uploaded models', () => {
  it('refuses a new object version once the store holds 1000 uploads (409), still replaces a known one', async () => {
    // A store that says it is full: what 1000 earlier uploads leave.
    class FullStore extends InMemoryModelStore {
      override count(): Promise<number> {
        return Promise.resolve(1000);
      }
    }
    const api = await startApi({ ...createInMemoryStores(), models: new FullStore() }, { modelsDirs: [] });
    try {
      const post = (xml: string, query = '') =>
        api.call('POST', `/api/v1/models${query}`, {
          raw: xml,
          headers: { 'content-type': 'application/xml' },
        });
      const full = await post(widgetDdf('5.0'));
      expect(full.status).toBe(409);
      expect(full.body).toMatchObject({ type: 'urn:lwm2m-cluster:problem:too-many-models', maxModels: 1000 });
      expect((await api.call('GET', '/api/v1/models/32770')).status).toBe(404);
      // Replacing a version the server knows (here the built-in Temperature 1.0) adds nothing new.
      const v10 = readFileSync(join(vendoredModelsDir(), '3303.xml'), 'utf8').replace(
        '<ObjectVersion>1.1</ObjectVersion>',
        '<ObjectVersion>1.0</ObjectVersion>',
      );
      const replaced = await post(v10, '?replace=true');
      expect(replaced.status).toBe(200);
      expect((await api.call('GET', '/api/v1/models/3303?version=1.0')).body.resources).toHaveLength(12);
    } finally {
      await api.close();
    }
  });
});
