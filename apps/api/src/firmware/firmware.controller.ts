// /api/v1/firmware: firmware images (LwM2M object 5 packages), uploaded as a stream (hashed as it comes, never
// held whole), listed, deleted and served over HTTP with Range; /api/v1/devices/{endpoint}/firmware starts
// an update of one device by Push (Block1 to /5/0/0) or Pull (the Package URI written to /5/0/1).
import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  Param,
  Post,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiBody,
  ApiConsumes,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import {
  type FirmwareImage,
  type FirmwareStores,
  ImageTooLargeError,
  InvalidImageError,
  validImageId,
} from '@lwm2m/firmware';
import type { HttpRequest, HttpResponse } from '../http';
import { AdminOnly, Public } from '../auth/api-key.guard';
import { Audited } from '../audit/audited';
import { ApiProblems } from '../problem/problem.dto';
import { invalidRequest, ProblemException, ProblemType } from '../problem/problem';
import { DeviceCommandsService } from '../devices/device-commands.service';
import { FIRMWARE_STORES } from '../tokens';
import {
  DeviceFirmwareDto,
  DeviceFirmwareStartedDto,
  FirmwareImageDto,
  FirmwareListDto,
  FirmwareUploadQueryDto,
  PushProgressDto,
} from './firmware.dto';

export const UNKNOWN_IMAGE = 'urn:lwm2m-cluster:problem:unknown-firmware-image';
/** Bytes read from the store per HTTP write of GET .../content. */
const HTTP_CHUNK = 64 * 1024;

type StreamingRequest = HttpRequest & AsyncIterable<Uint8Array>;
type StreamingResponse = HttpResponse & { write(chunk: Buffer): boolean };

export function unknownImage(id: string): ProblemException {
  return new ProblemException({
    type: UNKNOWN_IMAGE,
    title: 'Unknown firmware image',
    status: 404,
    detail: `no firmware image ${id.slice(0, 64)}`,
  });
}

function tooLarge(max: number): ProblemException {
  return new ProblemException({
    type: ProblemType.PAYLOAD_TOO_LARGE,
    title: 'Payload Too Large',
    status: 413,
    detail: `a firmware image may have at most ${max} bytes`,
    maxBytes: max,
  });
}

@ApiTags('firmware')
@ApiBearerAuth()
@ApiProblems(401, 403)
@Controller('api/v1/firmware')
export class FirmwareController {
  constructor(@Inject(FIRMWARE_STORES) private readonly fw: FirmwareStores) {}

  @Post()
  @AdminOnly()
  @Audited('firmware-upload')
  @ApiOperation({
    summary: 'Upload a firmware image (admin)',
    description:
      'Body: the image as application/octet-stream, streamed to the image store (FIRMWARE_DIR, or Redis ' +
      'chunks up to FIRMWARE_REDIS_MAX_BYTES) and hashed (SHA-256) on the way; at most FIRMWARE_MAX_BYTES ' +
      '(413 beyond). ?name= and ?version= describe it.',
  })
  @ApiConsumes('application/octet-stream')
  @ApiBody({ schema: { type: 'string', format: 'binary' } })
  @ApiCreatedResponse({ type: FirmwareImageDto, description: 'Stored; Location names it' })
  @ApiProblems(400, 413, 415)
  async upload(
    @Query() query: FirmwareUploadQueryDto,
    @Req() req: StreamingRequest,
    @Res({ passthrough: true }) res: HttpResponse,
  ): Promise<FirmwareImageDto> {
    const type = String(req.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim()
      .toLowerCase();
    // Another type was read by a body parser already: the stream would be empty, an image of 0 bytes.
    if (type !== 'application/octet-stream') {
      throw new ProblemException({
        type: ProblemType.UNSUPPORTED_MEDIA_TYPE,
        title: 'Unsupported Media Type',
        status: 415,
        detail: 'send the image as application/octet-stream',
      });
    }
    const max = this.fw.config.FIRMWARE_MAX_BYTES;
    const declared = Number(req.headers['content-length'] ?? 0);
    // The rest of a refused body is not read: the connection closes after the answer, so that no client
    // reuses a socket with our unread bytes in it.
    const refuse = (limit: number): ProblemException => {
      res.setHeader('Connection', 'close');
      return tooLarge(limit);
    };
    // Refused before reading a byte when the client says how much it sends.
    if (declared > max) throw refuse(max);
    let image: FirmwareImage;
    try {
      image = await this.fw.images.put({ name: query.name, version: query.version }, req, { maxBytes: max });
    } catch (err) {
      if (err instanceof ImageTooLargeError) throw refuse(err.maxBytes);
      if (err instanceof InvalidImageError) throw invalidRequest(err.message);
      throw err;
    }
    res.status(201);
    res.location(`/api/v1/firmware/${image.id}`);
    return image;
  }

  @Get()
  @ApiOperation({ summary: 'List firmware images' })
  @ApiOkResponse({ type: FirmwareListDto })
  async list(): Promise<FirmwareListDto> {
    return { items: await this.fw.images.list() };
  }

  @Get(':id')
  @ApiOperation({ summary: 'One firmware image: name, version, size, SHA-256' })
  @ApiOkResponse({ type: FirmwareImageDto })
  @ApiProblems(404)
  async get(@Param('id') id: string): Promise<FirmwareImageDto> {
    const image = validImageId(id) ? await this.fw.images.get(id) : undefined;
    if (image === undefined) throw unknownImage(id);
    return image;
  }

  @Delete(':id')
  @AdminOnly()
  @Audited('firmware-delete')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a firmware image (admin)' })
  @ApiNoContentResponse()
  @ApiProblems(404)
  async remove(@Param('id') id: string): Promise<void> {
    if (!validImageId(id) || !(await this.fw.images.delete(id))) throw unknownImage(id);
  }

  /**
   * HTTP(S) Pull (object 5 Package URI http://...): public like the CoAP /fw/{id}, since a device has no API
   * key; the id is unguessable (a UUID) unless the operator chose it.
   */
  @Get(':id/content')
  @Public()
  @ApiOperation({
    summary: 'The image content (HTTP pull), with Range (RFC 9110 section 14)',
    description:
      'One byte range per request (bytes=a-b, a-, -n); 206 with Content-Range, 416 when unsatisfiable.',
  })
  @ApiOkResponse({ description: 'The image, application/octet-stream' })
  @ApiProblems(404, 416)
  async content(
    @Param('id') id: string,
    @Req() req: HttpRequest,
    @Res() res: StreamingResponse,
  ): Promise<void> {
    const image = validImageId(id) ? await this.fw.images.get(id) : undefined;
    if (image === undefined) throw unknownImage(id);
    const range = parseRange(req.headers.range, image.size);
    if (range === 'unsatisfiable') {
      res.setHeader('Content-Range', `bytes */${image.size}`);
      throw new ProblemException({
        type: ProblemType.BLANK,
        title: 'Range Not Satisfiable',
        status: 416,
        detail: `the image has ${image.size} bytes`,
      });
    }
    const [start, end] = range ?? [0, image.size - 1];
    res.status(range ? 206 : 200);
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('ETag', `"${image.sha256}"`);
    res.setHeader('Content-Length', String(Math.max(0, end - start + 1)));
    if (range) res.setHeader('Content-Range', `bytes ${start}-${end}/${image.size}`);
    let closed = false;
    const onClose = (): void => {
      closed = true;
    };
    res.on('close', onClose);
    try {
      // Read and written a window at a time, waiting for 'drain': a slow client holds no more than that.
      for (let at = start; at <= end && !closed; at += HTTP_CHUNK) {
        const piece = await this.fw.images.read(id, at, Math.min(HTTP_CHUNK, end - at + 1));
        if (piece.length === 0) break;
        if (!res.write(piece)) await new Promise<void>((r) => res.on('drain', r));
      }
    } finally {
      res.off('close', onClose);
      if (!closed) res.end();
    }
  }
}

/** RFC 9110 section 14.1.2: one bytes range; undefined when absent or not a single bytes range (served whole). */
export function parseRange(header: unknown, size: number): [number, number] | 'unsatisfiable' | undefined {
  if (typeof header !== 'string') return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (end < start) return m[2] !== '' && Number(m[2]) < start ? undefined : 'unsatisfiable';
  }
  if (start >= size) return 'unsatisfiable';
  return [start, end];
}

