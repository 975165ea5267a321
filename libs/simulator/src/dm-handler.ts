// LwM2M TS 1.1/1.2 Transport section 6.4 (Device Management and Information Reporting over CoAP) and Core
// section 5.4: how the simulated client answers the server's requests on its registration endpoint.
import { DecodeError } from '@lwm2m/bytes';
import { CoapCode, type IncomingRequest, type OutgoingResponse, OptionNumber } from '@lwm2m/coap';
import {
  type CompositeNodes,
  ContentFormat,
  decodeSenmlPatch,
  decodeTlv,
  isSenmlEtch,
  EncodeError,
  encodeLwm2mLinks,
  type Lwm2mLink,
  lwm2mLink,
  type Lwm2mNode,
  type Lwm2mObjectInstance,
  Lwm2mPath,
} from '@lwm2m/lwm2m';
import { type AttributeStore, parseAttributeQuery } from './attributes';
import { badRequest, DmError, notAllowed, notFound } from './dm-error';
import { compositeCodec, compositeFormatFor, nodeCodec, type PreferredFormat } from './formats';
import type { ObjectTree } from './object-tree';
import { objectVersion } from './registration';

export type Lwm2mVersion = '1.0' | '1.1' | '1.2';

/** What the DM handler reports to its device (events for tests, side effects like a new lifetime). */
export interface DmListener {
  onWrite(path: Lwm2mPath, node: Lwm2mNode, replace: boolean): void;
  onExecute(path: Lwm2mPath, args: string): void;
  onCreate(path: Lwm2mPath): void;
  onDelete(path: Lwm2mPath): void;
  onWriteAttributes(path: Lwm2mPath): void;
  /** An iPATCH with SenML-ETCH was applied to `path` (after its onWrite calls). */
  onPatch?(path: Lwm2mPath): void;
  /** An Observe registration (or its re-run to produce a notification) for these paths. */
  onObserve(req: IncomingRequest, paths: Lwm2mPath[], composite: boolean): void;
}

export interface DmHandlerOptions {
  tree: ObjectTree;
  attributes: AttributeStore;
  preferred: PreferredFormat;
  lwm2mVersion: Lwm2mVersion;
  listener: DmListener;
  /** Accept iPATCH with SenML-ETCH on an instance or the root (RFC 8132/8790; default true); false: 4.05. */
  ipatch?: boolean;
}

const SECURITY_OBJECT_ID = 0;

export class DmHandler {
  constructor(private readonly o: DmHandlerOptions) {}

  /** The CoAP request handler: never throws, every failure is a response code. */
  handle(req: IncomingRequest): OutgoingResponse {
    try {
      return this.dispatch(req);
    } catch (err) {
      if (err instanceof DmError) return { code: err.code, payload: err.message };
      if (err instanceof DecodeError) return { code: CoapCode.BAD_REQUEST, payload: err.message };
      if (err instanceof EncodeError) return { code: CoapCode.NOT_ACCEPTABLE, payload: err.message };
      return { code: CoapCode.INTERNAL_SERVER_ERROR, payload: String(err) };
    }
  }

  private dispatch(req: IncomingRequest): OutgoingResponse {
    let path: Lwm2mPath;
    try {
      path = Lwm2mPath.fromSegments(req.path);
    } catch {
      throw notFound(`/${req.path.join('/')}`);
    }
    // Core 6.3 / object 0 definition: the Security object is not accessible to a DM server.
    if (path.objectId === SECURITY_OBJECT_ID) {
      return { code: CoapCode.UNAUTHORIZED, payload: 'the Security object is not accessible' };
    }
    switch (req.code) {
      case CoapCode.GET:
        return req.accept === ContentFormat.LINK ? this.discover(path) : this.read(req, path);
      case CoapCode.PUT:
        if (req.payload.length === 0 && req.contentFormat === undefined)
          return this.writeAttributes(req, path);
        return this.write(req, path, true);
      case CoapCode.POST:
        if (path.depth === 1) return this.create(req, path);
        if (path.depth === 2) return this.write(req, path, false);
        if (path.depth === 3) return this.execute(req, path);
        throw notAllowed(`POST on ${path.toString()}`);
      case CoapCode.DELETE:
        this.o.tree.delete(path);
        this.o.attributes.removeUnder(path);
        this.o.listener.onDelete(path);
        return { code: CoapCode.DELETED };
      case CoapCode.FETCH:
        if (this.o.lwm2mVersion === '1.0' || path.depth !== 0)
          throw notAllowed('FETCH is Read-Composite on /');
        return this.readComposite(req);
      case CoapCode.IPATCH:
        if (isSenmlEtch(req.contentFormat)) return this.patch(req, path);
        if (this.o.lwm2mVersion === '1.0' || path.depth !== 0)
          throw notAllowed('iPATCH is Write-Composite on /');
        return this.writeComposite(req);
      default:
        throw notAllowed('unsupported method');
    }
  }

