/**
 * A time-series chart drawn by Observable Plot: a time x axis that spans the data (never a fixed window that
 * squeezes fresh points into its last pixels), a labelled y axis with its unit, one line per series (per traffic
 * arm), and a tip with the values under the pointer. Gaps (null: no traffic, so no latency) break the line. The
 * first series' values are also in `data-points`, for tests and tools.
 */
import { useEffect, useRef, useState } from 'react';

type PlotModule = typeof import('@observablehq/plot');
/** Plot (and the d3 it brings) loads with the first chart, in its own chunk: pages without charts never pay for it. */
let plotModule: Promise<PlotModule> | undefined;
const loadPlot = () => {
  plotModule ??= import('@observablehq/plot');
  return plotModule;
};

export interface ChartSeries {
  /** The legend's name: `stable (fraud@2)`. */
  name: string;
  /** [epoch ms, value or null], oldest first. */
  points: [number, number | null][];
}

export interface ChartProps {
  title: string;
  /** The y axis's unit: `req/s`, `ms`, `%`. */
  unit: string;
  series: ChartSeries[];
  /** The x axis: [start, end] epoch ms. */
  domain: [number, number];
  format?: (value: number) => string;
  /** Whole numbers only (replicas): the y axis ticks at integers. */
  integer?: boolean;
}

interface Row {
  time: Date;
  value: number | null;
  series: string;
}

/** The width the chart's box has, followed as the window resizes. */
function useWidth(ref: React.RefObject<HTMLElement | null>): number {
  const [width, setWidth] = useState(320);
  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    const observer = new ResizeObserver(([entry]) => {
      if (entry) setWidth(Math.max(200, Math.floor(entry.contentRect.width)));
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, [ref]);
  return width;
}

export function Chart({ title, unit, series, domain, format = (v) => v.toFixed(1), integer = false }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const width = useWidth(box);
  const rows: Row[] = series.flatMap((s) =>
    s.points.map(([t, value]) => ({ time: new Date(t), value, series: s.name })),
  );
  const values = rows.map((r) => r.value).filter((v): v is number => v !== null);
  const latestOf = (s: ChartSeries | undefined) => s?.points.at(-1)?.[1];
  const latest = latestOf(series[0]);
  const latestText =
    series.length > 1
      ? series.map((s) => `${s.name.split(' ')[0]} ${fmt(latestOf(s), format)}`).join(' · ') + ` ${unit}`
      : `${fmt(latest, format)}${latest === null || latest === undefined ? '' : ` ${unit}`}`;
  const peak = values.length ? format(Math.max(...values)) : '–';
  const names = series.map((s) => s.name);

  useEffect(() => {
    const element = box.current;
    if (!element) return;
    let plot: Element | undefined;
    let cancelled = false;
    void loadPlot().then((Plot) => {
      if (cancelled) return;
      plot = draw(Plot);
      element.replaceChildren(plot);
    });
    return () => {
      cancelled = true;
      plot?.remove();
    };
  });

  const draw = (Plot: PlotModule) =>
    Plot.plot({
      width,
      height: 180,
      marginLeft: 48,
      style: { background: 'transparent', fontSize: '11px' },
      x: { type: 'time', domain: domain.map((t) => new Date(t)), label: 'time', ticks: width < 360 ? 3 : 6 },
      y: {
        label: unit,
        grid: true,
        zero: true,
        domain: values.length ? undefined : [0, 1],
        tickFormat: (v: number) => (integer && !Number.isInteger(v) ? '' : format(v)),
        ...(integer ? { ticks: Math.min(5, Math.max(1, ...values)) } : {}),
      },
      color: { domain: names, legend: names.length > 1 },
      marks: [
        Plot.ruleY([0]),
        Plot.lineY(rows, { x: 'time', y: 'value', stroke: names.length > 1 ? 'series' : 'var(--accent)', z: 'series' }),
        // Points too, so that a sample between gaps (a canary's rare slow request) still shows.
        Plot.dot(
          rows.filter((r) => r.value !== null),
          { x: 'time', y: 'value', r: 2, fill: names.length > 1 ? 'series' : 'var(--accent)' },
        ),
        Plot.dot(
          rows,
          Plot.pointerX({ x: 'time', y: 'value', fill: names.length > 1 ? 'series' : 'var(--accent)', r: 3 }),
        ),
        Plot.tip(
          rows,
          Plot.pointerX({
            x: 'time',
            y: 'value',
            title: (r: Row) =>
              `${r.series}\n${r.time.toLocaleTimeString()}\n${r.value === null ? 'no traffic' : `${format(r.value)} ${unit}`}`,
          }),
        ),
      ],
    });

  return (
    <figure className="chart">
      <figcaption>
        <span>{title}</span>
        <strong data-testid={`latest-${title}`}>{latestText}</strong>
      </figcaption>
      <div
        ref={box}
        className="plot"
        role="img"
        aria-label={`${title} in ${unit}, ${names.join(', ')}; latest ${latestText}; peak ${peak} ${unit}`}
        data-points={JSON.stringify(series[0]?.points.map(([, v]) => v) ?? [])}
        data-series={JSON.stringify(Object.fromEntries(series.map((s) => [s.name, s.points.map(([, v]) => v)])))}
      />
    </figure>
  );
}

function fmt(value: number | null | undefined, format: (v: number) => string): string {
  return value === null || value === undefined ? '–' : format(value);
}
