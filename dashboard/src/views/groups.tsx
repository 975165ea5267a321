// Fleet groups and the group requests run on them (the group-operations API, /api/v1/groups and
// /api/v1/group-requests).
import { Section } from '../ui';
import { field, Listing, Progress, type Row } from './listing';

function counts(row: Row): { done: number; failed: number; total: number } | undefined {
  const c = (row.counts ?? row.progress ?? row) as Record<string, unknown>;
  const num = (...names: string[]) => {
    for (const n of names) if (typeof c[n] === 'number') return c[n] as number;
    return undefined;
  };
  const total = num('total', 'targets', 'members');
  if (total === undefined) return undefined;
  return { done: num('succeeded', 'done', 'completed') ?? 0, failed: num('failed') ?? 0, total };
}

export function GroupsView() {
  return (
    <>
      <Section title="Groups" id="groups">
        <Listing
          route="groups"
          what="Groups"
          columns={[
            { label: 'Name', cell: field('name', 'id') },
            { label: 'Selector', cell: field('selector', 'filter', 'query') },
            { label: 'Members', cell: field('memberCount', 'members', 'size') },
            { label: 'Created', cell: field('createdAt') },
          ]}
        />
      </Section>
      <Section title="Group requests" id="group-requests">
        <Listing
          route="groupRequests"
          what="Group requests"
          columns={[
            { label: 'Id', cell: field('id') },
            { label: 'Group', cell: field('group', 'groupName', 'groupId') },
            { label: 'Operation', cell: field('op', 'operation') },
            { label: 'State', cell: field('state', 'status') },
            {
              label: 'Progress',
              cell: (row) => {
                const c = counts(row);
                return c ? <Progress {...c} label={`Progress of group request ${field('id')(row)}`} /> : '';
              },
            },
          ]}
        />
      </Section>
    </>
  );
}
