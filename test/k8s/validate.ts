// Validation of rendered Kubernetes objects, offline, in three layers:
//  1. schema: the Kubernetes 1.27 OpenAPI schemas, compiled to validators by the npm package
//     kubernetes-models (types, formats such as quantities, enums, required fields);
//  2. strict: unknown fields (a misspelt `readinesProbe` passes the OpenAPI schemas, which allow extra
//     properties, and the API server then drops it silently). Checked by type-checking each object as
//     an object literal against the package's TypeScript interfaces, whose excess-property check
//     names the stray field (what kubeconform's -strict does with additionalProperties: false);
//  3. consistency across objects, which no schema sees: images set, probes and Services aimed at ports
//     that exist, selectors that select, referenced ConfigMaps/Secrets/keys present, $(VAR) references
//     defined, *_PORT variables matching the container's ports, resources set.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import ts from 'typescript';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { containersOf, idOf, isRecord, type K8sObject, parseImage, podSpecOf, REPO_ROOT } from './kustomize';

const require = createRequire(join(REPO_ROOT, 'package.json'));

/** "apps/v1" + "Deployment" -> "kubernetes-models/apps/v1/Deployment" (core: "kubernetes-models/v1/X"). */
function modelPath(obj: K8sObject): string {
  return `kubernetes-models/${obj.apiVersion}/${obj.kind}`;
}

// --- 1. schema ---

export function schemaErrors(obj: K8sObject): string[] {
  let Model: new (data: unknown) => { validate(): void };
  try {
    Model = (require(modelPath(obj)) as Record<string, typeof Model>)[obj.kind]!;
  } catch {
    return [`${idOf(obj)}: no schema for ${obj.apiVersion} ${obj.kind}`];
  }
  if (typeof Model !== 'function') return [`${idOf(obj)}: no schema for ${obj.apiVersion} ${obj.kind}`];
  try {
    new Model(obj).validate();
    return [];
  } catch (err) {
    return [`${idOf(obj)}: ${err instanceof Error ? err.message : String(err)}`];
  }
}

// --- 2. strict (unknown fields, via the TypeScript interfaces) ---

const CHECK_FILE = join(REPO_ROOT, 'test/k8s/__rendered_objects__.ts');
const compilerOptions: ts.CompilerOptions = {
  strict: true,
  noEmit: true,
  types: [],
  lib: ['lib.es2020.d.ts'],
  skipLibCheck: true,
  module: ts.ModuleKind.CommonJS,
  moduleResolution: ts.ModuleResolutionKind.Node10,
  target: ts.ScriptTarget.ES2020,
};
// Parsed declaration files (lib, kubernetes-models) are kept between calls: only the check file changes.
const sourceCache = new Map<string, ts.SourceFile | undefined>();

export function strictErrors(objects: K8sObject[]): string[] {
  const imports = objects.map((obj, i) => `import type { I${obj.kind} as T${i} } from '${modelPath(obj)}';`);
  const parts = [...imports];
  // The first line of each object in the check file, to name the object a diagnostic points into.
  const starts: number[] = [];
  let line = imports.length;
  objects.forEach((obj, i) => {
    const part = `export const o${i}: T${i} = ${JSON.stringify(obj, null, 1)};`;
    starts.push(line);
    parts.push(part);
    line += part.split('\n').length;
  });
  const text = parts.join('\n');

  const host = ts.createCompilerHost(compilerOptions);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, languageVersion, onError, create) => {
    if (name === CHECK_FILE) return ts.createSourceFile(name, text, languageVersion);
    if (!sourceCache.has(name)) sourceCache.set(name, getSourceFile(name, languageVersion, onError, create));
    return sourceCache.get(name);
  };
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === CHECK_FILE || fileExists(name);
  const program = ts.createProgram([CHECK_FILE], compilerOptions, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, ' ');
    if (d.file?.fileName !== CHECK_FILE || d.start === undefined) return `strict: ${message}`;
    const at = d.file.getLineAndCharacterOfPosition(d.start).line;
    const index = starts.findLastIndex((s) => s <= at);
    return index < 0 ? `strict: ${message}` : `${idOf(objects[index]!)}: ${message}`;
  });
}

// --- 3. consistency ---

export interface PolicyOptions {
  /** Objects the rendered set may reference without holding them (e.g. a Secret each overlay supplies). */
  external?: Array<{ kind: 'Secret' | 'ConfigMap'; name: string; keys: string[] }>;
}

