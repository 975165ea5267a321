// Shapes of /api/v1/firmware (images) and /api/v1/devices/{endpoint}/firmware (an update of one device).
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Length, Matches } from 'class-validator';

export class FirmwareImageDto {
  @ApiProperty({ example: '3f1c9a4e-8a43-4c39-9f3a-1f0b2f5d7a10' })
  id!: string;
  @ApiProperty({ example: 'sensor-fw' })
  name!: string;
  @ApiProperty({ example: '2.1.0' })
  version!: string;
  @ApiProperty({ example: 1048576, description: 'Bytes' })
  size!: number;
  @ApiProperty({ example: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08' })
  sha256!: string;
  @ApiProperty({ example: '2026-12-03T15:00:00.000Z' })
  created!: string;
}

export class FirmwareListDto {
  @ApiProperty({ type: [FirmwareImageDto] })
  items!: FirmwareImageDto[];
}

export class FirmwareUploadQueryDto {
  @ApiProperty({ example: 'sensor-fw' })
  @IsString()
  @Length(1, 255)
  name!: string;
  @ApiProperty({ example: '2.1.0' })
  @IsString()
  @Length(1, 255)
  version!: string;
}

export class DeviceFirmwareDto {
  @ApiProperty({ description: 'The image (GET /api/v1/firmware)' })
  @IsString()
  @Length(1, 64)
  imageId!: string;
  @ApiProperty({
    enum: ['push', 'pull'],
    description:
      'push: the gateway writes the image to /5/0/0 block-wise (Block1), resumable; pull: the Package URI ' +
      '(/5/0/1) is written and the device fetches it with Block2 (or HTTP)',
  })
  @IsIn(['push', 'pull'])
  mode!: 'push' | 'pull';
  @ApiPropertyOptional({
    description:
      'pull: the Package URI to write (default FIRMWARE_COAP_BASE + /fw/{imageId}); coap, coaps, http or https',
    example: 'coaps://gw.example.com:5684/fw/3f1c9a4e-8a43-4c39-9f3a-1f0b2f5d7a10',
  })
  @IsOptional()
  @IsString()
  @Length(1, 255)
  @Matches(/^(coaps?|https?):\/\/\S+$/)
  packageUri?: string;
}

export class DeviceFirmwareStartedDto {
  @ApiProperty({ enum: ['push', 'pull'] })
  mode!: 'push' | 'pull';
  @ApiProperty()
  imageId!: string;
  @ApiPropertyOptional({ description: 'pull: the Package URI written to /5/0/1' })
  packageUri?: string;
  @ApiProperty({ description: 'The request id of the command' })
  requestId!: string;
  @ApiProperty({
    description: '202: the push runs (or the request is queued for a sleeping device); 200: written',
  })
  status!: number;
}

export class PushProgressDto {
  @ApiProperty()
  imageId!: string;
  @ApiProperty()
  sha256!: string;
  @ApiProperty()
  size!: number;
  @ApiProperty({ description: 'Bytes the device acknowledged' })
  acked!: number;
  @ApiProperty({ enum: ['pushing', 'done', 'failed'] })
  state!: string;
  @ApiPropertyOptional()
  coapCode?: string;
  @ApiPropertyOptional()
  error?: string;
  @ApiProperty({ description: 'ms since epoch' })
  updatedAt!: number;
}
