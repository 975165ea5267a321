// The object models of one process: the built-in core objects, the DDF files of MODELS_DIR, and the models
// uploaded through the api (ModelStore), re-read when the store's revision moved, so an upload on one node
// reaches every api and gateway.
import {
  DdfError,
  type LoadedModels,
  type ObjectModel,
  ObjectModels,
  loadModelDirectories,
  parseDdf,
  vendoredModelsDir,
} from '@lwm2m/lwm2m';
import type { ModelStore } from './ports';

/** Parsed directories of this process: the api and the gateway of one node read the files once. */
const loaded = new Map<string, LoadedModels>();

function load(dirs: readonly string[]): LoadedModels {
  const key = dirs.join('\0');
  let models = loaded.get(key);
  if (models === undefined) loaded.set(key, (models = loadModelDirectories(dirs)));
  return models;
}

export interface SharedObjectModelsOptions {
  store: ModelStore;
  /**
   * Directories of DDF files read once at start (MODELS_DIR); a bad file stops the start (DdfError).
   * Default: the vendored OMNA registry (models/omna).
   */
  dirs?: readonly string[];
  /** A stored document that no longer parses: skipped, with this warning. */
  warn?: (message: string) => void;
  /** Uploaded models kept at most (default 1000): an upload beyond is refused (ModelLimitError). */
  maxStored?: number;
}

/** The default bound of uploaded models: the whole OMNA registry three times over. */
export const DEFAULT_MAX_STORED_MODELS = 1000;

/** An upload of a new object version when the store already holds `max` models. */
export class ModelLimitError extends Error {
  override readonly name = 'ModelLimitError';
  constructor(readonly max: number) {
    super(`the model store holds ${max} uploaded models, its limit; replace one instead`);
  }
}

/** What an upload did: `exists` when the object version was known and replacing was not asked for. */
export interface ModelUpload {
  result: 'added' | 'replaced' | 'exists';
  model: ObjectModel;
}

export class SharedObjectModels {
  readonly models = new ObjectModels();
  /** DDF files read at start. */
  readonly files: number;
  private readonly store: ModelStore;
  private readonly warn: (message: string) => void;
  private readonly maxStored: number;
  private seenRevision = -1;
  private refreshing?: Promise<void>;

  constructor(opts: SharedObjectModelsOptions) {
    this.store = opts.store;
    this.warn = opts.warn ?? (() => undefined);
    this.maxStored = opts.maxStored ?? DEFAULT_MAX_STORED_MODELS;
    const files = load(opts.dirs ?? [vendoredModelsDir()]);
    // Files never replace a built-in table or an earlier file: the built-ins are what the codecs were
    // tested with (ddf.spec.ts lists where the registry differs); uploads may replace (explicitly).
    for (const m of files.models) this.models.add(m, { replace: false });
    this.files = files.files;
  }

  /** Re-reads the uploaded models when the store's revision changed since the last look. */
  refresh(): Promise<void> {
    this.refreshing ??= this.reload().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async reload(): Promise<void> {
    const revision = await this.store.revision();
    if (revision === this.seenRevision) return;
    for (const stored of await this.store.list()) {
      try {
        for (const m of parseDdf(stored.xml, `stored model ${stored.objectId}:${stored.version}`))
          this.models.add(m);
      } catch (err) {
        if (!(err instanceof DdfError)) throw err;
        this.warn(`object models: ${err.message}`);
      }
    }
    this.seenRevision = revision;
  }

  /**
   * Stores one uploaded DDF (one object) for every node and adds it here. DdfError when it does not parse
   * or holds more than one object; `exists` when this object version is known (built in, a MODELS_DIR file
   * or an earlier upload, here or on another node) and `replace` is false.
   */
  async upload(xml: string, source: string, replace: boolean): Promise<ModelUpload> {
    const parsed = parseDdf(xml, source);
    if (parsed.length !== 1)
      throw new DdfError(source, `${parsed.length} objects; upload one object per document`);
    const model = parsed[0]!;
    const known = this.models.get(model.id, model.version) !== undefined;
    if (known && !replace) return { result: 'exists', model };
    // Bounded, so that no key (an admin's included) fills Redis with documents; replacing a known object
    // version adds none beyond the ones the server already knows.
    if (!known && (await this.store.count()) >= this.maxStored) throw new ModelLimitError(this.maxStored);
    const written = await this.store.put({ objectId: model.id, version: model.version, xml }, replace);
    if (!written) return { result: 'exists', model };
    this.models.add(model);
    return { result: known ? 'replaced' : 'added', model };
  }
}