@ApiTags('firmware')
@ApiBearerAuth()
@ApiProblems(401, 403)
@Controller('api/v1/devices/:endpoint/firmware')
export class DeviceFirmwareController {
  constructor(
    @Inject(FIRMWARE_STORES) private readonly fw: FirmwareStores,
    private readonly commands: DeviceCommandsService,
  ) {}

  @Post()
  @Audited('firmware-update')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Deliver a firmware image to a device (object 5)',
    description:
      'push: the gateway holding the device writes the image to /5/0/0 with Block1, in the background; ' +
      'a push of the same image that stopped (timeout, NAT rebinding, node change) resumes after the last ' +
      'acknowledged block; progress at GET. pull: the Package URI is written to /5/0/1 and the device ' +
      'fetches it (CoAP Block2 from any gateway, or HTTP). Then observe /5/0/3 and /5/0/5 and Execute /5/0/2.',
  })
  @ApiAcceptedResponse({ type: DeviceFirmwareStartedDto })
  @ApiProblems(400, 404, 409, 502, 504)
  async start(
    @Param('endpoint') endpoint: string,
    @Body() body: DeviceFirmwareDto,
  ): Promise<DeviceFirmwareStartedDto> {
    const image = validImageId(body.imageId) ? await this.fw.images.get(body.imageId) : undefined;
    if (image === undefined) throw unknownImage(body.imageId);
    if (body.mode === 'push') {
      const r = await this.commands.run(endpoint, { op: 'firmware-push', imageId: image.id });
      return { mode: 'push', imageId: image.id, requestId: r.id, status: r.status };
    }
    const base = this.fw.config.FIRMWARE_COAP_BASE;
    const packageUri = body.packageUri ?? (base ? `${base}/fw/${image.id}` : undefined);
    if (packageUri === undefined)
      throw invalidRequest(
        'give packageUri, or set FIRMWARE_COAP_BASE for the default coap(s)://<gateway>/fw/{id}',
      );
    const r = await this.commands.run(endpoint, {
      op: 'write',
      path: '/5/0/1',
      values: [{ path: '/5/0/1', type: 'string', value: packageUri }],
    });
    return { mode: 'pull', imageId: image.id, packageUri, requestId: r.id, status: r.status };
  }

  @Get()
  @ApiOperation({ summary: 'Progress of the last push to the device' })
  @ApiOkResponse({ type: PushProgressDto })
  @ApiProblems(404)
  async progress(@Param('endpoint') endpoint: string): Promise<PushProgressDto> {
    const p = await this.fw.pushes.get(endpoint);
    if (p === undefined) {
      throw new ProblemException({
        type: ProblemType.BLANK,
        title: 'Not Found',
        status: 404,
        detail: `no firmware push to ${endpoint.slice(0, 64)} is known`,
      });
    }
    return p;
  }
}
