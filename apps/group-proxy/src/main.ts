import { validateGroupProxyConfig } from './config';
import { createGroupProxyApp } from './create-group-proxy-app';

/** The group-communication proxy as its own process: CoAP on COAP_PORT, GET /health on HTTP_PORT. */
async function bootstrap(): Promise<void> {
  const config = validateGroupProxyConfig(process.env);
  const g = await createGroupProxyApp(config);
  await g.app.listen(config.HTTP_PORT);
  const stop = (): void => void g.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

bootstrap().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
