import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { CoapServerService } from './coap-server.service';
import { validateGatewayConfig } from './config';

@Module({
  imports: [ConfigModule.forRoot({ isGlobal: true, validate: validateGatewayConfig, ignoreEnvFile: true })],
  providers: [CoapServerService],
  exports: [CoapServerService],
})
export class GatewayModule {}
