// Bodies and answers of /api/v1/devices/{endpoint}/credentials (LwM2M TS 1.2 Transport 5.2 security modes).
// Answers never carry the pre-shared key.
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsOptional, IsString, Matches, MaxLength, MinLength, ValidateNested } from 'class-validator';

export class PskBodyDto {
  @ApiProperty({
    example: 'urn:imei:490154203237518',
    description: 'PSK identity (RFC 4279), 1..128 bytes UTF-8',
  })
  @IsString()
  @MinLength(1)
  @MaxLength(128)
  identity!: string;

  @ApiProperty({
    example: '000102030405060708090a0b0c0d0e0f',
    description: 'The pre-shared key, hex, 1..64 bytes. Write-only: no answer ever contains it.',
    writeOnly: true,
  })
  @IsString()
  @Matches(/^(?:[0-9a-fA-F]{2}){1,64}$/, { message: 'key must be 1..64 bytes of hex' })
  key!: string;
}

export class RpkBodyDto {
  @ApiProperty({
    description:
      'P-256 public key: PEM SubjectPublicKeyInfo ("-----BEGIN PUBLIC KEY-----") or hex / base64 of its DER',
  })
  @IsString()
  @MaxLength(4096)
  publicKey!: string;
}

export class X509BodyDto {
  @ApiPropertyOptional({
    description:
      'The identity value the client certificate must carry: a SAN URI or DNS name, or the subject CN, as the ' +
      "gateway's X509_ENDPOINT_FROM selects (auto: the SAN when the certificate has one, else the CN); " +
      'default: the endpoint name (the LwM2M convention)',
  })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(255)
  subject?: string;
}

const HEX = (min: number, max: number) => new RegExp(`^(?:[0-9a-fA-F]{2}){${min},${max}}$`);

/**
 * RFC 8613 section 3.2 input parameters (LwM2M object 21), from the SERVER's point of view: `senderId` is
 * the server's Sender ID (the device's Recipient ID), `recipientId` the device's Sender ID (the kid of its
 * requests). On the device, the two are the other way round.
 */
export class OscoreBodyDto {
  @ApiProperty({
    example: '0102030405060708090a0b0c0d0e0f10',
    description: 'Master Secret, hex, 16..64 bytes. Write-only: sealed at rest, never returned.',
    writeOnly: true,
  })
  @IsString()
  @Matches(HEX(16, 64), { message: 'masterSecret must be 16..64 bytes of hex' })
  masterSecret!: string;

  @ApiPropertyOptional({
    description: 'Master Salt, hex, 0..64 bytes (default empty). Write-only.',
    writeOnly: true,
  })
  @IsOptional()
  @IsString()
  @Matches(HEX(0, 64), { message: 'masterSalt must be 0..64 bytes of hex' })
  masterSalt?: string;

  @ApiProperty({
    example: '01',
    description: "The server's Sender ID, hex, 0..7 bytes (the device's Recipient ID)",
  })
  @IsString()
  @Matches(HEX(0, 7), { message: 'senderId must be 0..7 bytes of hex' })
  senderId!: string;

  @ApiProperty({
    example: '02',
    description:
      "The server's Recipient ID, hex, 0..7 bytes: the device's Sender ID, the kid of its requests; unique " +
      'across endpoints (409 otherwise)',
  })
  @IsString()
  @Matches(HEX(0, 7), { message: 'recipientId must be 0..7 bytes of hex' })
  recipientId!: string;

  @ApiPropertyOptional({ description: 'ID Context, hex, 0..32 bytes (default none)' })
  @IsOptional()
  @IsString()
  @Matches(HEX(0, 32), { message: 'idContext must be 0..32 bytes of hex' })
  idContext?: string;

  @ApiPropertyOptional({
    description:
      'AEAD algorithm, COSE id: 10 (AES-CCM-16-64-128, default), 11, 30, 1 (A128GCM), 3, 24 (ChaCha20/Poly1305)',
  })
  @IsOptional()
  @IsIn([10, 11, 30, 1, 3, 24])
  aead?: number;

  @ApiPropertyOptional({ enum: ['sha256', 'sha512'], description: 'HKDF hash (default sha256)' })
  @IsOptional()
  @IsIn(['sha256', 'sha512'])
  hkdf?: 'sha256' | 'sha512';
}

export class CredentialsBodyDto {
  @ApiPropertyOptional({ type: OscoreBodyDto, description: 'OSCORE (RFC 8613) on CoAP 5683' })
  @IsOptional()
  @ValidateNested()
  @Type(() => OscoreBodyDto)
  oscore?: OscoreBodyDto;

  @ApiPropertyOptional({ type: PskBodyDto, description: 'Pre-Shared Key mode' })
  @IsOptional()
  @ValidateNested()
  @Type(() => PskBodyDto)
  psk?: PskBodyDto;

  @ApiPropertyOptional({ type: RpkBodyDto, description: 'Raw Public Key mode (RFC 7250)' })
  @IsOptional()
  @ValidateNested()
  @Type(() => RpkBodyDto)
  rpk?: RpkBodyDto;

  @ApiPropertyOptional({
    type: X509BodyDto,
    description: 'Certificate mode; the chain is checked by the DTLS trust anchors',
  })
  @IsOptional()
  @ValidateNested()
  @Type(() => X509BodyDto)
  x509?: X509BodyDto;
}

export class CredentialsDto {
  @ApiProperty({ enum: ['psk', 'rpk', 'x509', 'oscore'] })
  type!: 'psk' | 'rpk' | 'x509' | 'oscore';
  @ApiPropertyOptional({ description: 'psk: the identity (the key is never returned)' })
  identity?: string;
  @ApiPropertyOptional({ description: 'rpk: the public key as PEM SubjectPublicKeyInfo' })
  publicKey?: string;
  @ApiPropertyOptional({ description: 'x509: the identity value (SAN or CN) the certificate must carry' })
  subject?: string;
  @ApiPropertyOptional({
    description:
      'oscore: senderId, recipientId, idContext (hex), aead, hkdf and keySet: true; never the Master Secret or Salt',
  })
  oscore?: {
    senderId: string;
    recipientId: string;
    idContext?: string;
    aead?: number;
    hkdf?: string;
    keySet: true;
  };
}
