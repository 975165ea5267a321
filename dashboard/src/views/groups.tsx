// Fleet groups and the requests run across them (the group-operations API: /api/v1/groups,
// /api/v1/group-requests). The recent requests, newest first with their progress, come from the api's list
// (re-read every few seconds); a request looked up by id is followed for this tab's session, polled until it
// is final.
import { useEffect, useState } from 'preact/hooks';
import { type ApiReply, call } from '../api';
import { useCan } from '../app-context';
import { ago, NotAvailable, OutcomeLine, type Outcome, Section, show, Spinner } from '../ui';
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
const RECENT = 20;
const REQUEST_STATES = ['running', 'cancelling', 'completed', 'cancelled'] as const;
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
  /** Bumped when a request starts here: the recent list reads again at once. */
  const [started, setStarted] = useState(0);
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
                          if (id) setStarted((n) => n + 1);
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
      <Section title="Recent group requests" id="recent-group-requests">
        <RecentRequests groups={groups.ok ? groups.body.items.map((g) => g.name) : []} started={started} />
      </Section>
      <Section title="Follow a group request" id="group-requests">
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
        {ids.length === 0 ? <p class="muted">None followed in this tab.</p> : null}
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
        const accepted = r.ok ? `started, request ${r.body.id} (in the recent requests below)` : undefined;
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

interface RequestPage {
  items: GroupRequest[];
  nextCursor: string | null;
}

/** The api's list of group requests, newest first, by group and state, paged by its cursor. */
function RecentRequests({ groups, started }: { groups: string[]; started: number }) {
  const [group, setGroup] = useState('');
  const [state, setState] = useState('');
  const [cursors, setCursors] = useState<Array<string | undefined>>([undefined]);
  const [reply, setReply] = useState<ApiReply<RequestPage>>();
  /** Bumped by a cancel here: the list reads again at once. */
  const [changed, setChanged] = useState(0);
  const cursor = cursors[cursors.length - 1];
  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      const r = await call<RequestPage>('groupRequests', {
        query: { limit: RECENT, group: group || undefined, state: state || undefined, cursor },
      });
      if (stop) return;
      setReply(r);
      timer = setTimeout(() => void load(), POLL_MS);
    };
    void load();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [group, state, cursor, started, changed]);
  const reset = () => setCursors([undefined]);
  return (
    <>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Group{' '}
          <select
            value={group}
            onChange={(e) => {
              setGroup((e.target as HTMLSelectElement).value);
              reset();
            }}
          >
            <option value="">all</option>
            {groups.map((g) => (
              <option key={g}>{g}</option>
            ))}
          </select>
        </label>
        <label>
          State{' '}
          <select
            value={state}
            onChange={(e) => {
              setState((e.target as HTMLSelectElement).value);
              reset();
            }}
          >
            <option value="">all</option>
            {REQUEST_STATES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
      </form>
      {!reply ? (
        <Spinner label="Loading" />
      ) : !reply.ok ? (
        <p class="error" role="alert">
          {reply.problem}
        </p>
      ) : reply.body.items.length === 0 ? (
        <p class="muted">No group request{group || state ? ' matches' : ' kept (24 h after they finish)'}.</p>
      ) : (
        <div data-testid="recent-group-requests">
          {reply.body.items.map((g) => (
            <GroupRequestLine key={g.id} g={g} onChange={() => setChanged((n) => n + 1)} />
          ))}
        </div>
      )}
      <div class="pager">
        <button type="button" disabled={cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>
          Newer
        </button>
        <button
          type="button"
          disabled={!reply?.ok || !reply.body.nextCursor}
          onClick={() =>
            reply?.ok && reply.body.nextCursor && setCursors([...cursors, reply.body.nextCursor])
          }
        >
          Older
        </button>
      </div>
    </>
  );
}

function GroupRequestRow({ id }: { id: string }) {
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
  return <GroupRequestLine g={reply.body} onChange={setReply} />;
}

/** One request: what, on which group, its state and progress, and Cancel while it runs (write keys). */
function GroupRequestLine({
  g,
  onChange,
}: {
  g: GroupRequest;
  onChange: (r: ApiReply<GroupRequest>) => void;
}) {
  const can = useCan();
  const p = g.progress;
  const failed = (p.failed ?? 0) + (p.timedOut ?? 0) + (p.cancelled ?? 0);
  return (
    <div class="group-request" data-state={g.state} data-id={g.id}>
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
        {show(g.id)}, by {g.createdBy}, <span title={g.createdAt}>{ago(g.createdAt)}</span>
      </span>{' '}
      {can('cancelGroupRequest') && g.state === 'running' ? (
        <button
          type="button"
          onClick={() =>
            void call<GroupRequest>('cancelGroupRequest', { params: { id: g.id } }).then(onChange)
          }
        >
          Cancel
        </button>
      ) : null}
    </div>
  );
}
