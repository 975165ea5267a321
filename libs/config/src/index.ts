// Public API of @lwm2m/config: environment parsing shared by the apps.
export * from './env';
