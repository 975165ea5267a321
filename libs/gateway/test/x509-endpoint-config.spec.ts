// X509_ENDPOINT_FROM: which certificate field names the endpoint of an X.509 client (issue 11 item 10).
import { describe, expect, it } from 'vitest';
import { validateGatewayConfig } from '../src/config';

describe('X509_ENDPOINT_FROM', () => {
  it('defaults to auto (SAN, else CN) and takes san-uri, san-dns or cn', () => {
    expect(validateGatewayConfig({}).X509_ENDPOINT_FROM).toBe('auto');
    for (const v of ['san-uri', 'san-dns', 'cn', 'auto'])
      expect(validateGatewayConfig({ X509_ENDPOINT_FROM: v }).X509_ENDPOINT_FROM).toBe(v);
  });

  it('stops the gateway on any other value, naming the variable', () => {
    expect(() => validateGatewayConfig({ X509_ENDPOINT_FROM: 'subject' })).toThrow(
      /X509_ENDPOINT_FROM must be one of auto, san-uri, san-dns, cn/,
    );
  });
});
