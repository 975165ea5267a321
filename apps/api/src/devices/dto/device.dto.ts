// What GET /api/v1/devices and /api/v1/devices/{endpoint} return, built from a Registration.
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { isAwake, type Registration } from '@lwm2m/server';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';

export class DeviceListQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 1000, default: 100, description: 'Page size' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;

  @ApiPropertyOptional({ description: 'Opaque cursor from the previous page (nextCursor)' })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  cursor?: string;

  @ApiPropertyOptional({ description: 'Substring of the endpoint name' })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  q?: string;
}

export class ObjectLinkDto {
  @ApiProperty({ example: '/3/0' })
  path!: string;

  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' }, example: { ver: '1.1' } })
  attributes!: Record<string, string>;
}

export class DeviceSummaryDto {
  @ApiProperty({ example: 'urn:imei:123456789012345' })
  endpoint!: string;
  @ApiProperty({ description: 'Registration id (Location-Path /rd/{id})' })
  registrationId!: string;
  @ApiProperty({ enum: ['1.0', '1.1', '1.2'] })
  lwm2mVersion!: string;
  @ApiProperty({ example: 'U' })
  binding!: string;
  @ApiProperty({ description: 'Lifetime, seconds' })
  lifetime!: number;
  @ApiProperty()
  queueMode!: boolean;
  @ApiProperty({ example: '192.0.2.1:56830', description: 'ip:port ([ipv6]:port) of the latest datagram' })
  address!: string;
  @ApiProperty({ format: 'date-time' })
  registeredAt!: string;
  @ApiProperty({ format: 'date-time' })
  lastSeen!: string;
  @ApiProperty({ type: [ObjectLinkDto] })
  objectLinks!: ObjectLinkDto[];
  @ApiProperty({ format: 'date-time', description: 'When the registration expires without an Update' })
  expiresAt!: string;
  @ApiProperty({ enum: ['nosec', 'psk', 'rpk', 'x509', 'oscore'] })
  security!: string;
  @ApiProperty({
    enum: ['online', 'asleep', 'offline'],
    description:
      'offline: its lifetime passed without an Update (expiry is pending); asleep: a queue-mode device past its ' +
      'awake window or that left a request unanswered (TS 1.2 Core 6.5); online otherwise',
  })
  state!: 'online' | 'asleep' | 'offline';
}

export class DeviceDto extends DeviceSummaryDto {
  @ApiProperty({ format: 'date-time' })
  lastUpdate!: string;
  @ApiProperty({ example: '/' })
  rootPath!: string;
  @ApiProperty({ type: [Number], description: 'Content-Formats the device declared (ct)' })
  supportedContentFormats!: number[];
  @ApiPropertyOptional()
  smsNumber?: string;
  @ApiPropertyOptional({ description: 'Gateway node that took the latest datagram' })
  gatewayNode?: string;
  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' } })
  extraAttributes?: Record<string, string>;
}

export class DeviceListDto {
  @ApiProperty({ type: [DeviceSummaryDto] })
  items!: DeviceSummaryDto[];
  @ApiPropertyOptional({ description: 'Registered devices in all, whatever q and the page' })
  total?: number;
  @ApiProperty({
    description:
      'Registered devices in all by state (see state), whatever q and the page; counted at most once per 5 s ' +
      'by each api process (longer when counting takes long: 10 times the time it took)',
    example: { online: 950, asleep: 40, offline: 10 },
  })
  states!: { online: number; asleep: number; offline: number };
  @ApiProperty({ format: 'date-time', description: 'When states were counted' })
  statesAt!: string;
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Cursor of the next page; null on the last page',
  })
  nextCursor!: string | null;
}

export function formatAddress(a: Registration['address']): string {
  return a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export function toDeviceSummary(r: Registration): DeviceSummaryDto {
  return {
    endpoint: r.endpoint,
    registrationId: r.registrationId,
    lwm2mVersion: r.lwm2mVersion,
    binding: r.binding,
    lifetime: r.lifetime,
    queueMode: r.queueMode,
    address: formatAddress(r.address),
    registeredAt: iso(r.registeredAt),
    lastSeen: iso(r.lastSeen),
    objectLinks: r.objectLinks.map((l) => ({ path: l.path, attributes: { ...l.attributes } })),
    expiresAt: iso(r.expiresAt),
    security: r.security,
    state: presenceState(r, Date.now()),
  };
}

/** What the dashboard shows of a registration's presence (see DeviceSummaryDto.state). */
export function presenceState(r: Registration, now: number): DeviceSummaryDto['state'] {
  if (r.expiresAt < now) return 'offline';
  return isAwake(r, now) ? 'online' : 'asleep';
}

export function toDevice(r: Registration): DeviceDto {
  return {
    ...toDeviceSummary(r),
    lastUpdate: iso(r.lastUpdate),
    rootPath: r.rootPath,
    supportedContentFormats: [...r.supportedContentFormats],
    ...(r.smsNumber !== undefined ? { smsNumber: r.smsNumber } : {}),
    ...(r.gatewayNode !== undefined ? { gatewayNode: r.gatewayNode } : {}),
    ...(r.extraAttributes !== undefined ? { extraAttributes: { ...r.extraAttributes } } : {}),
  };
}
