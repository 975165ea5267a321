// The scripted device's data: Device object /3/0 (TS 1.1 Appendix E.4) and the replies a client gives.
import { CoapCode, type IncomingRequest, type OutgoingResponse } from '@lwm2m/coap';
import {
  ContentFormat,
  defaultObjectModelRegistry,
  getCompositeCodec,
  getNodeCodec,
  type Lwm2mNode,
  Lwm2mPath,
  multipleResource,
  objectInstance,
  singleResource,
} from '@lwm2m/lwm2m';

export const model = defaultObjectModelRegistry();

export function deviceInstance(battery = 87): Lwm2mNode {
  return objectInstance(0, [
    singleResource(0, 'string', 'ACME'),
    multipleResource(6, 'integer', [
      [0, 1],
      [1, 5],
    ]),
    singleResource(9, 'integer', battery),
    singleResource(13, 'time', new Date(1_700_000_000_000)),
  ]);
}

/** The node of deviceInstance() at a /3/0[/r] path, or undefined. */
export function nodeAt(path: Lwm2mPath, battery = 87): Lwm2mNode | undefined {
  const inst = deviceInstance(battery);
  if (path.toString() === '/3/0') return inst;
  if (path.objectId === 3 && path.instanceId === 0 && path.depth === 3 && inst.kind === 'instance') {
    return inst.resources.get(path.resourceId!);
  }
  return undefined;
}

/** Answers a Read (GET) of /3/0 or one of its resources in the Accept format. */
export function answerRead(req: IncomingRequest, battery = 87): OutgoingResponse {
  const path = Lwm2mPath.fromSegments(req.path);
  const node = nodeAt(path, battery);
  if (!node) return { code: CoapCode.NOT_FOUND };
  const cf = req.accept ?? ContentFormat.TLV;
  const codec = getNodeCodec(cf);
  if (!codec) return { code: CoapCode.NOT_ACCEPTABLE };
  return { code: CoapCode.CONTENT, contentFormat: cf, payload: codec.encode(node, path, model) };
}

/** Answers a Read-Composite (FETCH) with the requested resources of /3/0. */
export function answerComposite(req: IncomingRequest, battery = 87): OutgoingResponse {
  const codec = getCompositeCodec(req.contentFormat ?? -1);
  if (!codec) return { code: CoapCode.UNSUPPORTED_CONTENT_FORMAT };
  const paths = codec.decodePaths(req.payload);
  const nodes = paths.flatMap((p) => {
    const node = nodeAt(p, battery);
    return node ? [{ path: p, node }] : [];
  });
  return {
    code: CoapCode.CONTENT,
    contentFormat: codec.contentFormat,
    payload: codec.encodeComposite(nodes, model),
  };
}
