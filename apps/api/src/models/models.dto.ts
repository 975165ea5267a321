// Object models as the api shows them (LwM2M TS 1.2 Core Appendix D: object and resource definitions).
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { IsBoolean, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import type { ObjectModel, ResourceModel } from '@lwm2m/lwm2m';

export class ModelSummaryDto {
  @ApiProperty({ example: 3303 })
  id!: number;
  @ApiProperty({ example: '1.1', description: 'Object version (ObjectVersion; 1.0 when the DDF has none)' })
  version!: string;
  @ApiProperty({ example: 'Temperature' })
  name!: string;
  @ApiProperty({ example: '1.0', description: 'LwM2M version the object was defined for (LWM2MVersion)' })
  lwm2mVersion!: string;
  @ApiProperty({ example: 'urn:oma:lwm2m:ext:3303:1.1', nullable: true, type: String })
  urn!: string | null;
  @ApiProperty({ description: 'Instances allowed: multiple or a single one' })
  multiple!: boolean;
  @ApiProperty()
  mandatory!: boolean;
  @ApiProperty({ example: 12, description: 'Number of resources defined' })
  resourceCount!: number;
}

export class ModelListDto {
  @ApiProperty({ type: [ModelSummaryDto] })
  items!: ModelSummaryDto[];
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Pass as ?cursor= for the next page; null at the end',
  })
  nextCursor!: string | null;
}

export class ResourceModelDto {
  @ApiProperty({ example: 5700 })
  id!: number;
  @ApiProperty({ example: 'Sensor Value' })
  name!: string;
  @ApiProperty({ enum: ['', 'R', 'W', 'RW', 'E'], example: 'R' })
  operations!: string;
  @ApiProperty({
    example: 'float',
    description: 'LwM2M data type (Appendix C); none for executable resources',
  })
  type!: string;
  @ApiProperty()
  multiple!: boolean;
  @ApiProperty()
  mandatory!: boolean;
  @ApiPropertyOptional({ example: 'Cel' })
  units?: string;
  @ApiPropertyOptional({
    example: '-40..85',
    description: 'As the DDF writes it; writes are checked against it',
  })
  rangeEnumeration?: string;
  @ApiPropertyOptional()
  description?: string;
}

export class ModelDto extends ModelSummaryDto {
  @ApiPropertyOptional()
  description?: string;
  @ApiProperty({ type: [String], example: ['1.0', '1.1'], description: 'Every version of this object known' })
  versions!: string[];
  @ApiProperty({
    example: '1.0',
    description: 'The version used for a device whose registration states no ver for this object',
  })
  assumedVersion!: string;
  @ApiProperty({ type: [ResourceModelDto] })
  resources!: ResourceModelDto[];
}

export class ModelUploadDto extends ModelDto {
  @ApiProperty({ enum: ['added', 'replaced'] })
  result!: 'added' | 'replaced';
}

const VERSION = /^[0-9]{1,3}\.[0-9]{1,3}$/;

export class ModelListQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 1000, default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;
  @ApiPropertyOptional({ description: 'nextCursor of the previous page' })
  @IsOptional()
  @IsString()
  @Matches(/^[0-9]{1,5}:[0-9]{1,3}\.[0-9]{1,3}$/, { message: 'cursor must be a nextCursor of this list' })
  cursor?: string;
}

export class ModelQueryDto {
  @ApiPropertyOptional({ example: '1.1', description: 'Object version; default the newest known' })
  @IsOptional()
  @IsString()
  @Matches(VERSION, { message: 'version must look like 1.0' })
  version?: string;
}

export class ModelUploadQueryDto {
  @ApiPropertyOptional({
    type: Boolean,
    default: false,
    description: 'Replace a known definition of the same object id and version (else 409)',
  })
  @IsOptional()
  @Transform(({ value }: { value: unknown }) => (value === 'true' ? true : value === 'false' ? false : value))
  @IsBoolean()
  replace?: boolean;
}

export function toModelSummary(m: ObjectModel): ModelSummaryDto {
  return {
    id: m.id,
    version: m.version,
    name: m.name,
    lwm2mVersion: m.lwm2mVersion ?? '1.0',
    urn: m.urn ?? null,
    multiple: m.multiple,
    mandatory: m.mandatory,
    resourceCount: m.resources.size,
  };
}

function toResource(r: ResourceModel): ResourceModelDto {
  return {
    id: r.id,
    name: r.name,
    operations: r.operations,
    type: r.type,
    multiple: r.multiple,
    mandatory: r.mandatory,
    ...(r.units !== undefined ? { units: r.units } : {}),
    ...(r.rangeEnumeration !== undefined ? { rangeEnumeration: r.rangeEnumeration } : {}),
    ...(r.description !== undefined ? { description: r.description } : {}),
  };
}

export function toModel(m: ObjectModel, versions: string[], assumedVersion: string): ModelDto {
  return {
    ...toModelSummary(m),
    ...(m.description !== undefined ? { description: m.description } : {}),
    versions,
    assumedVersion,
    resources: [...m.resources.values()].sort((a, b) => a.id - b.id).map(toResource),
  };
}