  /** Encodes with Accept, or the device's preferred format (Transport 6.4.2: 4.06 when impossible). */
  private encode(node: Lwm2mNode, path: Lwm2mPath, accept: number | undefined): OutgoingResponse {
    const format = accept ?? this.o.preferred;
    const codec = nodeCodec(format);
    if (codec === undefined)
      throw new DmError(CoapCode.NOT_ACCEPTABLE, `content format ${format} not supported`);
    try {
      return {
        code: CoapCode.CONTENT,
        contentFormat: format,
        payload: codec.encode(node, path, this.o.tree.model),
      };
    } catch (err) {
      if (err instanceof EncodeError) throw new DmError(CoapCode.NOT_ACCEPTABLE, err.message);
      throw err;
    }
  }

  private decode(req: IncomingRequest, path: Lwm2mPath): Lwm2mNode {
    if (req.contentFormat === undefined) throw badRequest('a Write needs a Content-Format');
    const codec = nodeCodec(req.contentFormat);
    if (codec === undefined) {
      throw new DmError(
        CoapCode.UNSUPPORTED_CONTENT_FORMAT,
        `content format ${req.contentFormat} not supported`,
      );
    }
    return codec.decode(req.payload, path, this.o.tree.model);
  }

  /** Read (Core 5.4.1) and Observe (Core 5.5.1: GET with Observe 0). */
  private read(req: IncomingRequest, path: Lwm2mPath): OutgoingResponse {
    if (path.depth === 0) throw notAllowed('Read of the root path');
    const node = this.o.tree.read(path);
    const res = this.encode(node, path, req.accept);
    if (req.observe === 0) this.o.listener.onObserve(req, [path], false);
    return res;
  }

  /** Discover (Core 5.4.2): links with the attributes attached to each level. */
  private discover(path: Lwm2mPath): OutgoingResponse {
    const { tree, attributes } = this.o;
    if (path.depth === 0 || path.depth === 4) throw notAllowed(`Discover on ${path.toString()}`);
    if (!tree.exists(path)) throw notFound(path.toString());
    const links: Lwm2mLink[] = [];
    const objectId = path.objectId!;
    const resourceLinks = (iid: number, only?: number): void => {
      const inst = tree.getObject(objectId)!.instances.get(iid)!;
      const ids = new Set([...inst.resources.keys(), ...tree.executableIds(objectId, iid)]);
      for (const rid of [...ids].sort((a, b) => a - b)) {
        if (only !== undefined && rid !== only) continue;
        const p = new Lwm2mPath(objectId, iid, rid);
        const r = inst.resources.get(rid);
        const dim = r?.kind === 'multipleResource' ? { dim: r.instances.size } : {};
        links.push(lwm2mLink(p, { ...dim, ...attributes.own(p) }));
        // Core 1.2 5.4.2: a Discover on a resource also lists its resource instances.
        if (only !== undefined && r?.kind === 'multipleResource' && this.o.lwm2mVersion === '1.2') {
          for (const ri of [...r.instances.keys()].sort((a, b) => a - b)) links.push(lwm2mLink(p.child(ri)));
        }
      }
    };
    if (path.depth === 1) {
      const v = objectVersion(this.o.lwm2mVersion, objectId);
      const ver = v !== undefined ? { ver: v } : {};
      links.push(lwm2mLink(path, { ...ver, ...attributes.own(path) }));
      for (const iid of tree.instanceIds(objectId)) {
        const ip = new Lwm2mPath(objectId, iid);
        links.push(lwm2mLink(ip, attributes.own(ip)));
        resourceLinks(iid);
      }
    } else if (path.depth === 2) {
      links.push(lwm2mLink(path, attributes.own(path)));
      resourceLinks(path.instanceId!);
    } else {
      resourceLinks(path.instanceId!, path.resourceId!);
    }
    return { code: CoapCode.CONTENT, contentFormat: ContentFormat.LINK, payload: encodeLwm2mLinks(links) };
  }

