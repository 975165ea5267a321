// Metrics of the gateway's admission of LwM2M clients (issue 11): registrations refused by the credential
// binding and the security policy, RFC 9175 Echo challenges, and Block1 uploads evicted or refused.
import type { ScrapedMetricSpec } from './scraped';

/** Plain counters kept by libs/server (CredentialBinding) and libs/coap (EchoGuard, Block1Assembler). */
export interface Lwm2mSecurityCounters {
  /** CredentialBinding.counters: `checked` plus one count per refusal reason. */
  binding: { checked: number } & Record<string, number>;
  /** EchoGuard.counters, undefined when Echo is off. */
  echo?: { challenged: number; verified: number; invalid: number };
  /** CoapEndpoint.block1Status. */
  block1?: { transfers: number; bufferedBytes: number; evicted: number; tooLarge: number };
  /** Lwm2mServer.observationsRefused: Observe refused by MAX_OBSERVATIONS_PER_DEVICE. */
  observationsRefused?: number;
  /** libs/oscore OscoreSeam.counters: OSCORE requests and responses by result (RFC 8613 section 8). */
  oscore?: {
    requests: Partial<Record<string, number>>;
    responses: Partial<Record<string, number>>;
    protected: number;
  };
}

function byResult(counts: Partial<Record<string, number>> | undefined) {
  return (
    counts && Object.entries(counts).map(([result, value]) => ({ labels: { result }, value: value ?? 0 }))
  );
}

export function lwm2mSecurityMetricSpecs(
  read: () => Lwm2mSecurityCounters | undefined,
): ScrapedMetricSpec<string>[] {
  return [
    {
      name: 'lwm2m_registration_refusals_total',
      help: "Register, Update, De-register and Send refused with 4.03, by reason (mismatches: another endpoint's credential; insecure: NoSec for a secured endpoint; policy: NoSec under SECURITY_POLICY=require-secure)",
      type: 'counter',
      labelNames: ['reason'],
      read: () => {
        const b = read()?.binding;
        return (
          b &&
          Object.entries(b)
            .filter(([k]) => k !== 'checked')
            .map(([reason, value]) => ({ labels: { reason }, value }))
        );
      },
    },
    {
      name: 'coap_echo_total',
      help: 'RFC 9175 Echo checks of NoSec peers: challenged (4.01 sent), verified, invalid (forged, expired or another address)',
      type: 'counter',
      labelNames: ['outcome'],
      read: () => {
        const e = read()?.echo;
        return (
          e && [
            { labels: { outcome: 'challenged' }, value: e.challenged },
            { labels: { outcome: 'verified' }, value: e.verified },
            { labels: { outcome: 'invalid' }, value: e.invalid },
          ]
        );
      },
    },
    {
      name: 'oscore_requests_total',
      help: 'CoAP requests with the OSCORE option (and unprotected ones an OSCORE-only peer refused), by result: ok, context-not-found, replay, decrypt, decode, echo-required (RFC 8613 B.1.2), bad-plaintext, unprotected',
      type: 'counter',
      labelNames: ['result'],
      read: () => byResult(read()?.oscore?.requests),
    },
    {
      name: 'oscore_responses_total',
      help: 'Responses and notifications to OSCORE requests this gateway sent, by result (ok, decrypt, replay, unmatched, unprotected, ...)',
      type: 'counter',
      labelNames: ['result'],
      read: () => byResult(read()?.oscore?.responses),
    },
    {
      name: 'lwm2m_observations_refused_total',
      help: 'Observe and Observe-Composite refused (409) because the device has MAX_OBSERVATIONS_PER_DEVICE observations',
      type: 'counter',
      read: () => read()?.observationsRefused,
    },
    {
      name: 'coap_block1_evicted_total',
      help: 'Block1 uploads evicted (least recently active first) to make room for another',
      type: 'counter',
      read: () => read()?.block1?.evicted,
    },
    {
      name: 'coap_block1_too_large_total',
      help: 'Block1 uploads refused with 4.13 (per-resource, per-peer or total budget)',
      type: 'counter',
      read: () => read()?.block1?.tooLarge,
    },
    {
      name: 'coap_block1_buffered_bytes',
      help: 'Bytes buffered by Block1 uploads in progress',
      type: 'gauge',
      read: () => read()?.block1?.bufferedBytes,
    },
  ];
}
