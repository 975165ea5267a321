// A list answered by the api as {items, nextCursor} (or a bare array), shown as a table of the fields the
// caller names; 404 means the feature is not part of this server's build.
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { type ApiReply, call } from '../api';
import type { RouteName } from '../routes';
import { NotAvailable, show, Spinner } from '../ui';

export type Row = Record<string, unknown>;

export interface Column {
  label: string;
  cell: (row: Row) => ComponentChildren;
}

export function itemsOf(body: unknown): Row[] {
  if (Array.isArray(body)) return body as Row[];
  const items = (body as { items?: unknown } | undefined)?.items;
  return Array.isArray(items) ? (items as Row[]) : [];
}

export function Listing(props: { route: RouteName; what: string; columns: Column[]; refreshMs?: number }) {
  const { route, what, columns, refreshMs = 5000 } = props;
  const [reply, setReply] = useState<ApiReply>();
  useEffect(() => {
    const load = () => void call(route, { query: { limit: 100 } }).then(setReply);
    load();
    const t = setInterval(load, refreshMs);
    return () => clearInterval(t);
  }, [route]);
  if (!reply) return <Spinner label="Loading" />;
  if (reply.status === 404) return <NotAvailable what={what} />;
  if (!reply.ok)
    return (
      <p class="error" role="alert">
        {reply.problem}
      </p>
    );
  const rows = itemsOf(reply.body);
  if (rows.length === 0) return <p class="muted">No {what.toLowerCase()} yet.</p>;
  return (
    <table class="grid" data-testid={route}>
      <caption class="sr-only">{what}</caption>
      <thead>
        <tr>
          {columns.map((c) => (
            <th key={c.label} scope="col">
              {c.label}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((row, i) => (
          <tr key={show(row.id) || i}>
            {columns.map((c) => (
              <td key={c.label}>{c.cell(row)}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export const field =
  (...names: string[]) =>
  (row: Row): string => {
    for (const n of names) if (row[n] !== undefined) return show(row[n]);
    return '';
  };

/** A progress bar from counts: done (and failed) of total. */
export function Progress({
  done,
  failed = 0,
  total,
  label,
}: {
  done: number;
  failed?: number;
  total: number;
  label: string;
}) {
  const pct = total > 0 ? Math.round(((done + failed) / total) * 100) : 0;
  return (
    <span class="progress-cell">
      <progress max={total || 1} value={done + failed} aria-label={label}>
        {pct}%
      </progress>{' '}
      {done}/{total}
      {failed ? `, ${failed} failed` : ''}
    </span>
  );
}
