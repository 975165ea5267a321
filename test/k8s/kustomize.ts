// An offline renderer for the subset of kustomize (kustomize.config.k8s.io/v1beta1) that k8s/ uses, so CI
// can render the base and overlays without a kustomize binary (none is on the CI image, and Debian's
// kubernetes-client ships the kustomize of 2019, which predates `patches`). Anything outside the subset is
// refused with an error rather than ignored, so a kustomization can't silently render differently here
// than in `kubectl kustomize`. Against kustomize v5.5.0 (kubectl 1.32) it renders k8s/ to the same objects.
//
// The subset: resources (files and folders, no URLs), namespace, patches (JSON 6902 only, with a target;
// inline `patch` or `path`), replicas, images. Transformers run in kustomize's order for one level
// (api/internal/target/kusttarget_configplugin.go): patches, namespace, replicas, images.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
}

export class KustomizeError extends Error {}

const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];
const SUPPORTED = new Set(['apiVersion', 'kind', 'resources', 'namespace', 'patches', 'replicas', 'images']);

/** Kinds that have no namespace (the ones a kustomization of this project could plausibly hold). */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'IngressClass',
  'PersistentVolume',
  'PriorityClass',
  'StorageClass',
  'RuntimeClass',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
]);

const SCALABLE = new Set(['Deployment', 'StatefulSet', 'ReplicaSet', 'ReplicationController']);

/**
 * Parses YAML the way the Kubernetes toolchain reads it: YAML 1.1 scalars (an unquoted `yes`, `on` or
 * `off` is a boolean there, so a ConfigMap value written that way must fail validation here too),
 * duplicate keys refused.
 */
