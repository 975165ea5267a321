// Fleet groups and the requests run across them (the group-operations API: /api/v1/groups,
// /api/v1/group-requests/{id}). The api lists groups but not requests: the page follows the requests started
// from it (and any looked up by id) for this tab's session, polling each until it is final.
import { useEffect, useState } from 'preact/hooks';
import { type ApiReply, call } from '../api';
import { useCan } from '../app-context';
import { NotAvailable, OutcomeLine, type Outcome, Section, show, Spinner } from '../ui';
import { otherCounts, Progress } from './progress';

interface Group {
  name: string;
  kind: 'filter' | 'endpoints' | 'multicast';
  filter?: { q: string };
  endpoints?: string[];
  multicast?: { address: string; port: number };
  createdAt: string;
  createdBy: string;
}

interface GroupRequest {
  id: string;
  group: string;
  op: string;
  path: string;
  state: 'running' | 'cancelling' | 'completed' | 'cancelled';
  createdAt: string;
  deadline: string;
  createdBy: string;
  total: number;
  progress: Record<string, number>;
}

const TRACKED = 'lwm2m.groupRequests';
const POLL_MS = 2000;
const OPS = ['read', 'observe', 'write', 'execute'] as const;

function tracked(): string[] {
  try {
    return JSON.parse(sessionStorage.getItem(TRACKED) ?? '[]') as string[];
  } catch {
    return [];
  }
}
function track(id: string): void {
  sessionStorage.setItem(TRACKED, JSON.stringify([id, ...tracked().filter((x) => x !== id)].slice(0, 20)));
}

function members(g: Group): string {
  if (g.kind === 'filter') return `endpoints containing "${g.filter?.q ?? ''}"`;
  if (g.kind === 'endpoints')
    return `${g.endpoints?.length ?? 0} endpoints: ${(g.endpoints ?? []).slice(0, 5).join(', ')}${(g.endpoints?.length ?? 0) > 5 ? ', …' : ''}`;
  return `multicast ${g.multicast?.address}:${g.multicast?.port}`;
}