  /** Write-Attributes (Core 5.4.4): PUT with the attributes as Uri-Query and no payload. */
  private writeAttributes(req: IncomingRequest, path: Lwm2mPath): OutgoingResponse {
    if (path.depth === 0) throw notAllowed('Write-Attributes on the root path');
    if (!this.o.tree.exists(path)) throw notFound(path.toString());
    this.o.attributes.apply(path, parseAttributeQuery(req.query, this.o.lwm2mVersion));
    this.o.listener.onWriteAttributes(path);
    return { code: CoapCode.CHANGED };
  }

  /** Write (Core 5.4.3): PUT replaces, POST on an instance updates partially. */
  private write(req: IncomingRequest, path: Lwm2mPath, replace: boolean): OutgoingResponse {
    if (path.depth < 2) throw notAllowed(`Write on ${path.toString()}`);
    if (!this.o.tree.exists(path.depth === 4 ? path.parent() : path)) throw notFound(path.toString());
    const node = this.decode(req, path);
    this.o.tree.write(path, node, replace);
    this.o.listener.onWrite(path, node, replace);
    return { code: CoapCode.CHANGED };
  }

  /** Execute (Core 5.4.5): POST on a resource, arguments as text payload. */
  private execute(req: IncomingRequest, path: Lwm2mPath): OutgoingResponse {
    const args = req.payload.toString('utf8');
    this.o.tree.execute(path, args);
    this.o.listener.onExecute(path, args);
    return { code: CoapCode.CHANGED };
  }

  /** Create (Core 5.4.6): POST on an object; Location-Path names the new instance. */
  private create(req: IncomingRequest, path: Lwm2mPath): OutgoingResponse {
    if (!this.o.tree.exists(path)) throw notFound(path.toString());
    let given: Lwm2mObjectInstance | undefined;
    let requestedId: number | undefined;
    if (req.payload.length > 0) {
      const node = this.decode(req, path);
      // TLV without an Object Instance wrapper leaves the id to the client (Core 7.4.3).
      const tlvWithId =
        req.contentFormat === ContentFormat.TLV && decodeTlv(req.payload)[0]?.kind === 'objectInstance';
      if (node.kind === 'object') {
        if (node.instances.size > 1) throw badRequest('Create takes one instance');
        given = [...node.instances.values()][0];
        if (given !== undefined && (req.contentFormat !== ContentFormat.TLV || tlvWithId))
          requestedId = given.id;
      } else if (node.kind === 'instance') {
        given = node;
        requestedId = node.id;
      } else {
        throw badRequest('Create takes an object instance');
      }
    }
    const id = this.o.tree.create(path.objectId!, given, requestedId);
    const created = path.child(id);
    this.o.listener.onCreate(created);
    return {
      code: CoapCode.CREATED,
      options: created.segments().map((s) => ({ number: OptionNumber.LOCATION_PATH, value: Buffer.from(s) })),
    };
  }

  private compositeRequestCodec(req: IncomingRequest) {
    if (req.contentFormat === undefined) throw badRequest('a composite request needs a Content-Format');
    const codec = compositeCodec(req.contentFormat);
    if (codec === undefined) {
      throw new DmError(
        CoapCode.UNSUPPORTED_CONTENT_FORMAT,
        `content format ${req.contentFormat} is not composite`,
      );
    }
    return codec;
  }

