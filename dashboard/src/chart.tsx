// A line chart drawn by hand in SVG: one or more series of (time, value) points over a shared time axis.
// Enough for "a resource's values over time" and "events per minute"; no library.

export interface Series {
  label: string;
  points: Array<{ t: number; v: number }>;
  /** A CSS class of the line (its colour comes from style.css). */
  className: string;
}

const W = 640;
const H = 200;
const PAD = { left: 48, right: 12, top: 12, bottom: 28 };

function ticks(min: number, max: number, n: number): number[] {
  if (min === max) return [min];
  const step = (max - min) / (n - 1);
  return Array.from({ length: n }, (_, i) => min + i * step);
}

function fmt(v: number): string {
  const a = Math.abs(v);
  return a >= 1000 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
}

export function LineChart({ title, series, unit }: { title: string; series: Series[]; unit?: string }) {
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) {
    return (
      <figure class="chart" aria-label={title}>
        <figcaption>{title}</figcaption>
        <p class="muted">No values yet.</p>
      </figure>
    );
  }
  const t0 = Math.min(...all.map((p) => p.t));
  const t1 = Math.max(...all.map((p) => p.t), t0 + 1000);
  let v0 = Math.min(...all.map((p) => p.v));
  let v1 = Math.max(...all.map((p) => p.v));
  if (v0 === v1) {
    v0 -= 1;
    v1 += 1;
  }
  const x = (t: number) => PAD.left + ((t - t0) / (t1 - t0)) * (W - PAD.left - PAD.right);
  const y = (v: number) => H - PAD.bottom - ((v - v0) / (v1 - v0)) * (H - PAD.top - PAD.bottom);
  const last = series.map((s) => s.points[s.points.length - 1]).filter(Boolean);
  return (
    <figure class="chart">
      <figcaption>
        {title}
        {unit ? ` (${unit})` : ''}
      </figcaption>
      <svg
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={`${title}: ${series
          .map((s) => `${s.label} latest ${fmt(s.points[s.points.length - 1]?.v ?? NaN)}`)
          .join(', ')}`}
        data-points={all.length}
      >
        {ticks(v0, v1, 5).map((v) => (
          <g key={`y${v}`}>
            <line class="grid" x1={PAD.left} x2={W - PAD.right} y1={y(v)} y2={y(v)} />
            <text class="axis" x={PAD.left - 6} y={y(v) + 4} text-anchor="end">
              {fmt(v)}
            </text>
          </g>
        ))}
        {ticks(t0, t1, 4).map((t) => (
          <text key={`x${t}`} class="axis" x={x(t)} y={H - 8} text-anchor="middle">
            {new Date(t).toLocaleTimeString()}
          </text>
        ))}
        {series.map((s) => (
          <g key={s.label} class={s.className}>
            <polyline class="line" points={s.points.map((p) => `${x(p.t)},${y(p.v)}`).join(' ')} />
            {s.points.map((p, i) => (
              <circle key={i} class="dot" cx={x(p.t)} cy={y(p.v)} r="2.5" />
            ))}
          </g>
        ))}
      </svg>
      {series.length > 1 || last.length ? (
        <ul class="legend">
          {series.map((s) => (
            <li key={s.label} class={s.className}>
              <span class="swatch" aria-hidden="true" /> {s.label}
              {s.points.length ? `: ${fmt(s.points[s.points.length - 1].v)}` : ''}
            </li>
          ))}
        </ul>
      ) : null}
    </figure>
  );
}
