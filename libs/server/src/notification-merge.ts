// Issue 19, "patch" notifications: how a notification of an observation updates the latest values. A
// notification in a SenML FETCH/PATCH format (RFC 8790, Content-Formats 320/322), or of an observation the
// operator declared `notifications: "patch"`, carries only what changed and is merged over the last full
// state; any other notification (and the first 2.05 of an observation) is the full state of the observed
// paths and replaces it. The stores apply the result atomically with the RFC 7641 section 3.4 ordering check.
import { isSenmlEtch } from '@lwm2m/lwm2m';
import type { DecodedNotification } from './device-client';
import type { NotificationUpdate, Observation, StoredValue } from './ports';

/** Whether `path` is `base` or lies under it ("/" covers everything). */
export function isUnder(path: string, base: string): boolean {
  return base === '/' || path === base || path.startsWith(`${base}/`);
}

export const underAny = (path: string, bases: readonly string[]): boolean =>
  bases.some((b) => isUnder(path, b));

/** Whether this notification of `obs` is a patch (merged) rather than the full state (reset). */
export function isPatchNotification(
  obs: Pick<Observation, 'notifications'>,
  contentFormat?: number,
): boolean {
  return isSenmlEtch(contentFormat) || obs.notifications === 'patch';
}

/** The store update of one decoded notification (`first`: the observation's first 2.05, always full). */
export function notificationUpdate(
  obs: Pick<Observation, 'id' | 'paths' | 'notifications'>,
  n: Pick<DecodedNotification, 'values' | 'removed' | 'contentFormat' | 'observe'>,
  first = false,
): NotificationUpdate {
  return {
    observationId: obs.id,
    mode: !first && isPatchNotification(obs, n.contentFormat) ? 'patch' : 'full',
    paths: obs.paths,
    values: n.values,
    removed: n.removed ?? [],
    ...(n.observe !== undefined ? { observe: n.observe } : {}),
  };
}

/** The merged state of an observation: the stored values under its paths (what GET .../observations/{id} shows). */
export function mergedOf<V extends Pick<StoredValue, 'path'>>(values: V[], paths: readonly string[]): V[] {
  return values.filter((v) => underAny(v.path, paths));
}