  /** Read-Composite (Core 5.4.7 in 1.1) and Observe-Composite (FETCH with Observe 0). */
  private readComposite(req: IncomingRequest): OutgoingResponse {
    const paths = this.compositeRequestCodec(req).decodePaths(req.payload);
    const format = req.accept ?? req.contentFormat ?? compositeFormatFor(this.o.preferred);
    const out = compositeCodec(format);
    if (out === undefined)
      throw new DmError(CoapCode.NOT_ACCEPTABLE, `content format ${format} is not composite`);
    const nodes: CompositeNodes = [];
    for (const p of paths) {
      if (p.objectId === SECURITY_OBJECT_ID) continue;
      const targets =
        p.depth === 0
          ? this.o.tree
              .objectIds()
              .filter((id) => id !== 0)
              .map((id) => new Lwm2mPath(id))
          : [p];
      for (const t of targets) {
        // Paths the client does not have are left out of the answer.
        if (!this.o.tree.exists(t) || (t.depth === 3 && this.o.tree.isExecutable(t))) continue;
        nodes.push({ path: t, node: this.o.tree.read(t) });
      }
    }
    if (nodes.length === 0 && paths.length > 0) throw notFound('none of the requested paths');
    const payload = out.encodeComposite(nodes, this.o.tree.model);
    if (req.observe === 0) this.o.listener.onObserve(req, paths, true);
    return { code: CoapCode.CONTENT, contentFormat: format, payload };
  }

  /**
   * RFC 8132 iPATCH with a SenML-ETCH Patch Pack (RFC 8790 section 5) on the root or an object instance:
   * the records set resources (a partial update) and a null value removes a resource instance; everything
   * is checked before anything is applied. A device configured without it answers 4.05.
   */
  private patch(req: IncomingRequest, target: Lwm2mPath): OutgoingResponse {
    if (this.o.ipatch === false || this.o.lwm2mVersion === '1.0') throw notAllowed('iPATCH is not supported');
    if (target.depth !== 0 && target.depth !== 2) throw notAllowed('iPATCH targets the root or an instance');
    const patch = decodeSenmlPatch(req.payload, req.contentFormat!, this.o.tree.model);
    const inside = (p: Lwm2mPath): boolean => target.depth === 0 || p.startsWith(target);
    for (const { path, node } of patch.set) {
      if (!inside(path)) throw badRequest(`${path.toString()} is outside ${target.toString()}`);
      if (path.objectId === SECURITY_OBJECT_ID) throw new DmError(CoapCode.UNAUTHORIZED, 'Security object');
      if (!this.o.tree.exists(path.depth === 4 ? path.parent().parent() : path.parent()))
        throw notFound(path.toString());
      this.o.tree.checkWrite(path, node);
    }
    for (const p of patch.removed) {
      if (!inside(p) || p.depth !== 4)
        throw badRequest(`${p.toString()}: only resource instances are removed`);
      if (!this.o.tree.exists(p)) throw notFound(p.toString());
    }
    for (const { path, node } of patch.set) {
      this.o.tree.write(path, node, false);
      this.o.listener.onWrite(path, node, false);
    }
    for (const p of patch.removed) this.o.tree.setInstanceValue(p.toString(), undefined);
    this.o.listener.onPatch?.(target);
    return { code: CoapCode.CHANGED };
  }

  /** Write-Composite (Core 5.4.8 in 1.1): all writes are checked before any is applied. */
  private writeComposite(req: IncomingRequest): OutgoingResponse {
    const nodes = this.compositeRequestCodec(req).decodeComposite(req.payload, this.o.tree.model);
    for (const { path, node } of nodes) {
      if (path.objectId === SECURITY_OBJECT_ID) throw new DmError(CoapCode.UNAUTHORIZED, 'Security object');
      if (!this.o.tree.exists(path.depth === 4 ? path.parent() : path)) throw notFound(path.toString());
      this.o.tree.checkWrite(path, node);
    }
    for (const { path, node } of nodes) {
      this.o.tree.write(path, node, path.depth >= 3);
      this.o.listener.onWrite(path, node, path.depth >= 3);
    }
    return { code: CoapCode.CHANGED };
  }
}
