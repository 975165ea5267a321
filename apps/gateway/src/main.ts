import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { GatewayModule } from './gateway.module';

async function bootstrap(): Promise<void> {
  // No HTTP server in the gateway: it is a UDP front end. Shutdown hooks close the sockets on SIGTERM.
  const app = await NestFactory.createApplicationContext(GatewayModule);
  app.enableShutdownHooks();
}

void bootstrap();
