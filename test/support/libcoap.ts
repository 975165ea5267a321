// Runs libcoap's command-line client (Debian package libcoap3-bin), a CoAP peer nobody here wrote.
import { execFile } from 'node:child_process';

export interface CoapClientRun {
  stdout: string;
  stderr: string;
  code: number | null;
}

/** `coap-client-<flavour> ...args`; resolves when it exits (never rejects on a non-zero exit). */
export function runCoapClient(
  args: string[],
  flavour: 'notls' | 'openssl' | 'gnutls' = 'notls',
  timeoutMs = 20_000,
): Promise<CoapClientRun> {
  const bin = `coap-client-${flavour}`;
  return new Promise((resolve, reject) => {
    execFile(
      bin,
      args,
      { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
          reject(
            new Error(
              `${bin} not found: install Debian's libcoap3-bin (apt-get install libcoap3-bin); .ci/run does`,
            ),
          );
          return;
        }
        resolve({ stdout, stderr, code: err ? ((err as { code?: number }).code ?? null) : 0 });
      },
    );
  });
}
