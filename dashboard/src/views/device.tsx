// One device: its registration, the object tree named by the object models (names, units, operations), every
// DM operation the key's role allows, latest values and live notifications (with a chart of a numeric
// resource), queued requests, credentials (never secrets: the api returns none) and its audit entries.
import { Fragment } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { type ApiReply, call, type LiveEvent } from '../api';
import { useCan, useEvents } from '../app-context';
import { LineChart } from '../chart';
import { ago, type Outcome, OutcomeLine, Section, show, Spinner } from '../ui';

interface Device {
  endpoint: string;
  state: string;
  security: string;
  lwm2mVersion: string;
  binding: string;
  queueMode: boolean;
  address: string;
  lifetime: number;
  lastSeen: string;
  expiresAt: string;
  registeredAt: string;
  gatewayNode?: string;
  objectLinks: Array<{ path: string; attributes: Record<string, string> }>;
}
interface ResourceModel {
  id: number;
  name: string;
  operations: string;
  type: string;
  multiple: boolean;
  units?: string;
}
interface Model {
  id: number;
  name: string;
  version: string;
  multiple: boolean;
  resources: ResourceModel[];
}
interface Value {
  path: string;
  value: unknown;
  type?: string;
  name?: string;
  unit?: string;
  receivedAt?: string;
}
interface Observation {
  id: string;
  paths: string[];
  createdAt: string;
}
interface QueuedRequest {
  id: string;
  op: string;
  path?: string;
  paths?: string[];
  state: string;
  acceptedAt: string;
  attempts: number;
  error?: string;
}

/** How long the api waits for the device before it answers 504 (a sleeping device's request is queued: 202). */
const TIMEOUTS = ['2s', '10s', '30s', '60s'];
const MAX_POINTS = 120;

interface LogEntry {
  id: number;
  outcome: Outcome;
  values?: Value[];
  detail?: string;
}

