// @ts-check
import eslint from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

// A lib is used through its index (@lwm2m/<lib>), never by a file inside it: what a lib offers is what it
// exports, so its files can move without breaking the others.
const noDeepImports = {
  group: ['@lwm2m/*/**'],
  message: 'Import the lib itself (@lwm2m/<lib>); export what you need from its index.',
};

// libs/gateway assembles the others into the gateway stack: no lib builds on it (apps, tests and benches do).
const notGateway = {
  group: ['@lwm2m/gateway'],
  message: 'libs/gateway is the top of the libs; only apps, tests and benches build on it.',
};

// Protocol libraries stay framework-free and I/O-free: they talk through small interfaces
// (a datagram transport, a store). See STYLE.md, "Direction of imports".
const frameworkFree = {
  patterns: [
    noDeepImports,
    notGateway,
    { group: ['@nestjs/*'], message: 'libs/ protocol code must not import NestJS; wire it in apps/.' },
    { group: ['ioredis', 'bullmq'], message: 'Stores live in their own lib behind an interface.' },
    {
      group: ['dgram', 'node:dgram', 'net', 'node:net'],
      message: 'Protocol libs talk through a transport interface; sockets live in libs/udp.',
    },
  ],
};

const belowCoap = {
  group: ['@lwm2m/coap', '@lwm2m/coap/*'],
  message: 'Below CoAP: import @lwm2m/transport.',
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    languageOptions: { globals: { __dirname: 'readonly', process: 'readonly', console: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
      'no-restricted-imports': ['error', { patterns: [noDeepImports] }],
    },
  },
  {
    files: [
      'libs/bytes/src/**/*.ts',
      'libs/coap/src/**/*.ts',
      'libs/lwm2m/src/**/*.ts',
      'libs/server/src/**/*.ts',
      'libs/simulator/src/**/*.ts',
      'libs/dtls/src/**/*.ts',
      'libs/group-observe/src/**/*.ts',
      'libs/group-proxy/src/**/*.ts',
      'libs/config/src/**/*.ts',
      'libs/cluster/src/**/*.ts',
      'libs/metrics/src/**/*.ts',
      'libs/oscore/src/**/*.ts',
      'libs/gateway/src/**/*.ts',
      'libs/bootstrap/src/**/*.ts',
      'libs/groups/src/**/*.ts',
      'libs/firmware/src/**/*.ts',
    ],
    rules: {
      'no-restricted-imports': ['error', frameworkFree],
      // Not in apps/: emitDecoratorMetadata needs the value import of an injected class.
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    },
  },
  {
    // The datagram seam (DESIGN.md "The seams"): DTLS, UDP and the cluster link sit below CoAP and know
    // nothing of it; libs/transport, the ground floor, imports no other lib.
    files: ['libs/dtls/src/**/*.ts', 'libs/cluster/src/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [...frameworkFree.patterns, belowCoap] }] },
  },
  {
    // libs/udp owns the sockets (node:dgram) and is below CoAP too.
    files: ['libs/udp/src/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [noDeepImports, notGateway, belowCoap] }] },
  },
  {
    // OSCORE (RFC 8613) is pure message protection: bytes, CoAP's message shape and codec, cbor-x,
    // node:crypto and @noble/curves. Sessions, stores and the gateway wire it in from outside.
    files: ['libs/oscore/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...frameworkFree.patterns,
            {
              group: ['@lwm2m/*', '!@lwm2m/bytes', '!@lwm2m/bytes/*', '!@lwm2m/coap', '!@lwm2m/coap/*'],
              message: 'libs/oscore imports only @lwm2m/bytes and @lwm2m/coap.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['libs/transport/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...frameworkFree.patterns,
            { group: ['@lwm2m/*'], message: 'libs/transport is the ground floor: it imports no other lib.' },
          ],
        },
      ],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    },
  },
  {
    files: ['**/*.spec.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
