// The operations dashboard: sign-in with an API key, then views chosen by the URL's hash (#/fleet,
// #/devices/<endpoint>, ...), so the api serves one index.html and no route of its own.
import { render } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { EventFeed, forgetKey, type LiveEvent, resumeSession, type Session, signIn } from './api';
import { AppContext } from './app-context';
import { allowed } from './routes';
import { BootstrapView } from './views/bootstrap';
import { CampaignsView } from './views/campaigns';
import { ClusterView } from './views/cluster';
import { DeviceView } from './views/device';
import { EventsView } from './views/events';
import { FleetView } from './views/fleet';
import { GroupsView } from './views/groups';
import './style.css';

const RECENT_MAX = 500;

function useHash(): string {
  const [hash, setHash] = useState(location.hash || '#/fleet');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/fleet');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function SignIn({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  return (
    <main class="signin">
      <h1>LwM2M operations</h1>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          const r = await signIn(key.trim());
          setBusy(false);
          if (typeof r === 'string') setError(r);
          else onSignedIn(r);
        }}
      >
        <label for="api-key">API key</label>
        <input
          id="api-key"
          name="api-key"
          type="password"
          autocomplete="off"
          required
          value={key}
          onInput={(e) => setKey((e.target as HTMLInputElement).value)}
        />
        <p class="hint">Kept in this tab only (sessionStorage); sent as "Authorization: Bearer".</p>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        {error ? (
          <p class="error" role="alert">
            {error}
          </p>
        ) : null}
      </form>
    </main>
  );
}

const NAV: Array<[string, string, boolean?]> = [
  ['#/fleet', 'Fleet'],
  ['#/events', 'Live events'],
  ['#/cluster', 'Cluster & metrics'],
  ['#/groups', 'Groups'],
  ['#/campaigns', 'Firmware campaigns'],
  ['#/bootstrap', 'Bootstrap'],
];

function Shell({ session, onSignOut }: { session: Session; onSignOut: () => void }) {
  const hash = useHash();
  const feed = useMemo(() => new EventFeed(), []);
  const [connected, setConnected] = useState(false);
  const recent = useMemo(() => {
    const buf: LiveEvent[] = [];
    feed.subscribe((e) => {
      buf.push(e);
      if (buf.length > RECENT_MAX) buf.splice(0, buf.length - RECENT_MAX);
    });
    return () => buf;
  }, [feed]);
  useEffect(() => {
    feed.onState = setConnected;
    void feed.start();
    return () => feed.stop();
  }, [feed]);

  const [, view, ...rest] = hash.split('/');
  let body;
  if (view === 'devices' && rest.length) body = <DeviceView endpoint={decodeURIComponent(rest.join('/'))} />;
  else if (view === 'events') body = <EventsView />;
  else if (view === 'cluster') body = <ClusterView />;
  else if (view === 'groups') body = <GroupsView />;
  else if (view === 'campaigns') body = <CampaignsView />;
  else if (view === 'bootstrap') body = <BootstrapView />;
  else body = <FleetView />;

  return (
    <AppContext.Provider value={{ session, feed, recent }}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">LwM2M operations</span>
        <nav aria-label="Views">
          <ul>
            {NAV.filter(([href]) => href !== '#/bootstrap' || allowed(session.role, 'bootstrapConfig')).map(
              ([href, label]) => (
                <li key={href}>
                  <a href={href} aria-current={hash.startsWith(href) ? 'page' : undefined}>
                    {label}
                  </a>
                </li>
              ),
            )}
          </ul>
        </nav>
        <span class={`live ${connected ? 'on' : 'off'}`} role="status" aria-live="polite">
          {connected ? 'live' : 'connecting…'}
        </span>
        <span class="who">
          {session.name} ({session.role})
        </span>
        <button type="button" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {body}
      </main>
    </AppContext.Provider>
  );
}

function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  useEffect(() => {
    void resumeSession().then((s) => setSession(s ?? null));
  }, []);
  if (session === undefined) return <p class="loading">Loading…</p>;
  if (session === null) return <SignIn onSignedIn={setSession} />;
  return (
    <Shell
      session={session}
      onSignOut={() => {
        forgetKey();
        setSession(null);
      }}
    />
  );
}

render(<App />, document.getElementById('app')!);
