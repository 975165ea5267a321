// The api's object models: SharedObjectModels (built in, MODELS_DIR, uploads of every node), re-read when
// their revision moved before a model is consulted, and the per-device view a read or write is checked with.
import { Logger } from '@nestjs/common';
import type { ObjectModelRegistry } from '@lwm2m/lwm2m';
import type { ModelUpload, Registration, SharedObjectModels } from '@lwm2m/server';

export class ApiObjectModels {
  private readonly logger = new Logger('models');

  constructor(private readonly shared: SharedObjectModels) {}

  get models(): SharedObjectModels['models'] {
    return this.shared.models;
  }

  /** Picks up models another node uploaded (one GET of the revision); a store that is away only delays it. */
  async sync(): Promise<void> {
    try {
      await this.shared.refresh();
    } catch (err) {
      this.logger.warn(`object models not refreshed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  upload(xml: string, source: string, replace: boolean): Promise<ModelUpload> {
    return this.shared.upload(xml, source, replace);
  }

  /** The models of one device: the object versions its registration states ("ver"). */
  async forDevice(reg: Pick<Registration, 'objectLinks'>): Promise<ObjectModelRegistry> {
    await this.sync();
    return this.shared.models.forDevice(reg.objectLinks);
  }
}
