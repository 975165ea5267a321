// Bodies and answers of /api/v1/campaigns (firmware update campaigns, libs/campaigns).
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
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
  MinLength,
  ValidateNested,
} from 'class-validator';
import { DEVICE_RUN_STATES } from '@lwm2m/campaigns';

/** Endpoints in one campaign, at most. */
export const MAX_CAMPAIGN_DEVICES = 100_000;

export class CampaignFilterDto {
  @ApiPropertyOptional({ description: 'Registered devices whose endpoint contains this text; empty: all' })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  q?: string;
}

export class CampaignTargetDto {
  @ApiPropertyOptional({ type: [String], description: 'Endpoints, in start order (the canary batch first)' })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_CAMPAIGN_DEVICES)
  @IsString({ each: true })
  @MinLength(1, { each: true })
  @MaxLength(256, { each: true })
  endpoints?: string[];

  @ApiPropertyOptional({ type: CampaignFilterDto, description: 'Registered devices matching it at creation' })
  @IsOptional()
  @ValidateNested()
  @Type(() => CampaignFilterDto)
  filter?: CampaignFilterDto;

  @ApiPropertyOptional({
    description:
      'A device group (POST /api/v1/groups) with a filter or endpoints, resolved now; a multicast group is refused (422)',
  })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  group?: string;
}