/** Ports an app listens on, named by its environment variable, and the protocol each needs. */
const PORT_VARIABLES: Record<string, 'UDP' | 'TCP'> = {
  COAP_PORT: 'UDP',
  COAPS_PORT: 'UDP',
  CLUSTER_PORT: 'UDP',
  HTTP_PORT: 'TCP',
  METRICS_PORT: 'TCP',
};

const DNS_LABEL = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
// IANA_SVC_NAME: at most 15 characters, lower-case letters, digits and '-', at least one letter.
const PORT_NAME = /^(?=.{1,15}$)(?=.*[a-z])[a-z0-9]([a-z0-9]|-(?=[a-z0-9]))*$/;

export function policyErrors(objects: K8sObject[], opts: PolicyOptions = {}): string[] {
  const errors: string[] = [];
  const fail = (obj: K8sObject, msg: string) => errors.push(`${idOf(obj)}: ${msg}`);
  const ns = (o: K8sObject) => o.metadata.namespace ?? '';
  const workloads = objects.filter((o) => podSpecOf(o) !== undefined);
  const templateLabels = (o: K8sObject): Record<string, string> => {
    const spec = o.spec as { template?: { metadata?: { labels?: Record<string, string> } } };
    return spec.template?.metadata?.labels ?? {};
  };
  const selects = (selector: Record<string, string>, labels: Record<string, string>) =>
    Object.entries(selector).every(([k, v]) => labels[k] === v);

  // Data keys of every ConfigMap and Secret the containers may read, here or supplied from outside.
  const dataKeys = new Map<string, Set<string>>();
  for (const o of objects) {
    if (o.kind !== 'ConfigMap' && o.kind !== 'Secret') continue;
    const keys = [o.data, o.stringData, o.binaryData].flatMap((d) => (isRecord(d) ? Object.keys(d) : []));
    dataKeys.set(`${o.kind}/${ns(o)}/${o.metadata.name}`, new Set(keys));
  }
  const lookup = (kind: string, namespace: string, name: string): Set<string> | undefined =>
    dataKeys.get(`${kind}/${namespace}/${name}`) ??
    (opts.external?.some((e) => e.kind === kind && e.name === name)
      ? new Set(opts.external.find((e) => e.kind === kind && e.name === name)!.keys)
      : undefined);

  const seen = new Set<string>();
  for (const obj of objects) {
    const id = `${obj.apiVersion.split('/')[0]}/${idOf(obj)}`;
    if (seen.has(id)) fail(obj, 'defined twice');
    seen.add(id);
    const nameRule = obj.kind === 'Service' || obj.kind === 'Namespace' ? DNS_LABEL : DNS_SUBDOMAIN;
    if (!nameRule.test(obj.metadata.name))
      fail(obj, `"${obj.metadata.name}" is not a valid ${obj.kind} name`);
  }

  for (const obj of workloads) {
    const spec = obj.spec as { selector?: { matchLabels?: Record<string, string> }; serviceName?: string };
    const pod = podSpecOf(obj) as unknown as IPodSpec;
    if (obj.kind !== 'Pod' && obj.kind !== 'CronJob' && obj.kind !== 'Job') {
      const match = spec.selector?.matchLabels ?? {};
      if (Object.keys(match).length === 0) fail(obj, 'selector.matchLabels is empty');
      else if (!selects(match, templateLabels(obj)))
        fail(obj, 'selector.matchLabels does not match the pod template labels');
    }
    if (obj.kind === 'StatefulSet') {
      const svc = objects.find(
        (o) => o.kind === 'Service' && ns(o) === ns(obj) && o.metadata.name === spec.serviceName,
      );
      if (!svc) fail(obj, `serviceName "${String(spec.serviceName)}" names no Service`);
      else if ((svc.spec as { clusterIP?: string }).clusterIP !== 'None')
        fail(obj, `serviceName "${String(spec.serviceName)}" is not a headless Service`);
    }
    const volumes = new Set((pod.volumes ?? []).map((v) => v.name));
    for (const v of pod.volumes ?? []) {
      if (v.configMap && !v.configMap.optional && !lookup('ConfigMap', ns(obj), v.configMap.name ?? ''))
        fail(obj, `volume ${v.name}: no ConfigMap ${String(v.configMap.name)}`);
      if (v.secret && !v.secret.optional && !lookup('Secret', ns(obj), v.secret.secretName ?? ''))
        fail(obj, `volume ${v.name}: no Secret ${String(v.secret.secretName)}`);
    }
    const isLongRunning = obj.kind === 'Deployment' || obj.kind === 'StatefulSet' || obj.kind === 'DaemonSet';
    for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
      const where = `container ${c.name}`;
      checkContainer(c, (msg) => fail(obj, `${where}: ${msg}`), {
        lookup: (kind, name) => lookup(kind, ns(obj), name),
        volumes,
        probesRequired: isLongRunning && (pod.containers ?? []).includes(c),
      });
    }
  }

  for (const svc of objects.filter((o) => o.kind === 'Service')) {
    const spec = svc.spec as {
      selector?: Record<string, string>;
      ports?: Array<{ name?: string; port: number; targetPort?: number | string; protocol?: string }>;
    };
    if (!spec.selector) continue; // a selector-less Service has hand-made Endpoints
    const targets = workloads.filter((w) => ns(w) === ns(svc) && selects(spec.selector!, templateLabels(w)));
    if (targets.length === 0) {
      fail(svc, 'selector matches no workload');
      continue;
    }
    if ((spec.ports ?? []).length > 1 && spec.ports!.some((p) => !p.name))
      fail(svc, 'every port of a multi-port Service needs a name');
    for (const p of spec.ports ?? []) {
      const protocol = p.protocol ?? 'TCP';
      const target = p.targetPort ?? p.port;
      for (const w of targets) {
        const ok = containersOf(w).some((c) =>
          ((c as unknown as IContainer).ports ?? []).some(
            (cp) =>
              (typeof target === 'string' ? cp.name === target : cp.containerPort === target) &&
              (cp.protocol ?? 'TCP') === protocol,
          ),
        );
        if (!ok) fail(svc, `port ${p.name ?? p.port}: no ${protocol} container port ${target} in ${idOf(w)}`);
      }
    }
  }

  for (const pdb of objects.filter((o) => o.kind === 'PodDisruptionBudget')) {
    const match = (pdb.spec as { selector?: { matchLabels?: Record<string, string> } }).selector?.matchLabels;
    const hits = workloads.filter((w) => ns(w) === ns(pdb) && match && selects(match, templateLabels(w)));
    if (hits.length === 0) fail(pdb, 'selector matches no workload');
    const minAvailable = (pdb.spec as { minAvailable?: number | string }).minAvailable;
    for (const w of hits) {
      const replicas = (w.spec as { replicas?: number }).replicas ?? 1;
      if (typeof minAvailable === 'number' && minAvailable >= replicas)
        fail(
          pdb,
          `minAvailable ${minAvailable} >= ${replicas} replicas of ${idOf(w)}: no node could be drained`,
        );
    }
  }

  for (const ing of objects.filter((o) => o.kind === 'Ingress')) {
    const spec = ing.spec as {
      rules?: Array<{
        http?: { paths?: Array<{ backend: { service?: { name: string; port?: unknown } } }> };
      }>;
    };
    for (const path of (spec.rules ?? []).flatMap((r) => r.http?.paths ?? [])) {
      const ref = path.backend.service;
      if (!ref) continue;
      const svc = objects.find(
        (o) => o.kind === 'Service' && ns(o) === ns(ing) && o.metadata.name === ref.name,
      );
      if (!svc) {
        fail(ing, `backend Service ${ref.name} does not exist`);
        continue;
      }
      const port = ref.port as { name?: string; number?: number } | undefined;
      const ports = (svc.spec as { ports?: Array<{ name?: string; port: number }> }).ports ?? [];
      if (port && !ports.some((p) => (port.name ? p.name === port.name : p.port === port.number)))
        fail(ing, `backend ${ref.name}: no Service port ${port.name ?? port.number}`);
    }
  }
  return errors;
}

