import { validateGroupObserverConfig } from './config';
import { createGroupObserverApp } from './create-group-observer-app';

/** The group-observer as its own process (cluster mode): CoAP on COAP_PORT, REST on HTTP_PORT. */
async function bootstrap(): Promise<void> {
  const config = validateGroupObserverConfig(process.env);
  const g = await createGroupObserverApp(config);
  await g.app.listen(config.HTTP_PORT);
  const stop = (): void => void g.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

bootstrap().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
