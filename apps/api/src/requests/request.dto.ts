// What operators see of a request queued for a sleeping queue-mode device.
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { QueuedRequest } from '@lwm2m/scheduler';

export class RequestResultDto {
  @ApiProperty() ok!: boolean;
  @ApiProperty({ description: 'HTTP-like status of the device answer (200, 204, 404, 504, ...)' })
  status!: number;
  @ApiPropertyOptional({ description: 'The device CoAP response code, e.g. "2.05"' }) coapCode?: string;
  @ApiPropertyOptional({ description: 'Read results: [{path, value, type}]' }) values?: unknown[];
  @ApiPropertyOptional() contentFormat?: number;
  @ApiPropertyOptional({ description: 'Discover: the link list' }) links?: string;
  @ApiPropertyOptional({ description: 'Create: the new instance path' }) location?: string;
  @ApiPropertyOptional({ description: 'Observe: the new observation id' }) observationId?: string;
  @ApiPropertyOptional() error?: string;
}

export class RequestDto {
  @ApiProperty() id!: string;
  @ApiProperty() endpoint!: string;
  @ApiProperty({ description: 'LwM2M operation (read, write, execute, observe, ...)' }) op!: string;
  @ApiPropertyOptional() path?: string;
  @ApiPropertyOptional({ type: [String] }) paths?: string[];
  @ApiProperty({
    enum: ['queued', 'delivering', 'succeeded', 'failed', 'expired', 'cancelled'],
    description: 'queued and delivering are pending; the others are final',
  })
  state!: string;
  @ApiProperty({ enum: ['operator', 'reobserve'] }) origin!: string;
  @ApiProperty({ description: 'Delivery attempts started' }) attempts!: number;
  @ApiProperty() acceptedAt!: string;
  @ApiProperty({ description: 'When it expires if not delivered (time-to-live)' }) expiresAt!: string;
  @ApiProperty() updatedAt!: string;
  @ApiPropertyOptional({ description: 'Next attempt not before (retry backoff)' }) notBefore?: string;
  @ApiPropertyOptional({ type: RequestResultDto }) result?: RequestResultDto;
  @ApiPropertyOptional() error?: string;
}

export class RequestListDto {
  @ApiProperty({ type: [RequestDto], description: 'In delivery order' }) items!: RequestDto[];
}

export class CancelledDto {
  @ApiProperty({ type: [String] }) cancelled!: string[];
}

const iso = (ms: number) => new Date(ms).toISOString();

export function toRequestDto(r: QueuedRequest): RequestDto {
  const out: RequestDto = {
    id: r.id,
    endpoint: r.endpoint,
    op: r.command.op,
    state: r.state,
    origin: r.origin,
    attempts: r.attempts,
    acceptedAt: iso(r.acceptedAt),
    expiresAt: iso(r.expiresAt),
    updatedAt: iso(r.updatedAt),
  };
  if (r.command.path !== undefined) out.path = r.command.path;
  if (r.command.paths !== undefined) out.paths = r.command.paths;
  if (r.notBefore !== undefined && r.state === 'queued') out.notBefore = iso(r.notBefore);
  if (r.result !== undefined) {
    const { id: _id, ...result } = r.result;
    out.result = result;
  }
  if (r.error !== undefined) out.error = r.error;
  return out;
}
