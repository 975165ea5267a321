// Firmware campaigns (objects 5 and 9 rollouts, /api/v1/campaigns) with a progress bar each.
import { Section } from '../ui';
import { field, Listing, Progress, type Row } from './listing';

function counts(row: Row): { done: number; failed: number; total: number } | undefined {
  const c = (row.progress ?? row.counts ?? row) as Record<string, unknown>;
  const num = (...names: string[]) => {
    for (const n of names) if (typeof c[n] === 'number') return c[n] as number;
    return undefined;
  };
  const total = num('total', 'targets', 'devices');
  if (total === undefined) return undefined;
  return { done: num('succeeded', 'updated', 'done', 'completed') ?? 0, failed: num('failed') ?? 0, total };
}

export function CampaignsView() {
  return (
    <Section title="Firmware campaigns" id="campaigns">
      <Listing
        route="campaigns"
        what="Firmware campaigns"
        columns={[
          { label: 'Name', cell: field('name', 'id') },
          { label: 'Firmware', cell: field('firmware', 'firmwareId', 'image', 'version') },
          { label: 'State', cell: field('state', 'status') },
          {
            label: 'Progress',
            cell: (row) => {
              const c = counts(row);
              return c ? <Progress {...c} label={`Progress of campaign ${field('name', 'id')(row)}`} /> : '';
            },
          },
        ]}
      />
    </Section>
  );
}