function checkContainer(
  c: IContainer,
  fail: (msg: string) => void,
  ctx: {
    lookup: (kind: 'ConfigMap' | 'Secret', name: string) => Set<string> | undefined;
    volumes: Set<string>;
    probesRequired: boolean;
  },
): void {
  // The OpenAPI schema leaves image optional (for controllers that default it); a pod without one fails.
  if (typeof c.image !== 'string' || c.image.trim() === '') fail('no image');
  else {
    const ref = parseImage(c.image);
    if (!ref.digest && (!ref.tag || ref.tag === 'latest')) fail(`image ${c.image} is not pinned to a tag`);
  }
  const ports = c.ports ?? [];
  for (const p of ports) {
    if (p.name !== undefined && !PORT_NAME.test(p.name))
      fail(`port name "${p.name}" is not an IANA service name (15 characters at most)`);
  }
  const portNames = new Set(ports.map((p) => p.name));
  const seen = new Set<string>();
  for (const p of ports) {
    const key = `${p.containerPort}/${p.protocol ?? 'TCP'}`;
    if (seen.has(key)) fail(`container port ${key} twice`);
    seen.add(key);
  }

  // Environment: envFrom sources exist; every variable known, in order, for $(VAR) expansion.
  const defined = new Map<string, string | undefined>();
  for (const src of c.envFrom ?? []) {
    const kind = src.configMapRef ? 'ConfigMap' : 'Secret';
    const ref = src.configMapRef ?? src.secretRef;
    if (!ref) continue;
    const keys = ctx.lookup(kind, ref.name ?? '');
    if (!keys) {
      if (!ref.optional) fail(`envFrom: no ${kind} ${String(ref.name)}`);
      continue;
    }
    for (const k of keys) defined.set((src.prefix ?? '') + k, undefined);
  }
  const expand = (text: string, what: string) => {
    // Kubernetes expands $(VAR) from variables defined before; $$ escapes.
    for (const m of text.replace(/\$\$/g, '').matchAll(/\$\(([^)]*)\)/g)) {
      if (!defined.has(m[1]!)) fail(`${what} refers to $(${m[1]}), which is not defined before it`);
    }
  };
  for (const e of c.env ?? []) {
    if (e.value !== undefined) expand(e.value, `env ${e.name}`);
    const ref = e.valueFrom?.configMapKeyRef ?? e.valueFrom?.secretKeyRef;
    if (ref) {
      const kind = e.valueFrom?.configMapKeyRef ? 'ConfigMap' : 'Secret';
      const keys = ctx.lookup(kind, ref.name ?? '');
      if (!ref.optional && !keys) fail(`env ${e.name}: no ${kind} ${String(ref.name)}`);
      else if (!ref.optional && keys && !keys.has(ref.key))
        fail(`env ${e.name}: ${kind} ${String(ref.name)} has no key ${ref.key}`);
    }
    if (defined.has(e.name) && (c.env ?? []).filter((x) => x.name === e.name).length > 1)
      fail(`env ${e.name} set twice`);
    defined.set(e.name, e.value);
  }
  for (const arg of [...(c.command ?? []), ...(c.args ?? [])]) expand(arg, 'command');

  // A port variable the app binds must be a declared container port of the right protocol.
  for (const [name, protocol] of Object.entries(PORT_VARIABLES)) {
    const value = defined.get(name);
    if (value === undefined) continue;
    if (!ports.some((p) => String(p.containerPort) === value && (p.protocol ?? 'TCP') === protocol))
      fail(`${name}=${value} is not a declared ${protocol} container port`);
  }

  for (const m of c.volumeMounts ?? []) {
    if (!ctx.volumes.has(m.name)) fail(`volumeMount ${m.name} names no volume`);
  }

  if (!c.resources?.requests?.cpu || !c.resources.requests.memory) fail('no cpu/memory requests');
  if (!c.resources?.limits?.memory) fail('no memory limit');

  const probes = {
    livenessProbe: c.livenessProbe,
    readinessProbe: c.readinessProbe,
    startupProbe: c.startupProbe,
  };
  if (ctx.probesRequired && (!probes.livenessProbe || !probes.readinessProbe))
    fail('needs a livenessProbe and a readinessProbe');
  const handlers = {
    ...probes,
    preStop: c.lifecycle?.preStop,
    postStart: c.lifecycle?.postStart,
  };
  for (const [what, handler] of Object.entries(handlers)) {
    const port = handler?.httpGet?.port ?? handler?.tcpSocket?.port;
    if (port === undefined) continue;
    const ok =
      typeof port === 'string'
        ? portNames.has(port)
        : ports.some((p) => p.containerPort === port && (p.protocol ?? 'TCP') === 'TCP');
    if (!ok) fail(`${what} aims at port ${port}, which is no TCP container port`);
    if (handler?.httpGet && typeof port === 'string') {
      const p = ports.find((x) => x.name === port);
      if (p && (p.protocol ?? 'TCP') !== 'TCP') fail(`${what} aims at ${p.protocol} port ${port}`);
    }
  }
}

/** Every layer on a rendered set. */
export function validateAll(objects: K8sObject[], opts: PolicyOptions = {}): string[] {
  return [...objects.flatMap(schemaErrors), ...strictErrors(objects), ...policyErrors(objects, opts)];
}
