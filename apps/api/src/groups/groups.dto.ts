// Bodies and answers of /api/v1/groups and /api/v1/group-requests. The group rules themselves (names, kinds,
// limits) are checked by libs/groups; these classes shape the JSON and document it.
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateBy,
  ValidateNested,
} from 'class-validator';
import {
  GROUP_NAME,
  GROUP_REQUEST_CURSOR,
  GROUP_REQUEST_STATES,
  type GroupRequestState,
} from '@lwm2m/groups';
import { parseDurationMs } from '../devices/duration';
import { ValueItemDto, VALUE_TYPES } from '../devices/dto/data.dto';
import { IsLwm2mJsonValue } from '../devices/dto/validators';

export class CreateGroupDto {
  @ApiProperty({
    example: 'meters-paris',
    description: '1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit',
  })
  @IsString()
  @MaxLength(64)
  name!: string;

  @ApiPropertyOptional({
    example: { q: 'meter-' },
    description:
      'Devices whose endpoint contains q (as GET /api/v1/devices?q=), resolved when a request starts',
  })
  @IsOptional()
  @IsObject()
  filter?: Record<string, unknown>;

  @ApiPropertyOptional({ type: [String], description: 'Endpoint names (at most GROUP_MAX_ENDPOINTS)' })
  @IsOptional()
  @IsArray()
  endpoints?: unknown[];

  @ApiPropertyOptional({
    example: { address: '239.255.0.1', port: 5683 },
    description:
      'A CoAP multicast group: requests go once to the group address through the in-process group proxy (draft-ietf-core-groupcomm-proxy); 501 with GROUP_MULTICAST=off',
  })
  @IsOptional()
  @IsObject()
  multicast?: Record<string, unknown>;
}

export class GroupDto {
  @ApiProperty() name!: string;
  @ApiProperty({ enum: ['filter', 'endpoints', 'multicast'] }) kind!: string;
  @ApiPropertyOptional() filter?: { q: string };
  @ApiPropertyOptional({ type: [String] }) endpoints?: string[];
  @ApiPropertyOptional() multicast?: { address: string; port: number };
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ description: 'Name of the API key that made it' }) createdBy!: string;
}

export class GroupListDto {
  @ApiProperty({ type: [GroupDto] }) items!: GroupDto[];
}

/** A duration ("500ms", "30s", "10m", a bare number of seconds) to milliseconds; NaN when it is none. */
const ToMs = (): PropertyDecorator =>
  Transform(({ value }: { value: unknown }) => parseDurationMs(value) ?? Number.NaN);

