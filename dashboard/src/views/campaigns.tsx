// Firmware campaigns (objects 5 and 9 rollouts: /api/v1/campaigns, images from /api/v1/firmware), each with a
// progress bar of its devices by state; write keys may pause, resume and cancel.
import { useEffect, useState } from 'preact/hooks';
import { type ApiReply, call } from '../api';
import { useCan } from '../app-context';
import { NotAvailable, Section, Spinner } from '../ui';
import { otherCounts, Progress } from './progress';

interface Campaign {
  id: string;
  name?: string;
  imageId: string;
  mode: 'push' | 'pull';
  state: 'running' | 'paused' | 'completed' | 'aborted' | 'cancelled';
  phase: 'canary' | 'rollout';
  reason?: string;
  total: number;
  counts: Record<string, number>;
  /** Resets owed to interrupted devices, and given up; `draining`: stopped, not ended until none is owed. */
  resets?: { owed: number; failed: number };
  draining?: boolean;
  createdAt: string;
  createdBy?: string;
}
interface FirmwareImage {
  id: string;
  name: string;
  version: string;
}

const POLL_MS = 3000;

export function CampaignsView() {
  const can = useCan();
  const [list, setList] = useState<ApiReply<{ items: Campaign[] }>>();
  const [images, setImages] = useState<Record<string, FirmwareImage>>({});
  const [error, setError] = useState<string>();
  const load = () => void call<{ items: Campaign[] }>('campaigns', { query: { limit: 100 } }).then(setList);
  useEffect(() => {
    load();
    void call<{ items: FirmwareImage[] }>('firmwareImages').then(
      (r) => r.ok && setImages(Object.fromEntries(r.body.items.map((i) => [i.id, i]))),
    );
    const t = setInterval(load, POLL_MS);
    return () => clearInterval(t);
  }, []);
  const act = async (route: 'pauseCampaign' | 'resumeCampaign' | 'cancelCampaign', id: string) => {
    const r = await call(route, { params: { id } });
    setError(r.ok ? undefined : r.problem);
    load();
  };

  return (
    <Section title="Firmware campaigns" id="campaigns">
      {!list ? (
        <Spinner label="Loading" />
      ) : list.status === 404 ? (
        <NotAvailable what="Firmware campaigns" />
      ) : !list.ok ? (
        <p class="error" role="alert">
          {list.problem}
        </p>
      ) : list.body.items.length === 0 ? (
        <p class="muted">No campaign yet (POST /api/v1/campaigns).</p>
      ) : (
        <table class="grid" data-testid="campaigns">
          <caption class="sr-only">Campaigns, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Campaign</th>
              <th scope="col">Image</th>
              <th scope="col">State</th>
              <th scope="col">Progress</th>
              {can('pauseCampaign') ? <th scope="col">Actions</th> : null}
            </tr>
          </thead>
          <tbody>
            {list.body.items.map((c) => {
              const img = images[c.imageId];
              const failed =
                (c.counts.failed ?? 0) + (c.counts['timed-out'] ?? 0) + (c.counts.cancelled ?? 0);
              return (
                <tr key={c.id} data-state={c.state}>
                  <td>
                    {c.name ?? c.id}
                    <div class="muted">
                      {c.mode}, {new Date(c.createdAt).toLocaleString()}
                      {c.createdBy ? ` by ${c.createdBy}` : ''}
                    </div>
                  </td>
                  <td>{img ? `${img.name} ${img.version}` : c.imageId}</td>
                  <td>
                    <span class={`badge ${c.state}`}>{c.state}</span> {c.phase}
                    {c.draining ? ' (draining)' : ''}
                    {c.reason ? <div class="muted">{c.reason}</div> : null}
                    {c.resets && (c.resets.owed > 0 || c.resets.failed > 0) ? (
                      <div class="muted">
                        resets: {c.resets.owed} owed, {c.resets.failed} given up
                      </div>
                    ) : null}
                  </td>
                  <td>
                    <Progress
                      succeeded={c.counts.succeeded ?? 0}
                      failed={failed}
                      total={c.total}
                      label={`Progress of campaign ${c.name ?? c.id}`}
                      detail={otherCounts(c.counts, ['succeeded', 'failed', 'timed-out', 'cancelled'])}
                    />
                  </td>
                  {can('pauseCampaign') ? (
                    <td class="actions">
                      {c.state === 'running' ? (
                        <button type="button" onClick={() => void act('pauseCampaign', c.id)}>
                          Pause
                        </button>
                      ) : null}
                      {c.state === 'paused' ? (
                        <button type="button" onClick={() => void act('resumeCampaign', c.id)}>
                          Resume
                        </button>
                      ) : null}
                      {c.state === 'running' || c.state === 'paused' ? (
                        <button
                          type="button"
                          class="danger"
                          onClick={() =>
                            confirm(`Cancel campaign ${c.name ?? c.id}?`) && void act('cancelCampaign', c.id)
                          }
                        >
                          Cancel
                        </button>
                      ) : null}
                    </td>
                  ) : null}
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
    </Section>
  );
}