export function DeviceView({ endpoint }: { endpoint: string }) {
  const can = useCan();
  const [device, setDevice] = useState<Device>();
  const [missing, setMissing] = useState<string>();
  const [models, setModels] = useState<Record<number, Model | null>>({});
  const [values, setValues] = useState<Record<string, Value>>({});
  const [observations, setObservations] = useState<Observation[]>([]);
  const [log, setLog] = useState<LogEntry[]>([]);
  const [notifications, setNotifications] = useState<LiveEvent[]>([]);
  const [series, setSeries] = useState<Record<string, Array<{ t: number; v: number }>>>({});
  const [chartPath, setChartPath] = useState<string>();
  const [requests, setRequests] = useState<QueuedRequest[]>([]);
  const [timeout, setTimeout_] = useState('10s');
  const seq = useRef(0);
  const ep = { endpoint };

  const loadDevice = async () => {
    const r = await call<Device>('device', { params: ep });
    if (r.ok) setDevice(r.body);
    else setMissing(r.status === 404 ? `No device "${endpoint}" is registered.` : r.problem);
  };
  const loadObservations = async () => {
    const r = await call<{ items: Observation[] }>('observations', { params: ep });
    if (r.ok) setObservations(r.body.items);
  };
  // The api lists the requests still waiting; those that finished while the page was open stay, with the
  // state their last "request" event gave. Anything but queued/delivering is final (libs/scheduler), so a
  // list fetched before that event and answered after it never turns a finished request back.
  const loadRequests = async () => {
    const r = await call<{ items: QueuedRequest[] }>('deviceRequests', { params: ep });
    if (!r.ok) return;
    setRequests((old) => {
      const ended = new Map(
        old.filter((x) => !['queued', 'delivering'].includes(x.state)).map((x) => [x.id, x]),
      );
      const listed = r.body.items.map((x) => ended.get(x.id) ?? x);
      const ids = new Set(listed.map((x) => x.id));
      return [...listed, ...[...ended.values()].filter((x) => !ids.has(x.id))];
    });
  };
  const requestEvent = (e: LiveEvent) => {
    const id = String(e.requestId);
    const patch = { state: String(e.state), ...(e.error ? { error: String(e.error) } : {}) };
    setRequests((old) =>
      old.some((x) => x.id === id)
        ? old.map((x) => (x.id === id ? { ...x, ...patch } : x))
        : [...old, { id, op: String(e.op), acceptedAt: new Date().toISOString(), attempts: 0, ...patch }],
    );
    // A delivered read brings its values.
    const result = e.result as { values?: Value[] } | undefined;
    if (Array.isArray(result?.values)) mergeValues(result.values);
    void loadRequests();
  };
  const mergeValues = (vs: Value[], at = Date.now()) => {
    setValues((old) => {
      const next = { ...old };
      for (const v of vs) next[v.path] = { ...old[v.path], ...v, receivedAt: new Date(at).toISOString() };
      return next;
    });
    const numeric = vs.filter((v) => typeof v.value === 'number');
    if (numeric.length) {
      setSeries((old) => {
        const next = { ...old };
        for (const v of numeric)
          next[v.path] = [...(old[v.path] ?? []), { t: at, v: v.value as number }].slice(-MAX_POINTS);
        return next;
      });
      setChartPath((p) => p ?? numeric[0].path);
    }
  };

  useEffect(() => {
    setDevice(undefined);
    setMissing(undefined);
    setValues({});
    setSeries({});
    setChartPath(undefined);
    setNotifications([]);
    setRequests([]);
    void loadDevice();
    void loadObservations();
    void loadRequests();
    void call<{ items: Value[] }>('values', { params: ep }).then((r) => {
      if (r.ok) setValues(Object.fromEntries(r.body.items.map((v) => [v.path, v])));
    });
  }, [endpoint]);

  // Models of the objects the device registered, by object id (names, units, operations).
  useEffect(() => {
    if (!device) return;
    const ids = [
      ...new Set(device.objectLinks.map((l) => Number(l.path.split('/')[1])).filter((n) => !isNaN(n))),
    ];
    for (const id of ids) {
      if (id in models) continue;
      const ver = device.objectLinks.find((l) => l.path === `/${id}`)?.attributes.ver;
      // The version the device registered; when the server has no model of it, its newest stands in (as
      // the api does for reads and writes).
      void (async () => {
        let r = await call<Model>('model', { params: { id }, query: { version: ver } });
        if (r.status === 404 && ver !== undefined) r = await call<Model>('model', { params: { id } });
        setModels((m) => ({ ...m, [id]: r.ok ? r.body : null }));
      })();
    }
  }, [device]);

  useEvents(
    (e) => {
      if (e.endpoint !== endpoint) return;
      if (e.type === 'notification' || e.type === 'send') {
        setNotifications((n) => [e, ...n].slice(0, 30));
        mergeValues(e.values ?? [], typeof e.at === 'number' ? e.at : Date.now());
      } else if (e.type === 'request') requestEvent(e);
      else if (['registered', 'updated', 'awake', 'deregistered', 'expired'].includes(e.type))
        void loadDevice();
      if (e.type === 'reobserved' || e.type === 'registered') void loadObservations();
    },
    [endpoint],
  );

  /** Runs one operation: a spinner while the api waits for the device, then its outcome in the log. */
  const run = async (
    what: string,
    op: () => Promise<ApiReply>,
    after?: (r: ApiReply) => void,
  ): Promise<void> => {
    const id = ++seq.current;
    setLog((l): LogEntry[] => [{ id, outcome: { state: 'pending', what } as const }, ...l].slice(0, 10));
    const reply = await op();
    const body = reply.body as { values?: Value[]; links?: string; path?: string } | undefined;
    const entry: LogEntry = { id, outcome: { state: 'done', what, reply } };
    if (reply.ok && body && Array.isArray(body.values)) {
      entry.values = body.values;
      mergeValues(body.values);
    }
    if (reply.ok && body?.links) entry.detail = body.links;
    if (reply.ok && reply.status === 201 && body?.path) entry.detail = `created ${body.path}`;
    setLog((l) => l.map((x) => (x.id === id ? entry : x)));
    if (reply.status === 202) void loadRequests();
    // A 504 or a queued request: the server now takes the device for asleep (TS 1.2 Core 6.5).
    if (reply.status === 202 || reply.status === 504) void loadDevice();
    after?.(reply);
  };

  const q = { timeout };
  const ops = {
    read: (path: string) => run(`Read ${path}`, () => call('read', { params: { ...ep, path }, query: q })),
    discover: (path: string) =>
      run(`Discover ${path}`, () => call('discover', { params: { ...ep, path }, query: q })),
    write: (path: string, value: unknown) =>
      run(`Write ${path}`, () => call('write', { params: { ...ep, path }, query: q, body: { value } })),
    execute: (path: string, args?: string) =>
      run(`Execute ${path}`, () =>
        call('execute', { params: { ...ep, path }, query: q, body: args ? { args } : {} }),
      ),
    observe: (path: string) =>
      run(
        `Observe ${path}`,
        () => call('observe', { params: ep, query: q, body: { paths: [path] } }),
        () => {
          void loadObservations();
          setChartPath(path);
        },
      ),
    cancel: (o: Observation) =>
      run(`Cancel observation of ${o.paths.join(', ')}`, () =>
        call('cancelObservation', { params: { ...ep, id: o.id }, query: q }),
      ).then(loadObservations),
    attributes: (path: string, attrs: Record<string, number>) =>
      run(`Write-Attributes ${path}`, () =>
        call('attributes', { params: { ...ep, path }, query: q, body: attrs }),
      ),
    create: (objectId: number, instanceId: number | undefined, vals: unknown[]) =>
      run(`Create in /${objectId}`, () =>
        call('create', {
          params: { ...ep, objectId },
          query: q,
          body: { values: vals, ...(instanceId !== undefined ? { instanceId } : {}) },
        }),
      ),
    remove: (path: string) =>
      run(`Delete ${path}`, () => call('deleteInstance', { params: { ...ep, path }, query: q })),
  };

  if (missing)
    return (
      <Section title={`Device ${endpoint}`}>
        <p class="error" role="alert">
          {missing}
        </p>
        <a href="#/fleet">Back to the fleet</a>
      </Section>
    );
  if (!device) return <Spinner label="Loading the device" />;

  const tree = objectTree(device);
  return (
    <div class="device">
      <Section title={`Device ${endpoint}`} id="device">
        <dl class="facts">
          <dt>State</dt>
          <dd>
            <span class={`badge ${device.state}`} data-testid="device-state">
              {device.state}
            </span>
          </dd>
          <dt>Security</dt>
          <dd>{device.security}</dd>
          <dt>LwM2M</dt>
          <dd>{device.lwm2mVersion}</dd>
          <dt>Binding</dt>
          <dd>
            {device.binding}
            {device.queueMode ? ' (queue mode)' : ''}
          </dd>
          <dt>Address</dt>
          <dd>{device.address}</dd>
          <dt>Last seen</dt>
          <dd title={device.lastSeen}>{ago(device.lastSeen)}</dd>
          <dt>Expires</dt>
          <dd>{new Date(device.expiresAt).toLocaleString()}</dd>
          {device.gatewayNode ? (
            <>
              <dt>Node</dt>
              <dd>{device.gatewayNode}</dd>
            </>
          ) : null}
        </dl>
        {can('deregister') ? (
          <button
            type="button"
            class="danger"
            onClick={() =>
              confirm(`De-register ${endpoint}? The device is not told.`) &&
              void run(
                'De-register',
                () => call('deregister', { params: ep, query: q }),
                (r) => {
                  if (r.ok) location.hash = '#/fleet';
                },
              )
            }
          >
            De-register
          </button>
        ) : null}
      </Section>

      <Section title="Operations" id="ops">
        <label>
          Wait for the device{' '}
          <select value={timeout} onChange={(e) => setTimeout_((e.target as HTMLSelectElement).value)}>
            {TIMEOUTS.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        <ol class="oplog" aria-live="polite" data-testid="oplog">
          {log.length === 0 ? <li class="muted">No operation yet.</li> : null}
          {log.map((e) => (
            <li key={e.id}>
              <OutcomeLine outcome={e.outcome} />
              {e.values?.length ? <ValueTable values={e.values} /> : null}
              {e.detail ? <pre class="detail">{e.detail}</pre> : null}
            </li>
          ))}
        </ol>
      </Section>

      <Section title="Objects" id="objects">
        {tree.map(({ objectId, instances }) => (
          <ObjectNode
            key={objectId}
            objectId={objectId}
            instances={instances}
            model={models[objectId]}
            values={values}
            observations={observations}
            ops={ops}
          />
        ))}
      </Section>

      <Section title="Live notifications" id="notifs">
        {Object.keys(series).length ? (
          <label>
            Chart of{' '}
            <select value={chartPath} onChange={(e) => setChartPath((e.target as HTMLSelectElement).value)}>
              {Object.keys(series).map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          </label>
        ) : null}
        <LineChart
          title={chartPath ? `Values of ${chartPath}` : 'Values over time (observe a numeric resource)'}
          unit={chartPath ? values[chartPath]?.unit : undefined}
          series={chartPath ? [{ label: chartPath, points: series[chartPath] ?? [], className: 's0' }] : []}
        />
        <table class="grid compact" data-testid="notifications">
          <caption class="sr-only">Latest notifications</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Type</th>
              <th scope="col">Values</th>
            </tr>
          </thead>
          <tbody>
            {notifications.map((n) => (
              <tr key={n.id}>
                <td>{typeof n.at === 'number' ? new Date(n.at).toLocaleTimeString() : ''}</td>
                <td>{n.type}</td>
                <td>{(n.values ?? []).map((v) => `${v.path} = ${show(v.value)}`).join('; ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>

      <Section title="Observations" id="observations">
        {observations.length === 0 ? <p class="muted">None.</p> : null}
        <ul>
          {observations.map((o) => (
            <li key={o.id}>
              {o.paths.join(', ')} since {new Date(o.createdAt).toLocaleTimeString()}{' '}
              {can('cancelObservation') ? (
                <button
                  type="button"
                  aria-label={`Cancel observation of ${o.paths.join(', ')}`}
                  onClick={() => void ops.cancel(o)}
                >
                  Cancel
                </button>
              ) : null}
            </li>
          ))}
        </ul>
      </Section>

      <Section title="Queued requests" id="requests">
        {requests.length === 0 ? <p class="muted">None queued.</p> : null}
        <table class="grid compact" data-testid="requests">
          <caption class="sr-only">Requests queued for this device</caption>
          <thead>
            <tr>
              <th scope="col">Operation</th>
              <th scope="col">Path</th>
              <th scope="col">State</th>
              <th scope="col">Accepted</th>
              <th scope="col">Attempts</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {requests.map((r) => (
              <tr key={r.id} data-state={r.state}>
                <td>{r.op}</td>
                <td>{r.path ?? r.paths?.join(', ')}</td>
                <td>
                  <span class={`badge ${r.state}`}>{r.state}</span>
                  {r.error ? ` ${r.error}` : ''}
                </td>
                <td>{ago(r.acceptedAt)}</td>
                <td>{r.attempts}</td>
                <td>
                  {can('cancelRequest') && ['queued', 'delivering'].includes(r.state) ? (
                    <button
                      type="button"
                      aria-label={`Cancel queued ${r.op} ${r.path ?? ''}`}
                      onClick={() => void call('cancelRequest', { params: { id: r.id } }).then(loadRequests)}
                    >
                      Cancel
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>

      <Credentials endpoint={endpoint} />
      {can('audit') ? <Audit endpoint={endpoint} /> : null}
    </div>
  );
}

type Ops = {
  read(path: string): Promise<void>;
  discover(path: string): Promise<void>;
  write(path: string, value: unknown): Promise<void>;
  execute(path: string, args?: string): Promise<void>;
  observe(path: string): Promise<void>;
  cancel(o: Observation): Promise<void>;
  attributes(path: string, attrs: Record<string, number>): Promise<void>;
  create(objectId: number, instanceId: number | undefined, vals: unknown[]): Promise<void>;
  remove(path: string): Promise<void>;
};

/** The registered object links as objects with their instances ("/3303" alone: no instance yet). */
function objectTree(device: Device): Array<{ objectId: number; instances: number[] }> {
  const map = new Map<number, Set<number>>();
  for (const l of device.objectLinks) {
    const [, o, i] = l.path.split('/').map(Number);
    if (isNaN(o)) continue;
    if (!map.has(o)) map.set(o, new Set());
    if (i !== undefined && !isNaN(i)) map.get(o)!.add(i);
  }
  return [...map]
    .sort(([a], [b]) => a - b)
    .map(([objectId, s]) => ({ objectId, instances: [...s].sort((a, b) => a - b) }));
}

function ObjectNode(props: {
  objectId: number;
  instances: number[];
  model: Model | null | undefined;
  values: Record<string, Value>;
  observations: Observation[];
  ops: Ops;
}) {
  const { objectId, instances, model, ops } = props;
  const can = useCan();
  const [newId, setNewId] = useState('');
  const [newValues, setNewValues] = useState('[]');
  return (
    <details class="object" open={objectId !== 0}>
      <summary>
        /{objectId} {model ? `${model.name} (v${model.version})` : model === null ? '(no model)' : '…'}
      </summary>
      <div class="object-actions">
        <button type="button" aria-label={`Read /${objectId}`} onClick={() => void ops.read(`/${objectId}`)}>
          Read object
        </button>
        <button
          type="button"
          aria-label={`Discover /${objectId}`}
          onClick={() => void ops.discover(`/${objectId}`)}
        >
          Discover
        </button>
        {can('create') && (model?.multiple ?? true) ? (
          <form
            class="inline"
            onSubmit={(e) => {
              e.preventDefault();
              let vals: unknown[] = [];
              try {
                vals = JSON.parse(newValues) as unknown[];
              } catch {
                alert('Values must be JSON: [{"path":"5700","value":1}]');
                return;
              }
              void ops.create(objectId, newId === '' ? undefined : Number(newId), vals);
            }}
          >
            <label>
              Instance id{' '}
              <input
                type="number"
                min="0"
                max="65534"
                value={newId}
                onInput={(e) => setNewId((e.target as HTMLInputElement).value)}
                size={5}
              />
            </label>
            <label>
              Values (JSON){' '}
              <input value={newValues} onInput={(e) => setNewValues((e.target as HTMLInputElement).value)} />
            </label>
            <button type="submit" aria-label={`Create an instance of /${objectId}`}>
              Create
            </button>
          </form>
        ) : null}
      </div>
      {instances.map((i) => (
        <InstanceNode key={i} path={`/${objectId}/${i}`} {...props} />
      ))}
    </details>
  );
}

function InstanceNode(props: {
  path: string;
  model: Model | null | undefined;
  values: Record<string, Value>;
  observations: Observation[];
  ops: Ops;
}) {
  const { path, model, values, observations, ops } = props;
  const can = useCan();
  const observed = (p: string) => observations.find((o) => o.paths.includes(p));
  const instObs = observed(path);
  // Resources: the model's, else those with a known value.
  const resources: ResourceModel[] =
    model?.resources ??
    [
      ...new Set(
        Object.keys(values)
          .filter((p) => p.startsWith(`${path}/`))
          .map((p) => Number(p.split('/')[3])),
      ),
    ].map((id) => ({ id, name: '', operations: 'RW', type: '', multiple: false }));
  return (
    <div class="instance">
      <h3>
        {path}{' '}
        <button type="button" aria-label={`Read ${path}`} onClick={() => void ops.read(path)}>
          Read
        </button>{' '}
        {can('observe') && !instObs ? (
          <button type="button" aria-label={`Observe ${path}`} onClick={() => void ops.observe(path)}>
            Observe
          </button>
        ) : null}
        {can('cancelObservation') && instObs ? (
          <button
            type="button"
            aria-label={`Cancel observation of ${path}`}
            onClick={() => void ops.cancel(instObs)}
          >
            Cancel observation
          </button>
        ) : null}{' '}
        <button type="button" aria-label={`Discover ${path}`} onClick={() => void ops.discover(path)}>
          Discover
        </button>{' '}
        {can('deleteInstance') ? (
          <button
            type="button"
            class="danger"
            aria-label={`Delete ${path}`}
            onClick={() => confirm(`Delete ${path}?`) && void ops.remove(path)}
          >
            Delete
          </button>
        ) : null}
      </h3>
      <table class="grid compact resources">
        <caption class="sr-only">Resources of {path}</caption>
        <thead>
          <tr>
            <th scope="col">Id</th>
            <th scope="col">Name</th>
            <th scope="col">Value</th>
            <th scope="col">Unit</th>
            <th scope="col">Ops</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {resources.map((r) => (
            <ResourceRow
              key={r.id}
              path={`${path}/${r.id}`}
              res={r}
              values={values}
              obs={observed(`${path}/${r.id}`)}
              ops={ops}
            />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function ResourceRow(props: {
  path: string;
  res: ResourceModel;
  values: Record<string, Value>;
  obs: Observation | undefined;
  ops: Ops;
}) {
  const { path, res, values, obs, ops } = props;
  const can = useCan();
  const [input, setInput] = useState('');
  const [attrs, setAttrs] = useState<{ pmin: string; pmax: string } | undefined>();
  const v = values[path];
  const multi = Object.values(values).filter((x) => x.path.startsWith(`${path}/`));
  const shown = v ? show(v.value) : multi.map((x) => `${x.path.split('/')[4]}: ${show(x.value)}`).join(', ');
  const readable = res.operations.includes('R');
  const writable = res.operations.includes('W');
  const executable = res.operations.includes('E');
  return (
    <tr data-path={path}>
      <td>{res.id}</td>
      <td>{res.name}</td>
      <td class="value" data-testid={`value-${path}`}>
        {shown}
      </td>
      <td>{res.units ?? ''}</td>
      <td>{res.operations}</td>
      <td class="actions">
        {readable ? (
          <button type="button" aria-label={`Read ${path}`} onClick={() => void ops.read(path)}>
            Read
          </button>
        ) : null}
        {readable && can('observe') && !obs ? (
          <button type="button" aria-label={`Observe ${path}`} onClick={() => void ops.observe(path)}>
            Observe
          </button>
        ) : null}
        {obs && can('cancelObservation') ? (
          <button
            type="button"
            aria-label={`Cancel observation of ${path}`}
            onClick={() => void ops.cancel(obs)}
          >
            Cancel
          </button>
        ) : null}
        {writable && can('write') ? (
          <form
            class="inline"
            onSubmit={(e) => {
              e.preventDefault();
              void ops.write(path, parseInput(input, res.type));
            }}
          >
            <input
              aria-label={`Value for ${path}`}
              value={input}
              size={10}
              onInput={(e) => setInput((e.target as HTMLInputElement).value)}
            />
            <button type="submit" aria-label={`Write ${path}`}>
              Write
            </button>
          </form>
        ) : null}
        {executable && can('execute') ? (
          <button type="button" aria-label={`Execute ${path}`} onClick={() => void ops.execute(path)}>
            Execute
          </button>
        ) : null}
        {readable && can('attributes') ? (
          attrs ? (
            <form
              class="inline"
              onSubmit={(e) => {
                e.preventDefault();
                const body: Record<string, number> = {};
                if (attrs.pmin !== '') body.pmin = Number(attrs.pmin);
                if (attrs.pmax !== '') body.pmax = Number(attrs.pmax);
                void ops.attributes(path, body);
                setAttrs(undefined);
              }}
            >
              <label>
                pmin{' '}
                <input
                  type="number"
                  min="0"
                  size={4}
                  value={attrs.pmin}
                  onInput={(e) => setAttrs({ ...attrs, pmin: (e.target as HTMLInputElement).value })}
                />
              </label>
              <label>
                pmax{' '}
                <input
                  type="number"
                  min="0"
                  size={4}
                  value={attrs.pmax}
                  onInput={(e) => setAttrs({ ...attrs, pmax: (e.target as HTMLInputElement).value })}
                />
              </label>
              <button type="submit" aria-label={`Write attributes of ${path}`}>
                Set
              </button>
            </form>
          ) : (
            <button
              type="button"
              aria-label={`Attributes of ${path}`}
              onClick={() => setAttrs({ pmin: '', pmax: '' })}
            >
              Attributes
            </button>
          )
        ) : null}
      </td>
    </tr>
  );
}

/** A typed input as the model's type wants it (numbers and booleans as JSON, the rest as text). */
function parseInput(text: string, type: string): unknown {
  if (['integer', 'unsigned integer', 'float', 'time'].includes(type.toLowerCase()) && text.trim() !== '')
    return Number(text);
  if (type.toLowerCase() === 'boolean') return text === 'true' || text === '1';
  return text;
}

function ValueTable({ values }: { values: Value[] }) {
  return (
    <table class="grid compact readout">
      <caption class="sr-only">Values read</caption>
      <thead>
        <tr>
          <th scope="col">Path</th>
          <th scope="col">Name</th>
          <th scope="col">Value</th>
          <th scope="col">Unit</th>
        </tr>
      </thead>
      <tbody>
        {values.map((v) => (
          <tr key={v.path}>
            <td>{v.path}</td>
            <td>{v.name ?? ''}</td>
            <td>{show(v.value)}</td>
            <td>{v.unit ?? ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Credentials({ endpoint }: { endpoint: string }) {
  const [cred, setCred] = useState<ApiReply<Record<string, unknown>>>();
  useEffect(() => {
    void call<Record<string, unknown>>('credentials', { params: { endpoint } }).then(setCred);
  }, [endpoint]);
  return (
    <Section title="Credentials" id="creds">
      {!cred ? (
        <Spinner label="Loading" />
      ) : cred.status === 404 ? (
        <p class="muted">No credential: the device may use NoSec only.</p>
      ) : !cred.ok ? (
        <p class="error">{cred.problem}</p>
      ) : (
        <dl class="facts">
          {/* The api never returns a secret (PSK, private key, master secret); identities only. */}
          {Object.entries(cred.body).map(([k, v]) => (
            <Fragment key={k}>
              <dt>{k}</dt>
              <dd>{show(v)}</dd>
            </Fragment>
          ))}
        </dl>
      )}
    </Section>
  );
}

interface AuditEntry {
  id: string;
  at: string;
  actor: string;
  action: string;
  paths?: string[];
  outcome: { result: string; status: number };
}

function Audit({ endpoint }: { endpoint: string }) {
  const [items, setItems] = useState<AuditEntry[]>();
  const load = () =>
    void call<{ items: AuditEntry[] }>('audit', { query: { endpoint, limit: 20 } }).then(
      (r) => r.ok && setItems(r.body.items),
    );
  useEffect(load, [endpoint]);
  return (
    <Section title="Audit" id="audit">
      <button type="button" onClick={load}>
        Refresh
      </button>
      {!items ? (
        <Spinner label="Loading" />
      ) : (
        <table class="grid compact" data-testid="audit">
          <caption class="sr-only">Audit entries of this device</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">Action</th>
              <th scope="col">Paths</th>
              <th scope="col">Outcome</th>
            </tr>
          </thead>
          <tbody>
            {items.map((a) => (
              <tr key={a.id}>
                <td>{new Date(a.at).toLocaleTimeString()}</td>
                <td>{a.actor}</td>
                <td>{a.action}</td>
                <td>{a.paths?.join(', ')}</td>
                <td>
                  {a.outcome.result} ({a.outcome.status})
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Section>
  );
}