function IsDurationMs(min: number, max: number, what: string): PropertyDecorator {
  return ValidateBy({
    name: `is-${what}`,
    validator: {
      validate: (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max,
      defaultMessage: () =>
        `${what} must be a duration like 500ms, 30s or 10m (a bare number is seconds), from ${min} ms to ${max} ms`,
    },
  });
}

export class GroupOperationDto {
  @ApiProperty({ example: '/3/0/0', description: 'LwM2M path every member is asked for' })
  @IsString()
  @MaxLength(64)
  path!: string;

  @ApiPropertyOptional({ description: 'write: the one value of a resource path' })
  @IsOptional()
  @IsLwm2mJsonValue()
  value?: unknown;

  @ApiPropertyOptional({ enum: VALUE_TYPES })
  @IsOptional()
  @IsIn(VALUE_TYPES)
  type?: string;

  @ApiPropertyOptional({ type: [ValueItemDto], description: 'write: several values under path' })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(1000)
  @ValidateNested({ each: true })
  @Type(() => ValueItemDto)
  values?: ValueItemDto[];

  @ApiPropertyOptional({ description: 'write: false = partial update', default: true })
  @IsOptional()
  @IsBoolean()
  replace?: boolean;

  @ApiPropertyOptional({ example: "0='reboot'", description: 'execute: arguments (TS 1.2 Core 5.4.5)' })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  @Matches(/^[0-9](='[^']*')?(,[0-9](='[^']*')?)*$/, { message: "args must be a list like 0='text',1" })
  args?: string;

  @ApiPropertyOptional({
    type: 'string',
    example: '5m',
    description:
      'How long the group request collects results (Multicast-Timeout at fleet level); after it, devices not ' +
      'answered are timed out and queued requests cancelled. Default GROUP_DEADLINE (5m), at most GROUP_MAX_DEADLINE',
  })
  @IsOptional()
  @ToMs()
  @IsDurationMs(1000, 7 * 86_400_000, 'deadline')
  deadline?: number;

  @ApiPropertyOptional({
    type: 'string',
    example: '10s',
    description: 'Each device answer timeout (100ms to 300s)',
  })
  @IsOptional()
  @ToMs()
  @IsDurationMs(100, 300_000, 'timeout')
  timeout?: number;

  @ApiPropertyOptional({ example: 100, description: 'Devices dispatched per second at most' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100_000)
  rate?: number;

  @ApiPropertyOptional({ example: 100, description: 'Devices awaited at the same time at most' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100_000)
  maxInFlight?: number;
}

export class ResultsQueryDto {
  @ApiPropertyOptional({
    default: 0,
    description: 'Index of the first result (nextOffset of the previous page)',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  offset?: number;

  @ApiPropertyOptional({ default: 100, minimum: 1, maximum: 1000 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;
}

export class GroupRequestListQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 500, default: 50, description: 'Page size' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;

  @ApiPropertyOptional({ description: 'nextCursor of the previous page: continue with older requests' })
  @IsOptional()
  @IsString()
  @Matches(GROUP_REQUEST_CURSOR, { message: 'cursor must be a nextCursor of a previous page' })
  cursor?: string;

  @ApiPropertyOptional({ description: 'Only the requests run across this group' })
  @IsOptional()
  @IsString()
  @Matches(GROUP_NAME, { message: 'group must be a group name (1-64 characters of A-Z a-z 0-9 . _ -)' })
  group?: string;

  @ApiPropertyOptional({ enum: GROUP_REQUEST_STATES, description: 'Only the requests in this state' })
  @IsOptional()
  @IsIn([...GROUP_REQUEST_STATES])
  state?: GroupRequestState;
}

export class MemberResultDto {
  @ApiProperty({
    description:
      "The device's endpoint, as Reply-From names the origin server; for a multicast group the server's " +
      'address itself (coap://10.0.0.7:5683)',
  })
  endpoint!: string;
  @ApiProperty({
    enum: ['pending', 'dispatching', 'queued', 'succeeded', 'failed', 'timed-out', 'cancelled'],
  })
  state!: string;
  @ApiPropertyOptional() requestId?: string;
  @ApiPropertyOptional() status?: number;
  @ApiPropertyOptional() coapCode?: string;
  @ApiPropertyOptional() values?: unknown[];
  @ApiPropertyOptional() observationId?: string;
  @ApiPropertyOptional() contentFormat?: number;
  @ApiPropertyOptional({
    description:
      "A multicast group's server response payload (text, or base64) when it is not LwM2M values (or did not " +
      'decode: then with error)',
  })
  payload?: string;
  @ApiPropertyOptional({ enum: ['base64'] }) payloadEncoding?: string;
  @ApiPropertyOptional({ description: "A multicast server's response's Observe number (RFC 7641)" })
  observe?: number;
  @ApiPropertyOptional({
    description: "A multicast observe: the server's notifications after its registration answer, so far",
  })
  notifications?: number;
  @ApiPropertyOptional() error?: string;
  @ApiProperty({ format: 'date-time' }) at!: string;
}

export class GroupRequestDto {
  @ApiProperty() id!: string;
  @ApiProperty() group!: string;
  @ApiProperty({ enum: ['read', 'write', 'execute', 'observe'] }) op!: string;
  @ApiProperty() path!: string;
  @ApiProperty({ enum: ['running', 'cancelling', 'completed', 'cancelled'] }) state!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) deadline!: string;
  @ApiPropertyOptional({ format: 'date-time' }) finishedAt?: string;
  @ApiProperty() createdBy!: string;
  @ApiProperty() rate!: { perSecond: number; maxInFlight: number };
  @ApiProperty() timeoutMs!: number;
  @ApiProperty({ description: 'Members' }) total!: number;
  @ApiProperty({
    description:
      'pending (not yet sent), inFlight (sent, awaiting the device), queued (asleep), and the final states',
    example: { pending: 0, inFlight: 0, queued: 0, succeeded: 1000, failed: 0, timedOut: 0, cancelled: 0 },
  })
  progress!: Record<string, number>;
  @ApiPropertyOptional({ type: [MemberResultDto], description: 'Final results from ?offset=' })
  results?: MemberResultDto[];
  @ApiPropertyOptional({ description: 'offset of the next page of results' })
  nextOffset?: number;
}

export class GroupRequestListDto {
  @ApiProperty({ type: [GroupRequestDto], description: 'Newest first, each with its progress (no results)' })
  items!: GroupRequestDto[];
  @ApiProperty({
    type: String,
    nullable: true,
    description:
      'More (older) requests may follow: pass it as cursor; null on the last page. A page filtered by state ' +
      'may hold fewer than limit items.',
  })
  nextCursor!: string | null;
}
