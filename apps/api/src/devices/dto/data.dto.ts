// Inputs and outputs of the device-management routes (LwM2M TS 1.2 Core 6.3 / 6.4).
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateBy,
  ValidateNested,
} from 'class-validator';
import { MAX_TIMEOUT_MS, MIN_TIMEOUT_MS, parseDurationMs } from '../duration';
import { IsContentFormat, IsLwm2mJsonValue, IsLwm2mPath } from './validators';

export const VALUE_TYPES = [
  'string',
  'integer',
  'unsigned',
  'float',
  'boolean',
  'opaque',
  'time',
  'objlnk',
  'corelnk',
] as const;

const JSON_VALUE_SCHEMA = {
  description:
    'string (opaque as base64, integers past 2^53 as decimal text, objlnk as "3:0"), number (time: seconds since epoch) or boolean',
  oneOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }],
};

export class CommandQueryDto {
  @ApiPropertyOptional({
    type: 'string',
    default: '10s',
    example: '2s',
    pattern: '^[0-9]+(\\.[0-9]+)?(ms|s|m)?$',
    description:
      'How long to wait for the device: a duration with a unit (500ms, 10s, 2m) or a bare number of seconds; 100ms to 300s',
  })
  @IsOptional()
  @Transform(({ value }: { value: unknown }) => parseDurationMs(value) ?? Number.NaN)
  @ValidateBy({
    name: 'isTimeout',
    validator: {
      validate: (v: unknown) =>
        typeof v === 'number' && Number.isFinite(v) && v >= MIN_TIMEOUT_MS && v <= MAX_TIMEOUT_MS,
      defaultMessage: () =>
        'timeout must be a duration like 500ms, 10s or 2m (a bare number is seconds), from 100ms to 300s',
    },
  })
  /** Milliseconds once validated. */
  timeout?: number;

  @ApiPropertyOptional({
    description:
      'Content format override: tlv, senml-json, senml-cbor, lwm2m-cbor, lwm2m-json, text, opaque, cbor or a number',
    example: 'senml-json',
  })
  @IsOptional()
  @IsContentFormat()
  format?: string;

  @ApiPropertyOptional({
    minimum: 1,
    description:
      'Queue mode: how long a request for a sleeping device may wait, seconds (default REQUEST_TTL_S); then it ends as "expired"',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  ttl?: number;
}

export class WriteQueryDto extends CommandQueryDto {
  @ApiPropertyOptional({
    default: true,
    description:
      'false = partial update instead of replace (PUT): an iPATCH with SenML-ETCH (RFC 8132/8790) to a device ' +
      'that declared application/senml-etch+cbor or +json (322/320) in its registration, else (or when it ' +
      'answers 4.05/4.15/4.02/5.01) a Write with CoAP POST',
  })
  @IsOptional()
  @Transform(({ value }) => (value === 'true' ? true : value === 'false' ? false : value))
  @IsBoolean()
  replace?: boolean;
}

export class ValueItemDto {
  @ApiPropertyOptional({
    example: '/3/0/14',
    description: 'Absolute path, or relative to the route path ("14", "0/1"); default: the route path',
  })
  @IsOptional()
  @IsString()
  @MaxLength(40)
  path?: string;

  @ApiProperty(JSON_VALUE_SCHEMA)
  @IsLwm2mJsonValue()
  value!: unknown;

  @ApiPropertyOptional({ enum: VALUE_TYPES, description: 'Resource type; default: from the object model' })
  @IsOptional()
  @IsIn(VALUE_TYPES)
  type?: string;
}

export class CompositeValueItemDto {
  @ApiProperty({ example: '/3/0/14' })
  @IsLwm2mPath()
  path!: string;

  @ApiProperty(JSON_VALUE_SCHEMA)
  @IsLwm2mJsonValue()
  value!: unknown;

  @ApiPropertyOptional({ enum: VALUE_TYPES })
  @IsOptional()
  @IsIn(VALUE_TYPES)
  type?: string;
}

export class WriteBodyDto {
  @ApiPropertyOptional({ ...JSON_VALUE_SCHEMA, description: 'The one value of a resource path' })
  @IsOptional()
  @IsLwm2mJsonValue()
  value?: unknown;

  @ApiPropertyOptional({ enum: VALUE_TYPES, description: 'Type of `value`; default: from the object model' })
  @IsOptional()
  @IsIn(VALUE_TYPES)
  type?: string;

  @ApiPropertyOptional({ type: [ValueItemDto], description: 'Several values under the route path' })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(1000)
  @ValidateNested({ each: true })
  @Type(() => ValueItemDto)
  values?: ValueItemDto[];
}

export class ExecuteBodyDto {
  @ApiPropertyOptional({
    example: "0='reboot',1",
    description: "Execute arguments (LwM2M TS 1.2 Core 5.4.5): digit[='text'] separated by commas",
  })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  @Matches(/^[0-9](='[^']*')?(,[0-9](='[^']*')?)*$/, {
    message: "args must be a list like 0='text',1 (LwM2M TS 1.2 Core 5.4.5)",
  })
  args?: string;
}

export class CreateBodyDto {
  @ApiProperty({ type: [ValueItemDto], description: 'Resources of the new instance; paths relative to it' })
  @IsArray()
  @ArrayMaxSize(1000)
  @ValidateNested({ each: true })
  @Type(() => ValueItemDto)
  values!: ValueItemDto[];