export class RolloutPolicyDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 10000, default: 50, description: 'Devices in flight at most' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_000)
  maxConcurrent?: number;

  @ApiPropertyOptional({
    minimum: 0,
    default: 0,
    description: 'Devices started per minute at most; 0: no limit',
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  perMinute?: number;

  @ApiPropertyOptional({
    minimum: 0,
    default: 0,
    description: 'The first N devices go first; all must succeed',
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(10_000)
  canarySize?: number;

  @ApiPropertyOptional({
    minimum: 0,
    maximum: 1,
    default: 1,
    description: 'Abort above this failure ratio; 1: never',
  })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(1)
  abortFailureRatio?: number;

  @ApiPropertyOptional({
    minimum: 1,
    default: 10,
    description: 'Finished devices before the ratio is judged',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  abortMinFinished?: number;

  @ApiPropertyOptional({
    minimum: 1,
    default: 1800,
    description: 'One attempt of one device, at most, seconds',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(7 * 86400)
  deviceTimeoutS?: number;

  @ApiPropertyOptional({ minimum: 1, maximum: 20, default: 3 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(20)
  maxAttempts?: number;

  @ApiPropertyOptional({ minimum: 10, default: 5000, description: 'First retry backoff, ms (doubles)' })
  @IsOptional()
  @IsInt()
  @Min(10)
  @Max(3_600_000)
  retryBackoffMs?: number;

  @ApiPropertyOptional({ type: [Number], default: [4, 5], description: 'Update Result codes retried' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(16)
  @IsInt({ each: true })
  @Min(2, { each: true })
  @Max(255, { each: true })
  retryResults?: number[];
}

export class TimeWindowDto {
  @ApiPropertyOptional({ description: 'ISO 8601 time; nothing starts before' })
  @IsOptional()
  @IsString()
  @MaxLength(40)
  start?: string;

  @ApiPropertyOptional({ description: 'ISO 8601 time; nothing starts after; pending devices end cancelled' })
  @IsOptional()
  @IsString()
  @MaxLength(40)
  end?: string;
}

export class CreateCampaignDto {
  @ApiPropertyOptional({ maxLength: 128 })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  name?: string;

  @ApiProperty({ type: CampaignTargetDto })
  @ValidateNested()
  @Type(() => CampaignTargetDto)
  target!: CampaignTargetDto;

  @ApiProperty({ description: 'The firmware image id (POST /api/v1/firmware)' })
  @IsString()
  @Matches(/^[A-Za-z0-9._-]{1,128}$/, { message: 'imageId must be 1..128 of A-Z a-z 0-9 . _ -' })
  imageId!: string;

  @ApiProperty({ enum: ['push', 'pull'] })
  @IsIn(['push', 'pull'])
  mode!: 'push' | 'pull';

  @ApiPropertyOptional({
    description:
      "Pull: the URI devices fetch (coap, coaps, http, https); default the gateway's /fw/<imageId>",
  })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  @Matches(/^(coaps?|https?):\/\/[^\s]+$/, { message: 'packageUri must be a coap, coaps, http or https URI' })
  packageUri?: string;

  @ApiPropertyOptional({
    enum: [5, 9],
    default: 5,
    description:
      '5: Firmware Update (/5/0). 9: Software Management instance softwareInstance: pull writes /9/x/3, push ' +
      '/9/x/2, Install /9/x/4 on DELIVERED, succeeded on INSTALLED (/9/x/7 = 4)',
  })
  @IsOptional()
  @IsIn([5, 9])
  object?: 5 | 9;

  @ApiPropertyOptional({ minimum: 0, maximum: 65534, default: 0, description: 'Object 9 only: its instance' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(65534)
  softwareInstance?: number;

  @ApiPropertyOptional({ default: false, description: 'Object 9 only: Activate /9/x/10 once installed' })
  @IsOptional()
  @IsBoolean()
  activate?: boolean;

  @ApiPropertyOptional({ type: RolloutPolicyDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => RolloutPolicyDto)
  policy?: RolloutPolicyDto;

  @ApiPropertyOptional({ type: TimeWindowDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => TimeWindowDto)
  window?: TimeWindowDto;
}

export class CampaignListQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 1000, default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Matches(/^\d{1,20}$/, { message: 'cursor must be a cursor of the previous page' })
  cursor?: string;
}

export class CampaignDevicesQueryDto extends CampaignListQueryDto {
  @ApiPropertyOptional({ enum: [...DEVICE_RUN_STATES] })
  @IsOptional()
  @IsIn([...DEVICE_RUN_STATES])
  state?: (typeof DEVICE_RUN_STATES)[number];
}

export class CampaignLogQueryDto {
  @ApiPropertyOptional({ description: 'Records after this record id ("0": from the start)' })
  @IsOptional()
  @Matches(/^\d{1,20}(?:-\d{1,20})?$/, { message: 'after must be a record id' })
  after?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 10000, default: 1000 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(10_000)
  limit?: number;
}

export class CampaignDto {
  @ApiProperty() id!: string;
  @ApiPropertyOptional() name?: string;
  @ApiProperty() imageId!: string;
  @ApiProperty({ enum: ['push', 'pull'] }) mode!: string;
  @ApiPropertyOptional() packageUri?: string;
  @ApiProperty({ enum: [5, 9] }) object!: number;
  @ApiPropertyOptional() softwareInstance?: number;
  @ApiPropertyOptional() activate?: boolean;
  @ApiProperty({ enum: ['running', 'paused', 'completed', 'aborted', 'cancelled'] }) state!: string;
  @ApiProperty({ enum: ['canary', 'rollout'] }) phase!: string;
  @ApiPropertyOptional() reason?: string;
  @ApiProperty({ type: RolloutPolicyDto }) policy!: RolloutPolicyDto;
  @ApiProperty({ description: 'ISO times' }) window!: { start?: string; end?: string };
  @ApiProperty() total!: number;
  @ApiProperty({ description: 'Devices by state' }) counts!: Record<string, number>;
  @ApiProperty({ description: 'The canary batch by state' }) canaryCounts!: Record<string, number>;
  @ApiProperty({
    description:
      'Resets of interrupted devices: owed (not acknowledged yet; the campaign ends once none is) and ' +
      'failed (given up after their attempts)',
  })
  resets!: { owed: number; failed: number };
  @ApiProperty() createdAt!: string;
  @ApiProperty() updatedAt!: string;
  @ApiPropertyOptional() endedAt?: string;
  @ApiPropertyOptional() createdBy?: string;
}

export class CampaignListDto {
  @ApiProperty({ type: [CampaignDto] }) items!: CampaignDto[];
  @ApiPropertyOptional() nextCursor?: string;
}

export class CampaignDeviceDto {
  @ApiProperty() endpoint!: string;
  @ApiProperty({ enum: [...DEVICE_RUN_STATES] }) state!: string;
  @ApiProperty() canary!: boolean;
  @ApiProperty() attempts!: number;
  @ApiPropertyOptional({ description: '/5/0/5 Update Result of a failure (or 1)' }) resultCode?: number;
  @ApiPropertyOptional() error?: string;
  @ApiPropertyOptional({ description: 'Asleep when due: started when it wakes' }) asleep?: boolean;
  @ApiPropertyOptional({
    enum: ['starting', 'downloading', 'downloaded'],
    description: 'Cancelled in flight by the cancel or abort: the state it was in (the device is reset)',
  })
  interrupted?: string;
  @ApiPropertyOptional({ description: 'Its reset is owed: not acknowledged yet (sent again with backoff)' })
  resetPending?: boolean;
  @ApiPropertyOptional({ description: 'Its reset was given up after its attempts (the error says why)' })
  resetFailed?: boolean;
  @ApiProperty() updatedAt!: string;
}

export class CampaignDeviceListDto {
  @ApiProperty({ type: [CampaignDeviceDto] }) items!: CampaignDeviceDto[];
  @ApiPropertyOptional() nextCursor?: string;
}
