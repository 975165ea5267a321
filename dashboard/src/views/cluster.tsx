// Cluster nodes (sessions per node) and the counters that tell how the cluster works: CID records forwarded
// between nodes, sessions taken over, and registrations and notifications per minute, charted from the
// Prometheus text of /metrics (sampled every few seconds while the view is open).
import { useEffect, useRef, useState } from 'preact/hooks';
import { call } from '../api';
import { LineChart } from '../chart';
import { ago, Section, Spinner } from '../ui';

interface Node {
  id: number;
  name: string;
  sessions: number;
  link: string;
  startedAt: string;
  seenAt: string;
}

const SAMPLE_MS = 5000;
const KEEP = 120;

/** Sums the samples of one metric in Prometheus text, optionally only those whose labels include `label`. */
export function metricSum(text: string, name: string, label?: string): number | undefined {
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    if (label && !rest.includes(label)) continue;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (!isNaN(v)) sum = (sum ?? 0) + v;
  }
  return sum;
}

interface Sample {
  t: number;
  registered: number;
  notifications: number;
  forwarded?: number;
  takeovers?: number;
}

export function ClusterView() {
  const [nodes, setNodes] = useState<Node[]>();
  const [samples, setSamples] = useState<Sample[]>([]);
  const [metricsError, setMetricsError] = useState<string>();
  const timer = useRef<ReturnType<typeof setInterval>>(undefined);
  useEffect(() => {
    const tick = async () => {
      void call<Node[]>('clusterNodes').then((r) => r.ok && setNodes(r.body));
      const m = await call<string>('metrics');
      if (!m.ok || typeof m.body !== 'string') return setMetricsError(m.problem ?? 'no metrics');
      const text = m.body;
      setSamples((s) =>
        [
          ...s,
          {
            t: Date.now(),
            registered: metricSum(text, 'lwm2m_events_total', 'type="registered"') ?? 0,
            notifications: metricSum(text, 'lwm2m_events_total', 'type="notification"') ?? 0,
            forwarded: metricSum(text, 'dtls_cid_forwarded_total'),
            takeovers: metricSum(text, 'dtls_session_takeovers_total'),
          },
        ].slice(-KEEP),
      );
    };
    void tick();
    timer.current = setInterval(() => void tick(), SAMPLE_MS);
    return () => clearInterval(timer.current);
  }, []);

  // Per-minute rates between consecutive samples.
  const rate = (k: 'registered' | 'notifications') =>
    samples.slice(1).map((s, i) => ({
      t: s.t,
      v: Math.max(0, ((s[k] - samples[i][k]) * 60_000) / (s.t - samples[i].t)),
    }));
  const last = samples[samples.length - 1];
  return (
    <>
      <Section title="Cluster nodes" id="nodes">
        {!nodes ? (
          <Spinner label="Loading" />
        ) : nodes.length === 0 ? (
          <p class="muted">No gateway runs in cluster mode (a single node has no cluster membership).</p>
        ) : (
          <table class="grid" data-testid="nodes">
            <caption class="sr-only">Live gateway nodes</caption>
            <thead>
              <tr>
                <th scope="col">Id</th>
                <th scope="col">Name</th>
                <th scope="col">DTLS sessions</th>
                <th scope="col">Link</th>
                <th scope="col">Started</th>
                <th scope="col">Seen</th>
              </tr>
            </thead>
            <tbody>
              {nodes.map((n) => (
                <tr key={n.id}>
                  <td>{n.id}</td>
                  <td>{n.name}</td>
                  <td>{n.sessions}</td>
                  <td>{n.link}</td>
                  <td>{ago(n.startedAt)}</td>
                  <td>{ago(n.seenAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <dl class="facts">
          <dt>CID records forwarded between nodes</dt>
          <dd>{last?.forwarded ?? 'not measured by this process'}</dd>
          <dt>Sessions taken over</dt>
          <dd>{last?.takeovers ?? 'not measured by this process'}</dd>
        </dl>
      </Section>
      <Section title="Activity" id="activity">
        {metricsError ? <p class="error">{metricsError}</p> : null}
        <LineChart
          title="Events per minute (from /metrics)"
          series={[
            { label: 'registrations', points: rate('registered'), className: 's0' },
            { label: 'notifications', points: rate('notifications'), className: 's1' },
          ]}
        />
        <p class="hint">Sampled every {SAMPLE_MS / 1000} s while this view is open.</p>
      </Section>
    </>
  );
}