export function GroupsView() {
  const can = useCan();
  const [groups, setGroups] = useState<ApiReply<{ items: Group[] }>>();
  const [ids, setIds] = useState<string[]>(tracked);
  const [lookup, setLookup] = useState('');
  const [outcome, setOutcome] = useState<Outcome>();
  useEffect(() => {
    void call<{ items: Group[] }>('groups').then(setGroups);
  }, []);

  if (!groups) return <Spinner label="Loading" />;
  if (groups.status === 404) return <NotAvailable what="Group operations" />;

  const follow = (id: string) => {
    track(id);
    setIds(tracked());
  };
  return (
    <>
      <Section title="Groups" id="groups">
        {!groups.ok ? (
          <p class="error" role="alert">
            {groups.problem}
          </p>
        ) : groups.body.items.length === 0 ? (
          <p class="muted">No group defined (POST /api/v1/groups).</p>
        ) : (
          <table class="grid" data-testid="groups">
            <caption class="sr-only">Groups</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Members</th>
                <th scope="col">Created</th>
                {can('groupOperation') ? <th scope="col">Run across the group</th> : null}
              </tr>
            </thead>
            <tbody>
              {groups.body.items.map((g) => (
                <tr key={g.name}>
                  <td>{g.name}</td>
                  <td>{members(g)}</td>
                  <td>
                    {new Date(g.createdAt).toLocaleString()} by {g.createdBy}
                  </td>
                  {can('groupOperation') ? (
                    <td>
                      <GroupOperationForm
                        group={g.name}
                        onStarted={(o, id) => {
                          setOutcome(o);
                          if (id) follow(id);
                        }}
                      />
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {outcome ? <OutcomeLine outcome={outcome} /> : null}
      </Section>
      <Section title="Group requests" id="group-requests">
        <form
          class="filters"
          onSubmit={(e) => {
            e.preventDefault();
            if (lookup.trim()) follow(lookup.trim());
          }}
        >
          <label>
            Request id{' '}
            <input value={lookup} onInput={(e) => setLookup((e.target as HTMLInputElement).value)} />
          </label>
          <button type="submit">Follow</button>
        </form>
        {ids.length === 0 ? <p class="muted">None followed in this tab yet.</p> : null}
        {ids.map((id) => (
          <GroupRequestRow key={id} id={id} />
        ))}
      </Section>
    </>
  );
}

function GroupOperationForm({
  group,
  onStarted,
}: {
  group: string;
  onStarted: (o: Outcome, id?: string) => void;
}) {
  const [op, setOp] = useState<(typeof OPS)[number]>('read');
  const [path, setPath] = useState('/3/0/0');
  const [value, setValue] = useState('');
  return (
    <form
      class="inline"
      onSubmit={async (e) => {
        e.preventDefault();
        const what = `${op} ${path} across ${group}`;
        onStarted({ state: 'pending', what });
        const body =
          op === 'write' ? { path, value } : op === 'execute' && value ? { path, args: value } : { path };
        const r = await call<GroupRequest>('groupOperation', { params: { name: group, op }, body });
        const accepted = r.ok ? `started, request ${r.body.id} (followed below)` : undefined;
        onStarted(
          { state: 'done', what, reply: r, ...(accepted ? { accepted } : {}) },
          r.ok ? r.body.id : undefined,
        );
      }}
    >
      <label>
        <span class="sr-only">Operation on {group}</span>
        <select
          value={op}
          onChange={(e) => setOp((e.target as HTMLSelectElement).value as (typeof OPS)[number])}
        >
          {OPS.map((o) => (
            <option key={o}>{o}</option>
          ))}
        </select>
      </label>
      <label>
        <span class="sr-only">Path for {group}</span>
        <input value={path} size={10} onInput={(e) => setPath((e.target as HTMLInputElement).value)} />
      </label>
      {op === 'write' || op === 'execute' ? (
        <label>
          <span class="sr-only">
            {op === 'write' ? 'Value' : 'Arguments'} for {group}
          </span>
          <input
            value={value}
            size={8}
            placeholder={op === 'write' ? 'value' : 'args'}
            onInput={(e) => setValue((e.target as HTMLInputElement).value)}
          />
        </label>
      ) : null}
      <button type="submit" aria-label={`Start on group ${group}`}>
        Start
      </button>
    </form>
  );
}

function GroupRequestRow({ id }: { id: string }) {
  const can = useCan();
  const [reply, setReply] = useState<ApiReply<GroupRequest>>();
  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      const r = await call<GroupRequest>('groupRequest', { params: { id }, query: { limit: 1 } });
      if (stop) return;
      setReply(r);
      if (r.ok && (r.body.state === 'running' || r.body.state === 'cancelling'))
        timer = setTimeout(() => void load(), POLL_MS);
    };
    void load();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [id]);
  if (!reply) return <Spinner label={`Loading ${id}`} />;
  if (!reply.ok)
    return (
      <p class="error">
        {id}: {reply.problem}
      </p>
    );
  const g = reply.body;
  const p = g.progress;
  const failed = (p.failed ?? 0) + (p.timedOut ?? 0) + (p.cancelled ?? 0);
  return (
    <div class="group-request" data-state={g.state}>
      <strong>
        {g.op} {g.path}
      </strong>{' '}
      on {g.group} <span class={`badge ${g.state}`}>{g.state}</span>{' '}
      <Progress
        succeeded={p.succeeded ?? 0}
        failed={failed}
        total={g.total}
        label={`Progress of ${g.op} ${g.path} on ${g.group}`}
        detail={otherCounts(p, ['succeeded', 'failed', 'timedOut', 'cancelled'])}
      />{' '}
      <span class="muted">
        {show(g.id)}, by {g.createdBy}
      </span>{' '}
      {can('cancelGroupRequest') && g.state === 'running' ? (
        <button
          type="button"
          onClick={() => void call<GroupRequest>('cancelGroupRequest', { params: { id } }).then(setReply)}
        >
          Cancel
        </button>
      ) : null}
    </div>
  );
}