export function parseYamlDocuments(text: string, source: string): unknown[] {
  const docs = parseAllDocuments(text, { version: '1.1', uniqueKeys: true });
  const out: unknown[] = [];
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    if (doc.errors.length > 0) throw new KustomizeError(`${source}: ${doc.errors[0]!.message}`);
    const value: unknown = doc.toJS();
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

/** Renders the kustomization in `dir` (and, recursively, every folder it lists) to a list of objects. */
export function renderKustomization(dir: string): K8sObject[] {
  const root = resolve(dir);
  const file = KUSTOMIZATION_FILES.map((f) => join(root, f)).find((f) => existsSync(f));
  if (!file) throw new KustomizeError(`${root}: no kustomization.yaml`);
  const [k] = parseYamlDocuments(readFileSync(file, 'utf8'), file);
  if (!isRecord(k)) throw new KustomizeError(`${file}: not a mapping`);
  for (const key of Object.keys(k)) {
    if (!SUPPORTED.has(key))
      throw new KustomizeError(`${file}: "${key}" is outside the kustomize subset test/k8s renders`);
  }
  if (k.kind !== undefined && k.kind !== 'Kustomization')
    throw new KustomizeError(`${file}: kind must be Kustomization`);

  let objects: K8sObject[] = [];
  for (const entry of list(k.resources, file, 'resources')) {
    if (typeof entry !== 'string' || /^[a-z]+:\/\//i.test(entry) || entry.includes('?ref='))
      throw new KustomizeError(`${file}: resource ${JSON.stringify(entry)} must be a local path`);
    const path = resolve(root, entry);
    if (!existsSync(path)) throw new KustomizeError(`${file}: resource ${entry} does not exist`);
    const loaded = statSync(path).isDirectory() ? renderKustomization(path) : loadObjects(path);
    for (const obj of loaded) {
      if (objects.some((o) => sameId(o, obj)))
        throw new KustomizeError(`${file}: ${idOf(obj)} is listed twice (via ${entry})`);
      objects.push(obj);
    }
  }
  for (const [i, p] of list(k.patches, file, 'patches').entries()) {
    objects = applyPatch(objects, p, root, `${file}: patches[${i}]`);
  }
  if (k.namespace !== undefined) {
    if (typeof k.namespace !== 'string') throw new KustomizeError(`${file}: namespace must be a string`);
    setNamespace(objects, k.namespace);
  }
  for (const r of list(k.replicas, file, 'replicas')) setReplicas(objects, r, file);
  for (const img of list(k.images, file, 'images')) setImage(objects, img, file);
  return objects;
}

function loadObjects(path: string): K8sObject[] {
  return parseYamlDocuments(readFileSync(path, 'utf8'), path).map((doc, i) => {
    if (
      !isRecord(doc) ||
      typeof doc.apiVersion !== 'string' ||
      typeof doc.kind !== 'string' ||
      !isRecord(doc.metadata) ||
      typeof doc.metadata.name !== 'string'
    ) {
      throw new KustomizeError(`${path}: document ${i + 1} lacks apiVersion, kind or metadata.name`);
    }
    return doc as K8sObject;
  });
}

// --- patches (RFC 6902 JSON Patch on the object matched by `target`) ---

function applyPatch(objects: K8sObject[], p: unknown, root: string, where: string): K8sObject[] {
  if (!isRecord(p)) throw new KustomizeError(`${where}: not a mapping`);
  for (const key of Object.keys(p)) {
    if (!['patch', 'path', 'target'].includes(key))
      throw new KustomizeError(`${where}: "${key}" is outside the subset (patch, path, target)`);
  }
  const text =
    typeof p.patch === 'string'
      ? p.patch
      : typeof p.path === 'string'
        ? readFileSync(resolve(root, p.path), 'utf8')
        : undefined;
  if (text === undefined) throw new KustomizeError(`${where}: needs "patch" or "path"`);
  const [ops] = parseYamlDocuments(text, where);
  if (!Array.isArray(ops))
    throw new KustomizeError(`${where}: only JSON 6902 patches (a list of operations) are rendered here`);
  if (!isRecord(p.target)) throw new KustomizeError(`${where}: a JSON 6902 patch needs a target`);
  const target = p.target;
  for (const key of Object.keys(target)) {
    if (!['group', 'version', 'kind', 'name', 'namespace'].includes(key))
      throw new KustomizeError(`${where}: target.${key} is outside the subset`);
  }
  // kustomize matches target fields as anchored regular expressions.
  const matches = (value: string | undefined, pattern: unknown) =>
    pattern === undefined || new RegExp(`^(?:${String(pattern)})$`).test(value ?? '');
  let hits = 0;
  const out = objects.map((obj) => {
    const [group, version] = obj.apiVersion.includes('/') ? obj.apiVersion.split('/') : ['', obj.apiVersion];
    if (
      !matches(obj.kind, target.kind) ||
      !matches(obj.metadata.name, target.name) ||
      !matches(obj.metadata.namespace, target.namespace) ||
      !matches(group, target.group) ||
      !matches(version, target.version)
    ) {
      return obj;
    }
    hits++;
    let doc: unknown = structuredClone(obj);
    for (const [j, op] of ops.entries()) doc = applyOperation(doc, op, `${where} op ${j} on ${idOf(obj)}`);
    return doc as K8sObject;
  });
  // Stricter than kustomize, which ignores a patch that matches nothing: here that is a mistake.
  if (hits === 0) throw new KustomizeError(`${where}: target ${JSON.stringify(target)} matches nothing`);
  return out;
}

/** One RFC 6902 operation (add, remove, replace, test); returns the new document. */
export function applyOperation(doc: unknown, op: unknown, where: string): unknown {
  if (!isRecord(op) || typeof op.op !== 'string' || typeof op.path !== 'string')
    throw new KustomizeError(`${where}: an operation needs "op" and "path"`);
  const tokens = parsePointer(op.path, where);
  if (tokens.length === 0) {
    if (op.op === 'add' || op.op === 'replace') return structuredClone(op.value);
    throw new KustomizeError(`${where}: ${op.op} on the whole document`);
  }
  const parent = resolvePointer(doc, tokens.slice(0, -1), where, op.path);
  const last = tokens[tokens.length - 1]!;
  const value = () => {
    if (!('value' in op)) throw new KustomizeError(`${where}: ${op.op} needs a value`);
    return structuredClone(op.value);
  };
  if (Array.isArray(parent)) {
    const index = last === '-' && op.op === 'add' ? parent.length : arrayIndex(last, where, op.path);
    const limit = op.op === 'add' ? parent.length : parent.length - 1;
    if (index > limit) throw new KustomizeError(`${where}: ${op.path} is past the end of the list`);
    switch (op.op) {
      case 'add':
        parent.splice(index, 0, value());
        return doc;
      case 'replace':
        parent[index] = value();
        return doc;
      case 'remove':
        parent.splice(index, 1);
        return doc;
      case 'test':
        if (!deepEqual(parent[index], op.value)) throw new KustomizeError(`${where}: test ${op.path} failed`);
        return doc;
    }
  } else if (isRecord(parent)) {
    const exists = Object.prototype.hasOwnProperty.call(parent, last);
    switch (op.op) {
      case 'add':
        parent[last] = value();
        return doc;
      case 'replace':
        if (!exists) throw new KustomizeError(`${where}: replace of a missing ${op.path}`);
        parent[last] = value();
        return doc;
      case 'remove':
        if (!exists) throw new KustomizeError(`${where}: remove of a missing ${op.path}`);
        delete parent[last];
        return doc;
      case 'test':
        if (!deepEqual(parent[last], op.value)) throw new KustomizeError(`${where}: test ${op.path} failed`);
        return doc;
    }
  } else {
    throw new KustomizeError(`${where}: the parent of ${op.path} is not a list or mapping`);
  }
  throw new KustomizeError(`${where}: op "${op.op}" is outside the subset (add, remove, replace, test)`);
}

function parsePointer(path: string, where: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new KustomizeError(`${where}: "${path}" is not a JSON pointer`);
  // RFC 6901 section 4: ~1 before ~0.
  return path
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function resolvePointer(doc: unknown, tokens: string[], where: string, path: string): unknown {
  let node = doc;
  for (const t of tokens) {
    if (Array.isArray(node)) node = node[arrayIndex(t, where, path)];
    else if (isRecord(node) && Object.prototype.hasOwnProperty.call(node, t)) node = node[t];
    else node = undefined;
    if (node === undefined) throw new KustomizeError(`${where}: ${path}: no "${t}" on the way`);
  }
  return node;
}

function arrayIndex(token: string, where: string, path: string): number {
  if (!/^(0|[1-9][0-9]*)$/.test(token))
    throw new KustomizeError(`${where}: ${path}: "${token}" is not a list index`);
  return Number(token);
}

// --- namespace, replicas, images ---

function setNamespace(objects: K8sObject[], namespace: string): void {
  for (const obj of objects) {
    // kustomize renames a Namespace object to the kustomization's namespace.
    if (obj.kind === 'Namespace') obj.metadata.name = namespace;
    else if (!CLUSTER_SCOPED.has(obj.kind)) obj.metadata.namespace = namespace;
  }
}

function setReplicas(objects: K8sObject[], r: unknown, file: string): void {
  if (!isRecord(r) || typeof r.name !== 'string' || !Number.isInteger(r.count))
    throw new KustomizeError(`${file}: replicas entries need name and an integer count`);
  const hit = objects.filter((o) => SCALABLE.has(o.kind) && o.metadata.name === r.name);
  if (hit.length === 0) throw new KustomizeError(`${file}: replicas: no workload named ${r.name}`);
  for (const o of hit) (o.spec as Record<string, unknown>).replicas = r.count;
}

/** Splits an image reference into name, tag and digest ("host:5000/a/b:1.2@sha256:..."). */
export function parseImage(ref: string): { name: string; tag?: string; digest?: string } {
  const at = ref.indexOf('@');
  const digest = at >= 0 ? ref.slice(at + 1) : undefined;
  const rest = at >= 0 ? ref.slice(0, at) : ref;
  const colon = rest.lastIndexOf(':');
  // A colon before the last slash belongs to a registry port, not a tag.
  const tagged = colon > rest.lastIndexOf('/');
  return {
    name: tagged ? rest.slice(0, colon) : rest,
    ...(tagged ? { tag: rest.slice(colon + 1) } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}

function setImage(objects: K8sObject[], img: unknown, file: string): void {
  if (!isRecord(img) || typeof img.name !== 'string')
    throw new KustomizeError(`${file}: images entries need a name`);
  for (const key of Object.keys(img)) {
    if (!['name', 'newName', 'newTag', 'digest'].includes(key))
      throw new KustomizeError(`${file}: images.${key} is outside the subset`);
  }
  let hits = 0;
  for (const obj of objects) {
    for (const c of containersOf(obj)) {
      if (typeof c.image !== 'string') continue;
      const ref = parseImage(c.image);
      if (ref.name !== img.name) continue;
      hits++;
      const name = typeof img.newName === 'string' ? img.newName : ref.name;
      if (typeof img.digest === 'string') c.image = `${name}@${img.digest}`;
      else if (img.newTag !== undefined) c.image = `${name}:${String(img.newTag)}`;
      else c.image = name + (ref.tag ? `:${ref.tag}` : '') + (ref.digest ? `@${ref.digest}` : '');
    }
  }
  if (hits === 0) throw new KustomizeError(`${file}: images: no container uses ${img.name}`);
}

/** The pod spec of a workload kind (or of a Pod), if any. */
export function podSpecOf(obj: K8sObject): Record<string, unknown> | undefined {
  const spec = obj.spec;
  if (!isRecord(spec)) return undefined;
  if (obj.kind === 'Pod') return spec;
  if (obj.kind === 'CronJob') {
    const job = spec.jobTemplate;
    return isRecord(job) &&
      isRecord(job.spec) &&
      isRecord(job.spec.template) &&
      isRecord(job.spec.template.spec)
      ? job.spec.template.spec
      : undefined;
  }
  return isRecord(spec.template) && isRecord(spec.template.spec) ? spec.template.spec : undefined;
}

export function containersOf(obj: K8sObject): Array<Record<string, unknown>> {
  const pod = podSpecOf(obj);
  if (!pod) return [];
  return [pod.initContainers, pod.containers].flatMap((l) => (Array.isArray(l) ? l.filter(isRecord) : []));
}

// --- helpers ---

export function idOf(obj: K8sObject): string {
  return `${obj.kind}/${obj.metadata.namespace ? obj.metadata.namespace + '/' : ''}${obj.metadata.name}`;
}

function sameId(a: K8sObject, b: K8sObject): boolean {
  const group = (o: K8sObject) => (o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : '');
  return (
    a.kind === b.kind &&
    group(a) === group(b) &&
    a.metadata.name === b.metadata.name &&
    (a.metadata.namespace ?? '') === (b.metadata.namespace ?? '')
  );
}

function list(value: unknown, file: string, field: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new KustomizeError(`${file}: ${field} must be a list`);
  return value;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The folder of this file's repository root (test/k8s -> ..). */
export const REPO_ROOT = resolve(__dirname, '../..');