  @ApiPropertyOptional({ minimum: 0, maximum: 65534, description: 'Instance id; default: the device picks' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(65534)
  instanceId?: number;
}

/** LwM2M TS 1.2 Core 5.1.2 notification attributes; null removes one. */
export class AttributesBodyDto {
  @ApiPropertyOptional({ type: Number, nullable: true, minimum: 0, description: 'Minimum period, s' })
  @IsOptional()
  @IsInt()
  @Min(0)
  pmin?: number | null;

  @ApiPropertyOptional({ type: Number, nullable: true, minimum: 0, description: 'Maximum period, s' })
  @IsOptional()
  @IsInt()
  @Min(0)
  pmax?: number | null;

  @ApiPropertyOptional({ type: Number, nullable: true, description: 'Greater than' })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  gt?: number | null;

  @ApiPropertyOptional({ type: Number, nullable: true, description: 'Less than' })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  lt?: number | null;

  @ApiPropertyOptional({ type: Number, nullable: true, minimum: 0, description: 'Step' })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  st?: number | null;

  @ApiPropertyOptional({
    type: Number,
    nullable: true,
    minimum: 0,
    description: 'Minimum evaluation period, s',
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  epmin?: number | null;

  @ApiPropertyOptional({
    type: Number,
    nullable: true,
    minimum: 0,
    description: 'Maximum evaluation period, s',
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  epmax?: number | null;

  @ApiPropertyOptional({
    type: Number,
    nullable: true,
    enum: [0, 1],
    description: 'LwM2M 1.2: notify on the falling (0) or rising (1) edge of a boolean resource',
  })
  @IsOptional()
  @IsIn([0, 1])
  edge?: number | null;

  @ApiPropertyOptional({
    type: Number,
    nullable: true,
    enum: [0, 1],
    description: 'LwM2M 1.2: notifications as non-confirmable (0) or confirmable (1) messages',
  })
  @IsOptional()
  @IsIn([0, 1])
  con?: number | null;

  @ApiPropertyOptional({
    type: Number,
    nullable: true,
    minimum: 0,
    description: 'LwM2M 1.2: maximum historical queue (hqmax, TS 1.2 Core 5.1.2)',
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  hqmax?: number | null;
}

export class PathsBodyDto {
  @ApiProperty({ type: [String], example: ['/3303/0/5700'], minItems: 1, maxItems: 100 })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @IsLwm2mPath({ each: true })
  paths!: string[];
}

export class ObserveBodyDto extends PathsBodyDto {
  @ApiPropertyOptional({
    enum: ['patch', 'full'],
    default: 'full',
    description:
      '"patch": the device sends only the changed resources in its SenML/LwM2M CBOR notifications; they are ' +
      'merged over the last full state instead of replacing it. SenML-ETCH notifications (320/322) are merged ' +
      'whatever this says',
  })
  @IsOptional()
  @IsIn(['patch', 'full'])
  notifications?: 'patch' | 'full';
}

/** ?merged=true: add the merged state of the observed paths. */
export class MergedQueryDto {
  @ApiPropertyOptional({ description: 'Add the merged state of the observed paths (issue 19)' })
  @IsOptional()
  @Transform(({ value }) => (value === 'true' ? true : value === 'false' ? false : value))
  @IsBoolean()
  merged?: boolean;
}

export class CompositeWriteBodyDto {
  @ApiProperty({ type: [CompositeValueItemDto] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(1000)
  @ValidateNested({ each: true })
  @Type(() => CompositeValueItemDto)
  values!: CompositeValueItemDto[];
}

export class ValueDto {
  @ApiProperty({ example: '/3/0/0' })
  path!: string;
  @ApiProperty(JSON_VALUE_SCHEMA)
  value!: unknown;
  @ApiProperty({ example: 'string' })
  type!: string;
  @ApiPropertyOptional({ description: 'Device timestamp, seconds since epoch' })
  time?: number;
}

/** A value read from a device, with its resource's name and unit from the object model. */
export class ReadValueDto extends ValueDto {
  @ApiPropertyOptional({ example: 'Sensor Value', description: 'Resource name in the object model' })
  name?: string;
  @ApiPropertyOptional({ example: 'Cel', description: 'Units of the resource in the object model' })
  unit?: string;
}

export class ReadResultDto {
  @ApiProperty({ example: '/3/0' })
  path!: string;
  @ApiProperty({ type: [ReadValueDto] })
  values!: ReadValueDto[];
  @ApiProperty({
    type: Number,
    nullable: true,
    example: 11542,
    description: 'Content-Format the device answered in',
  })
  contentFormat!: number | null;
}

export class CompositeReadResultDto {
  @ApiProperty({ type: [String] })
  paths!: string[];
  @ApiProperty({ type: [ReadValueDto] })
  values!: ReadValueDto[];
  @ApiProperty({ type: Number, nullable: true })
  contentFormat!: number | null;
}

export class DiscoverLinkDto {
  @ApiProperty({ example: '/3/0/1' })
  path!: string;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' }, example: { pmin: '10' } })
  attributes!: Record<string, string>;
}

export class DiscoverResultDto {
  @ApiProperty()
  path!: string;
  @ApiProperty({ description: 'The link list as the device sent it (application/link-format)' })
  links!: string;
  @ApiProperty({ type: [DiscoverLinkDto] })
  items!: DiscoverLinkDto[];
}

export class CreateResultDto {
  @ApiProperty({ example: '/3303/1', description: 'Path of the new instance' })
  path!: string;
}

export class ObservationCreatedDto {
  @ApiProperty()
  id!: string;
  @ApiProperty({ type: [String] })
  paths!: string[];
  @ApiProperty({
    type: [ReadValueDto],
    description: 'Values of the first response (an existing observation: the latest known values)',
  })
  values!: ValueDto[];
  @ApiProperty({ type: Number, nullable: true })
  contentFormat!: number | null;
  @ApiProperty({
    description:
      'true when an observation of the same path (set) existed: its id is returned (200), none is made',
  })
  existing!: boolean;
}

export class ObservationDto {
  @ApiProperty()
  id!: string;
  @ApiProperty({ type: [String] })
  paths!: string[];
  @ApiProperty()
  composite!: boolean;
  @ApiProperty({ type: Number, nullable: true })
  contentFormat!: number | null;
  @ApiProperty({ format: 'date-time' })
  createdAt!: string;
  @ApiProperty({ enum: ['patch', 'full'], description: 'How its SenML/LwM2M CBOR notifications are taken' })
  notifications!: 'patch' | 'full';
}

export class ObservationDetailDto extends ObservationDto {
  @ApiPropertyOptional({
    type: () => LatestValueDto,
    isArray: true,
    description:
      '?merged=true: the merged state of the observed paths, each value with its last-changed time',
  })
  merged?: LatestValueDto[];
}

export class ObservationListDto {
  @ApiProperty({ type: [ObservationDto] })
  items!: ObservationDto[];
}

export class LatestValueDto extends ValueDto {
  @ApiProperty({ format: 'date-time' })
  receivedAt!: string;
  @ApiProperty({ format: 'date-time', description: 'When the value last changed (receivedAt when unknown)' })
  changedAt!: string;
}

export class LatestValuesDto {
  @ApiProperty({ type: [LatestValueDto] })
  items!: LatestValueDto[];
}

export class AcceptedDto {
  @ApiProperty({ description: 'Id of the queued command (the "response" event carries it as requestId)' })
  requestId!: string;
}
