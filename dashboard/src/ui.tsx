// Small shared pieces: the spinner and outcome of a device operation, tables, the "not available" notice.
import type { ComponentChildren } from 'preact';
import type { ApiReply } from './api';

export function Spinner({ label = 'Waiting for the device' }: { label?: string }) {
  return (
    <span class="spinner" role="status" aria-live="polite">
      <span class="spin" aria-hidden="true" />
      {label}…
    </span>
  );
}

/** An operation's outcome: waiting, done, queued for a sleeping device (202), timed out (504), refused. */
export type Outcome =
  | { state: 'pending'; what: string }
  /** accepted: what a 202 means when it is not a request queued for a sleeping device. */
  | { state: 'done'; what: string; reply: ApiReply; accepted?: string };

export function OutcomeLine({ outcome }: { outcome: Outcome }) {
  if (outcome.state === 'pending') return <Spinner label={outcome.what} />;
  const { reply, what } = outcome;
  const body = reply.body as { requestId?: string } | undefined;
  let cls = 'ok';
  let text = `${what}: ${reply.status}`;
  if (reply.status === 202 && outcome.accepted) {
    cls = 'queued';
    text = `${what}: ${outcome.accepted}`;
  } else if (reply.status === 202) {
    cls = 'queued';
    text = `${what}: queued for the sleeping device (request ${body?.requestId ?? '?'}); delivered when it wakes up`;
  } else if (reply.status === 504) {
    cls = 'timeout';
    text = `${what}: 504, the device did not answer in time (${reply.problem ?? ''})`;
  } else if (!reply.ok) {
    cls = 'error';
    text = `${what}: ${reply.status || 'no answer'} ${reply.problem ?? ''}`;
  }
  return (
    <span class={`outcome ${cls}`} role="status">
      {text}
    </span>
  );
}

export function NotAvailable({ what }: { what: string }) {
  return (
    <p class="notice" role="note">
      {what} is not available on this server (its API answered 404: the feature is not part of this build).
    </p>
  );
}

export function Section({
  title,
  children,
  id,
}: {
  title: string;
  children: ComponentChildren;
  id?: string;
}) {
  return (
    <section class="panel" aria-labelledby={id ? `${id}-h` : undefined}>
      <h2 id={id ? `${id}-h` : undefined}>{title}</h2>
      {children}
    </section>
  );
}

export function ago(iso: string | number | undefined): string {
  if (iso === undefined) return '';
  const t = typeof iso === 'number' ? iso : Date.parse(iso);
  const s = Math.round((Date.now() - t) / 1000);
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

export function show(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
