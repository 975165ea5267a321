// Live events: what the event stream carries, newest first, filtered by endpoint and type.
import { useState } from 'preact/hooks';
import { EVENT_TYPES, type LiveEvent } from '../api';
import { useApp, useEvents } from '../app-context';
import { Section } from '../ui';

const SHOWN = 200;

function summary(e: LiveEvent): string {
  const { id: _id, type: _t, endpoint: _e, at: _a, registration: _r, ...rest } = e;
  return JSON.stringify(rest).slice(0, 300);
}

export function EventsView() {
  const { recent } = useApp();
  const [events, setEvents] = useState<LiveEvent[]>(() => [...recent()].reverse());
  const [endpoint, setEndpoint] = useState('');
  const [type, setType] = useState('');
  const [paused, setPaused] = useState(false);
  useEvents(
    (e) => {
      if (!paused) setEvents((l) => [e, ...l].slice(0, 500));
    },
    [paused],
  );
  const shown = events
    .filter((e) => (!endpoint || (e.endpoint ?? '').includes(endpoint)) && (!type || e.type === type))
    .slice(0, SHOWN);
  return (
    <Section title="Live events" id="events">
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label>
          Endpoint contains{' '}
          <input
            type="search"
            value={endpoint}
            onInput={(e) => setEndpoint((e.target as HTMLInputElement).value)}
          />
        </label>
        <label>
          Type{' '}
          <select value={type} onChange={(e) => setType((e.target as HTMLSelectElement).value)}>
            <option value="">all</option>
            {EVENT_TYPES.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        <button type="button" aria-pressed={paused} onClick={() => setPaused(!paused)}>
          {paused ? 'Resume' : 'Pause'}
        </button>
      </form>
      <table class="grid compact" data-testid="events">
        <caption class="sr-only">Events, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Type</th>
            <th scope="col">Endpoint</th>
            <th scope="col">Details</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((e) => (
            <tr key={e.id} data-type={e.type}>
              <td>{typeof e.at === 'number' ? new Date(e.at).toLocaleTimeString() : ''}</td>
              <td>{e.type}</td>
              <td>
                {e.endpoint ? <a href={`#/devices/${encodeURIComponent(e.endpoint)}`}>{e.endpoint}</a> : ''}
              </td>
              <td class="mono">{summary(e)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Section>
  );
}
