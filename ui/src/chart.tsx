/**
 * A line chart as inline SVG: values over time on a fixed 15-minute axis, the latest value in the title. Gaps
 * (null: no traffic, so no latency) break the line. The points are also in `data-points` for tests and tools.
 */
export interface ChartProps {
  title: string;
  unit: string;
  /** [epoch ms, value or null], oldest first. */
  points: [number, number | null][];
  windowMs: number;
  now: number;
  format?: (value: number) => string;
}

const W = 320;
const H = 96;
const PAD = 4;

export function Chart({ title, unit, points, windowMs, now, format = (v) => v.toFixed(1) }: ChartProps) {
  const values = points.map(([, v]) => v).filter((v): v is number => v !== null);
  const max = Math.max(1e-9, ...values) * 1.1;
  const x = (t: number) => PAD + ((t - (now - windowMs)) / windowMs) * (W - 2 * PAD);
  const y = (v: number) => H - PAD - (v / max) * (H - 2 * PAD);
  const segments: string[] = [];
  let current = '';
  for (const [t, v] of points) {
    if (v === null) {
      if (current) segments.push(current);
      current = '';
      continue;
    }
    current += `${current ? 'L' : 'M'}${x(t).toFixed(1)},${y(v).toFixed(1)}`;
  }
  if (current) segments.push(current);
  const latest = points.at(-1)?.[1];
  const latestText = latest === null || latest === undefined ? '–' : `${format(latest)} ${unit}`;
  return (
    <figure className="chart">
      <figcaption>
        <span>{title}</span>
        <strong data-testid={`latest-${title}`}>{latestText}</strong>
      </figcaption>
      <svg
        viewBox={`0 0 ${W} ${H}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={`${title}, last 15 minutes; latest ${latestText}; peak ${values.length ? format(Math.max(...values)) : '–'} ${unit}`}
        data-points={JSON.stringify(points.map(([, v]) => v))}
      >
        <line x1={PAD} x2={W - PAD} y1={H - PAD} y2={H - PAD} className="axis" />
        {segments.map((d) => (
          <path key={d} d={d} className="line" />
        ))}
      </svg>
      <div className="chart-axis">
        <span>−15 min</span>
        <span>max {values.length ? format(Math.max(...values)) : '–'}</span>
        <span>now</span>
      </div>
    </figure>
  );
}
