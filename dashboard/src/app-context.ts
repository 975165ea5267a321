// What every view shares: who is signed in (role decides which buttons exist) and the live event feed.
import { createContext } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import type { EventFeed, LiveEvent, Session } from './api';
import { allowed, type RouteName } from './routes';

export interface AppState {
  session: Session;
  feed: EventFeed;
  /** The latest events (newest last), kept for the events view. */
  recent: () => LiveEvent[];
}

export const AppContext = createContext<AppState | undefined>(undefined);

export function useApp(): AppState {
  const s = useContext(AppContext);
  if (!s) throw new Error('useApp outside the signed-in app');
  return s;
}

/** Whether the signed-in key may use a route: the page offers only what the api would let through. */
export function useCan(): (route: RouteName) => boolean {
  const { session } = useApp();
  return (route) => allowed(session.role, route);
}

/** Calls `on` for every live event that passes `filter`, while the component is mounted. */
export function useEvents(on: (e: LiveEvent) => void, deps: unknown[]): void {
  const { feed } = useApp();
  useEffect(() => feed.subscribe(on), deps);
}

/** A value re-read on demand: [value, reload]. */
export function useReload(): [number, () => void] {
  const [n, setN] = useState(0);
  return [n, () => setN((x) => x + 1)];
}
