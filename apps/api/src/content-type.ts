// Request bodies are JSON (RFC 8259), or raw bytes for a Write of one opaque resource. Anything else is 415
// problem+json (RFC 9110 section 15.5.16) before a parser runs: a body the JSON parser skipped would otherwise
// reach validation as {} and read as a confusing 400 about missing fields.
import { PROBLEM_CONTENT_TYPE, ProblemType, statusTitle } from './problem/problem';

interface Req {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body?: unknown;
}
interface Res {
  status(code: number): this;
  setHeader(name: string, value: string): unknown;
  end(body: string): unknown;
}

/** PUT /api/v1/devices/{ep}/data/{path}: the one route that also takes application/octet-stream. */
const WRITE_ROUTE = /^\/api\/v1\/devices\/[^/]+\/data\/.+$/;
/** POST /api/v1/firmware: an image, raw bytes, streamed by its route (no body parser reads it). */
export const FIRMWARE_UPLOAD_ROUTE = /^\/api\/v1\/firmware\/?$/;
/** POST /api/v1/models: an OMA DDF document, XML. */
const MODELS_ROUTE = /^\/api\/v1\/models\/?$/;
export const XML_MEDIA_TYPES = ['application/xml', 'text/xml'];

function hasBody(req: Req): boolean {
  const length = Number(req.headers['content-length'] ?? 0);
  return length > 0 || req.headers['transfer-encoding'] !== undefined;
}

function mediaType(req: Req): string {
  const raw = req.headers['content-type'];
  return String(Array.isArray(raw) ? raw[0] : (raw ?? ''))
    .split(';')[0]
    .trim()
    .toLowerCase();
}

const isJson = (type: string) =>
  type === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(type);

export function requireKnownContentType() {
  return (req: Req, res: Res, next: () => void): void => {
    if (!['POST', 'PUT', 'PATCH'].includes(req.method) || !hasBody(req)) return next();
    const type = mediaType(req);
    if (isJson(type)) return next();
    const octets = req.method === 'PUT' && WRITE_ROUTE.test(req.path);
    if (octets && type === 'application/octet-stream') return next();
    if (req.method === 'POST' && FIRMWARE_UPLOAD_ROUTE.test(req.path) && type === 'application/octet-stream')
      return next();
    const xml = req.method === 'POST' && MODELS_ROUTE.test(req.path);
    if (xml && XML_MEDIA_TYPES.includes(type)) return next();
    const accepted = octets
      ? 'application/json or application/octet-stream'
      : xml
        ? XML_MEDIA_TYPES.join(' or ')
        : 'application/json';
    res.status(415);
    res.setHeader('Content-Type', PROBLEM_CONTENT_TYPE);
    res.setHeader('Accept-Post', 'application/json');
    res.end(
      JSON.stringify({
        type: ProblemType.UNSUPPORTED_MEDIA_TYPE,
        title: statusTitle(415),
        status: 415,
        detail: type
          ? `Content-Type ${type.slice(0, 64)} is not accepted here: send ${accepted}`
          : `the body has no Content-Type: send ${accepted}`,
        instance: req.path,
      }),
    );
  };
}

/**
 * A raw opaque body (application/octet-stream, parsed to a Buffer) becomes the JSON form of a Write of one
 * opaque value, so the route and its validation see one shape.
 */
export function octetStreamAsOpaqueValue() {
  return (req: Req, _res: Res, next: () => void): void => {
    if (Buffer.isBuffer(req.body) && mediaType(req) === 'application/octet-stream') {
      req.body = { value: req.body.toString('base64'), type: 'opaque' };
    }
    next();
  };
}
