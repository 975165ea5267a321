// Fleet: the registered devices, paged by the api's cursor and filtered by endpoint substring; it re-reads
// the page when a device registers, updates or leaves (live events), so new devices appear by themselves,
// and every few seconds (presence changes with no event: a queue-mode device falls asleep). The totals by
// state are the api's, fleet-wide (counted at most once per 5 s by the api), not the page's.
import { useEffect, useRef, useState } from 'preact/hooks';
import { call } from '../api';
import { useEvents } from '../app-context';
import { ago, Section, Spinner } from '../ui';

interface DeviceSummary {
  endpoint: string;
  lwm2mVersion: string;
  binding: string;
  queueMode: boolean;
  address: string;
  lastSeen: string;
  expiresAt: string;
  security: string;
  state: 'online' | 'asleep' | 'offline';
}

interface DevicePage {
  items: DeviceSummary[];
  nextCursor: string | null;
  total?: number;
  states?: Record<(typeof STATES)[number], number>;
  statesAt?: string;
}

const PAGE_SIZES = [10, 25, 100];
const STATES = ['online', 'asleep', 'offline'] as const;
/** How often the page is read again without an event, ms (the api's state counts are up to 5 s old). */
const REFRESH_MS = 5000;

export function FleetView() {
  const [q, setQ] = useState('');
  const [stateFilter, setStateFilter] = useState('');
  const [cursors, setCursors] = useState<Array<string | undefined>>([undefined]);
  const [pageSize, setPageSize] = useState(25);
  const [page, setPage] = useState<DevicePage>();
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(false);
  const reloadTimer = useRef<ReturnType<typeof setTimeout>>(undefined);
  const cursor = cursors[cursors.length - 1];

  const load = async (quiet = false) => {
    if (!quiet) setLoading(true);
    const r = await call<DevicePage>('devices', {
      query: { limit: pageSize, q: q || undefined, cursor },
    });
    if (!quiet) setLoading(false);
    if (r.ok) {
      setPage(r.body);
      setError(undefined);
    } else setError(r.problem);
  };
  useEffect(() => {
    void load();
    const timer = setInterval(() => void load(true), REFRESH_MS);
    return () => clearInterval(timer);
  }, [q, cursor, pageSize]);
  useEvents(
    (e) => {
      if (!['registered', 'deregistered', 'expired', 'updated', 'awake'].includes(e.type)) return;
      clearTimeout(reloadTimer.current);
      reloadTimer.current = setTimeout(() => void load(), 300);
    },
    [q, cursor, pageSize],
  );

  const items = (page?.items ?? []).filter((d) => !stateFilter || d.state === stateFilter);
  const states = page?.states;
  return (
    <Section title="Fleet" id="fleet">
      <form class="filters" onSubmit={(e) => e.preventDefault()} role="search">
        <label>
          Endpoint contains{' '}
          <input
            type="search"
            value={q}
            onInput={(e) => {
              setQ((e.target as HTMLInputElement).value);
              setCursors([undefined]);
            }}
          />
        </label>
        <label>
          State{' '}
          <select value={stateFilter} onChange={(e) => setStateFilter((e.target as HTMLSelectElement).value)}>
            <option value="">all</option>
            {STATES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Per page{' '}
          <select
            value={pageSize}
            onChange={(e) => {
              setPageSize(Number((e.target as HTMLSelectElement).value));
              setCursors([undefined]);
            }}
          >
            {PAGE_SIZES.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
        {loading ? <Spinner label="Loading" /> : null}
      </form>
      <p class="totals" aria-live="polite" data-testid="totals">
        {page?.total !== undefined ? <strong>{page.total} registered in all</strong> : 'In all'}
        {states ? (
          <span title={page?.statesAt ? `counted ${ago(page.statesAt)}` : undefined}>
            : <span data-state-total="online">{states.online}</span> online,{' '}
            <span data-state-total="asleep">{states.asleep}</span> asleep,{' '}
            <span data-state-total="offline">{states.offline}</span> offline
          </span>
        ) : null}
        . This page: {page?.items.length ?? 0} devices
        {page?.nextCursor ? ' (more on the next pages)' : ''}
      </p>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      <table class="grid">
        <caption class="sr-only">Registered devices</caption>
        <thead>
          <tr>
            <th scope="col">Endpoint</th>
            <th scope="col">State</th>
            <th scope="col">Security</th>
            <th scope="col">LwM2M</th>
            <th scope="col">Binding</th>
            <th scope="col">Address</th>
            <th scope="col">Last seen</th>
          </tr>
        </thead>
        <tbody>
          {items.map((d) => (
            <tr key={d.endpoint} data-endpoint={d.endpoint}>
              <td>
                <a href={`#/devices/${encodeURIComponent(d.endpoint)}`}>{d.endpoint}</a>
              </td>
              <td>
                <span class={`badge ${d.state}`}>{d.state}</span>
              </td>
              <td>{d.security}</td>
              <td>{d.lwm2mVersion}</td>
              <td>
                {d.binding}
                {d.queueMode ? ' (queue)' : ''}
              </td>
              <td>{d.address}</td>
              <td title={d.lastSeen}>{ago(d.lastSeen)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div class="pager">
        <button type="button" disabled={cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous page
        </button>
        <span>Page {cursors.length}</span>
        <button
          type="button"
          disabled={!page?.nextCursor}
          onClick={() => page?.nextCursor && setCursors([...cursors, page.nextCursor])}
        >
          Next page
        </button>
      </div>
    </Section>
  );
}
