// Object models from DDF files on disk: the vendored OMNA registry (models/omna) and whatever MODELS_DIR
// names. A file that does not parse stops the load with its name in the error (DdfError).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DdfError, MAX_DDF_BYTES, parseDdf } from './ddf';
import type { ObjectModel } from './object-model';

/** Where the vendored registry sits: models/omna of the repository (from src/ or from the compiled dist/). */
export function vendoredModelsDir(): string {
  let dir = __dirname;
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, 'models', 'omna');
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new Error('models/omna (the vendored OMNA registry) not found above ' + __dirname);
}

export interface LoadedModels {
  models: ObjectModel[];
  /** DDF files read. */
  files: number;
}

/** Every `*.xml` of each directory (not recursive), in name order; DdfError names the first bad file. */
export function loadModelDirectories(dirs: readonly string[]): LoadedModels {
  const models: ObjectModel[] = [];
  let files = 0;
  for (const dir of dirs) {
    let names: string[];
    try {
      names = readdirSync(dir).filter((n) => n.toLowerCase().endsWith('.xml'));
    } catch (err) {
      throw new DdfError(
        dir,
        `cannot read the directory: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      );
    }
    for (const name of names.sort()) {
      const file = join(dir, name);
      const size = statSync(file).size;
      if (size > MAX_DDF_BYTES) throw new DdfError(file, `${size} bytes; a DDF may have ${MAX_DDF_BYTES}`);
      models.push(...parseDdf(readFileSync(file), file));
      files++;
    }
  }
  return { models, files };
}
