// Developer check, not run by CI (no kustomize there): renders each folder with test/k8s's offline renderer
// and with `kubectl kustomize` (or `kustomize build`) and prints any object that differs.
//   npx tsx test/k8s/compare-with-kustomize.ts k8s/base k8s/overlays/example
import { execFileSync } from 'node:child_process';
import { isDeepStrictEqual } from 'node:util';
import { idOf, type K8sObject, parseYamlDocuments, renderKustomization } from './kustomize';

function kustomize(dir: string): string {
  try {
    return execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
  } catch {
    return execFileSync('kustomize', ['build', dir], { encoding: 'utf8' });
  }
}

let differences = 0;
for (const dir of process.argv.slice(2)) {
  const ours = new Map(renderKustomization(dir).map((o) => [idOf(o), o]));
  const theirs = new Map(parseYamlDocuments(kustomize(dir), dir).map((o) => [idOf(o as K8sObject), o]));
  for (const [id, o] of theirs) {
    if (!ours.has(id)) console.log(`${dir}: ${id} missing here`);
    else if (!isDeepStrictEqual(ours.get(id), o)) console.log(`${dir}: ${id} differs`);
    else continue;
    differences++;
  }
  for (const id of ours.keys()) {
    if (!theirs.has(id)) {
      console.log(`${dir}: ${id} only here`);
      differences++;
    }
  }
  console.log(`${dir}: ${theirs.size} objects from kustomize, ${ours.size} here`);
}
console.log(differences === 0 ? 'identical' : `${differences} differences`);
process.exitCode = differences === 0 ? 0 : 1;
