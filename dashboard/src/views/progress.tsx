// A progress bar of a run over many devices: finished (succeeded, and failed) of the total.
export function Progress(props: {
  succeeded: number;
  failed: number;
  total: number;
  label: string;
  detail?: string;
}) {
  const { succeeded, failed, total, label, detail } = props;
  const done = succeeded + failed;
  const pct = total > 0 ? Math.round((done / total) * 100) : 0;
  return (
    <span class="progress-cell">
      <progress max={total || 1} value={done} aria-label={label} aria-valuetext={`${pct}%`}>
        {pct}%
      </progress>{' '}
      {succeeded}/{total} succeeded{failed ? `, ${failed} failed` : ''}
      {detail ? <span class="muted"> ({detail})</span> : null}
    </span>
  );
}

/** "3 pending, 1 queued": the non-zero counts other than those the bar shows. */
export function otherCounts(counts: Record<string, number>, shown: string[]): string {
  return Object.entries(counts)
    .filter(([k, v]) => v > 0 && !shown.includes(k))
    .map(([k, v]) => `${v} ${k}`)
    .join(', ');
}
