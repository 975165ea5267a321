// Environment parsing shared by every app: each app validates its variables once at start and stops with
// one message naming every bad value, instead of failing later with a socket or Redis error.
import { statSync } from 'node:fs';

export type LogLevel = 'error' | 'warn' | 'log' | 'debug';
export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'log', 'debug'];

/** Collects the errors of one validation pass; `done` throws them together. */
export class EnvErrors {
  readonly errors: string[] = [];

  push(message: string): void {
    this.errors.push(message);
  }

  done(what: string): void {
    if (this.errors.length) throw new Error(`invalid ${what} configuration: ${this.errors.join('; ')}`);
  }
}

export function parsePort(name: string, raw: unknown, fallback: number, errors: EnvErrors): number {
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    errors.push(`${name} must be an integer 0..65535, got "${String(raw)}"`);
    return fallback;
  }
  return port;
}

export function parseInteger(
  name: string,
  raw: unknown,
  fallback: number,
  min: number,
  max: number,
  errors: EnvErrors,
): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    errors.push(`${name} must be an integer ${min}..${max}, got "${String(raw)}"`);
    return fallback;
  }
  return n;
}

export function parseLogLevel(raw: unknown, errors: EnvErrors): LogLevel {
  const level = (raw === undefined || raw === '' ? 'log' : raw) as LogLevel;
  if (LOG_LEVELS.includes(level)) return level;
  errors.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${String(raw)}"`);
  return 'log';
}

/** LOG_FORMAT: `text` (Nest's coloured lines, the default) or `json` (one JSON object a line, for collectors). */
export type LogFormat = 'text' | 'json';

export function parseLogFormat(raw: unknown, errors: EnvErrors): LogFormat {
  if (raw === undefined || raw === '' || raw === 'text') return 'text';
  if (raw === 'json') return 'json';
  errors.push(`LOG_FORMAT must be text or json, got "${String(raw)}"`);
  return 'text';
}

/** undefined when unset (callers decide whether that is allowed). */
export function parseRedisUrl(raw: unknown, errors: EnvErrors): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  const text = String(raw);
  if (!/^rediss?:\/\/[^\s]+$/.test(text)) errors.push('REDIS_URL must look like redis://host:port[/db]');
  return text;
}

/** An on/off setting: on, true, yes, 1 or off, false, no, 0 (any case); anything else is an error. */
export function parseFlag(name: string, raw: unknown, fallback: boolean, errors: EnvErrors): boolean {
  if (raw === undefined || raw === '') return fallback;
  const v = String(raw).toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  // A bounded echo: a mistyped secret in the wrong variable must not reach the log whole.
  errors.push(`${name} must be on or off (or true/false), got "${String(raw).slice(0, 16)}"`);
  return fallback;
}

export function parseString(raw: unknown, fallback: string): string {
  return typeof raw === 'string' && raw !== '' ? raw : fallback;
}

/** Nest's logger levels for one LOG_LEVEL: 'fatal', that level and every more severe one. */
export function nestLogLevels(level: LogLevel): Array<LogLevel | 'fatal'> {
  return ['fatal', ...LOG_LEVELS.slice(0, LOG_LEVELS.indexOf(level) + 1)];
}

/** A Redis URL fit for logs: the password is masked. */
export function redactRedisUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Milliseconds of a duration text such as `24h`, `90m`, `3600s`, `7d`, `500ms` or `0.5` (a bare number is
 * seconds; case and surrounding blanks ignored), undefined when it is not one. One grammar for every
 * duration the product reads (environment, `?timeout=`).
 */
export function durationMs(raw: unknown): number | undefined {
  if (typeof raw !== 'string' && typeof raw !== 'number') return undefined;
  const m = /^(\d{1,12}(?:\.\d{1,6})?)\s*(ms|s|m|h|d)?$/.exec(String(raw).trim().toLowerCase());
  return m ? Math.round(Number(m[1]) * DURATION_UNITS[m[2] ?? 's']!) : undefined;
}

/** A duration such as `24h`, `90m`, `3600s`, `7d` or `500ms` (a bare number is seconds), in ms. */
export function parseDuration(
  name: string,
  raw: unknown,
  fallbackMs: number,
  minMs: number,
  maxMs: number,
  errors: EnvErrors,
): number {
  if (raw === undefined || raw === '') return fallbackMs;
  const ms = durationMs(raw);
  if (ms === undefined || ms < minMs || ms > maxMs) {
    errors.push(
      `${name} must be a duration like 24h, 90m or 3600s between ${minMs / 1000} s and ${maxMs / 1000} s, got "${String(raw)}"`,
    );
    return fallbackMs;
  }
  return ms;
}

/**
 * MODELS_DIR: comma-separated directories of DDF XML object models loaded at start. Unset: undefined (the
 * app loads the vendored OMNA registry, models/omna); empty: none (only the built-in core objects).
 */
export function parseModelsDirs(raw: unknown, errors: EnvErrors): string[] | undefined {
  if (raw === undefined) return undefined;
  const dirs = String(raw)
    .split(',')
    .map((d) => d.trim())
    .filter((d) => d !== '');
  for (const dir of dirs) {
    let isDir = false;
    try {
      isDir = statSync(dir).isDirectory();
    } catch {
      // reported below
    }
    if (!isDir) errors.push(`MODELS_DIR: "${dir.slice(0, 200)}" is not a readable directory`);
  }
  return dirs;
}
