/**
 * Charts of a column profile as inline SVG with axes: a histogram of equal-width bins (x: the value range, y: row
 * counts with gridlines), and horizontal bars of a text column's most frequent values. The numbers are also in
 * `data-bins` for tests and tools.
 */
export interface Bin {
  lo: number;
  hi: number;
  count: number;
}

const W = 360;
const H = 180;
const LEFT = 48;
const BOTTOM = 34;
const TOP = 8;
const RIGHT = 10;

/** Short numbers for axis labels: 1.2k, 3.4M, 0.25. */
export function short(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1e9) return `${(value / 1e9).toPrecision(3)}G`;
  if (abs >= 1e6) return `${(value / 1e6).toPrecision(3)}M`;
  if (abs >= 1e4) return `${(value / 1e3).toPrecision(3)}k`;
  if (abs === 0) return '0';
  if (abs < 0.01) return value.toExponential(1);
  return Number(value.toPrecision(3)).toString();
}

/** A "nice" step for about `ticks` gridlines up to `max`. */
function niceStep(max: number, ticks: number): number {
  const raw = max / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  const unit = raw / power;
  return (unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 5 ? 5 : 10) * power;
}

export function Histogram({ column, bins }: { column: string; bins: Bin[] }) {
  const max = Math.max(1, ...bins.map((b) => b.count));
  const step = niceStep(max, 4);
  const top = Math.ceil(max / step) * step;
  const plotW = W - LEFT - RIGHT;
  const plotH = H - TOP - BOTTOM;
  const x = (i: number) => LEFT + (i / bins.length) * plotW;
  const y = (count: number) => TOP + plotH - (count / top) * plotH;
  const lo = bins[0]?.lo ?? 0;
  const hi = bins.at(-1)?.hi ?? 0;
  const ticks = Array.from({ length: Math.round(top / step) + 1 }, (_, k) => k * step);
  const xTicks = [0, Math.floor(bins.length / 2), bins.length];
  return (
    <svg
      className="hist"
      viewBox={`0 0 ${W} ${H}`}
      role="img"
      aria-label={`Histogram of ${column}: ${bins.length} bins from ${short(lo)} to ${short(hi)}, tallest ${max} rows`}
      data-bins={JSON.stringify(bins.map((b) => b.count))}
    >
      {ticks.map((t) => (
        <g key={t}>
          <line x1={LEFT} x2={W - RIGHT} y1={y(t)} y2={y(t)} className="grid" />
          <text x={LEFT - 6} y={y(t) + 4} textAnchor="end" className="tick">
            {short(t)}
          </text>
        </g>
      ))}
      {bins.map((b, i) => (
        <rect
          key={`${b.lo}-${b.hi}`}
          x={x(i) + 0.5}
          y={y(b.count)}
          width={Math.max(0.5, plotW / bins.length - 1)}
          height={TOP + plotH - y(b.count)}
          className="bar-fill"
        >
          <title>{`${short(b.lo)} – ${short(b.hi)}: ${b.count} rows`}</title>
        </rect>
      ))}
      <line x1={LEFT} x2={W - RIGHT} y1={TOP + plotH} y2={TOP + plotH} className="axis-line" />
      <line x1={LEFT} x2={LEFT} y1={TOP} y2={TOP + plotH} className="axis-line" />
      {xTicks.map((i) => (
        <text
          key={i}
          x={x(i)}
          y={TOP + plotH + 14}
          textAnchor={i === 0 ? 'start' : i === bins.length ? 'end' : 'middle'}
          className="tick"
        >
          {short(i === bins.length ? hi : (bins[i]?.lo ?? hi))}
        </text>
      ))}
      <text x={LEFT + plotW / 2} y={H - 4} textAnchor="middle" className="axis-title">
        {column}
      </text>
      <text
        x={12}
        y={TOP + plotH / 2}
        textAnchor="middle"
        className="axis-title"
        transform={`rotate(-90 12 ${TOP + plotH / 2})`}
      >
        rows
      </text>
    </svg>
  );
}

export function TopValues({ column, values }: { column: string; values: { value: string; count: number }[] }) {
  const max = Math.max(1, ...values.map((v) => v.count));
  const row = 18;
  const labelW = 110;
  const height = values.length * row + 22;
  const plotW = W - labelW - 50;
  return (
    <svg
      className="hist"
      viewBox={`0 0 ${W} ${height}`}
      role="img"
      aria-label={`Most frequent values of ${column}: ${values.map((v) => `${v.value} ${v.count}`).join(', ')}`}
    >
      {values.map((v, i) => (
        <g key={v.value}>
          <text x={labelW - 6} y={i * row + 13} textAnchor="end" className="tick">
            {v.value.length > 16 ? `${v.value.slice(0, 15)}…` : v.value}
          </text>
          <rect x={labelW} y={i * row + 2} width={(v.count / max) * plotW} height={row - 5} className="bar-fill" />
          <text x={labelW + (v.count / max) * plotW + 4} y={i * row + 13} className="tick">
            {v.count}
          </text>
        </g>
      ))}
      <line x1={labelW} x2={labelW} y1={0} y2={values.length * row} className="axis-line" />
      <text x={labelW + plotW / 2} y={height - 4} textAnchor="middle" className="axis-title">
        rows per value of {column}
      </text>
    </svg>
  );
}
