// A campaign's progress as text: one bar whose segments are the devices by state, and the counts.
export interface CampaignProgress {
  id: string;
  name?: string;
  state: string;
  phase: string;
  reason?: string;
  total: number;
  counts: Record<string, number>;
  endedAt?: string;
  /** Resets owed to interrupted devices and resets given up (a cancelled campaign drains until none is owed). */
  resets?: { owed: number; failed: number };
  draining?: boolean;
}

const SEGMENTS: Array<[string, string[]]> = [
  ['#', ['succeeded']],
  ['x', ['failed', 'timed-out']],
  ['-', ['cancelled']],
  ['>', ['starting', 'downloading', 'downloaded', 'updating']],
];

const n = (c: Record<string, number>, states: string[]) => states.reduce((s, k) => s + (c[k] ?? 0), 0);

/** `[####xx>>>.....]  52% 523/1000 ...`: finished devices fill the bar, in flight shown as `>`. */
export function progressBar(p: CampaignProgress, width = 40): string {
  const total = Math.max(1, p.total);
  let bar = '';
  let used = 0;
  let acc = 0;
  for (const [ch, states] of SEGMENTS) {
    acc += n(p.counts, states);
    // Cumulative rounding: the segments always add up to the bar's width share of what they count.
    const upto = Math.round((acc / total) * width);
    bar += ch.repeat(Math.max(0, upto - used));
    used = Math.max(used, upto);
  }
  bar += '.'.repeat(Math.max(0, width - used));
  const finished = n(p.counts, ['succeeded', 'failed', 'timed-out', 'cancelled']);
  const pct = Math.floor((finished / total) * 100);
  return `[${bar}] ${String(pct).padStart(3)}% ${finished}/${p.total}`;
}

/** The status lines: the bar, the campaign's state, and every device state with a count. */
export function formatStatus(p: CampaignProgress, width = 40): string {
  const end = p.endedAt ? ', ended' : p.draining ? ', draining' : '';
  const head = `${p.name ? `${p.name} ` : ''}(${p.id}) ${p.state}${end}, phase ${p.phase}`;
  const resets = p.resets && (p.resets.owed > 0 || p.resets.failed > 0) ? p.resets : undefined;
  const counts = Object.entries(p.counts)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return [
    head,
    progressBar(p, width),
    counts || 'no devices',
    ...(resets ? [`resets: ${resets.owed} owed, ${resets.failed} given up`] : []),
    ...(p.reason ? [`reason: ${p.reason}`] : []),
  ].join('\n');
}
