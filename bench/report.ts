/**
 * Presentation of the serving benchmark: the req/s, p50 and p99 table as text, and the same figures as a
 * hand-rolled SVG bar chart (one group of bars per series, one bar per connection count, log scale).
 */
import type { LoadResult } from './load.ts';

export interface Series {
  /** e.g. `fraud V2 JSON` */
  label: string;
  /** By connection count. */
  points: Record<number, LoadResult>;
}

const num = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** A fixed-width table: one row per series and connection count, CPU per request where measured. */
export function formatTable(series: Series[], connections: number[]): string {
  const head = ['series', 'conns', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'server us/req', 'worker us/req'];
  const optional = (value: number | undefined) => (value === undefined ? '-' : num(value));
  const rows = series.flatMap((s) =>
    connections.flatMap((c) => {
      const p = s.points[c];
      if (!p) return [];
      const cells = [s.label, String(c), num(p.rps), num(p.p50Ms, 2), num(p.p99Ms, 2), String(p.errors)];
      return [[...cells, optional(p.serverUsPerRequest), optional(p.workerUsPerRequest)]];
    }),
  );
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] as number) : cell.padStart(widths[i] as number)))
      .join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const COLORS = ['#9ecae1', '#4292c6', '#2171b5', '#08306b'];

/** Grouped bars of req/s (log scale), with a legend of connection counts. */
export function renderSvg(title: string, series: Series[], connections: number[]): string {
  const bar = 14;
  const group = connections.length * bar + 18;
  const left = 60;
  const top = 40;
  const height = 260;
  const width = left + series.length * group + 20;
  const rates = series.flatMap((s) => Object.values(s.points).map((p) => p.rps)).filter((r) => r >= 1);
  // From the decade below the slowest series to the one above the fastest: an axis from 1 req/s left every bar in
  // its top third, where the differences the chart is for were hard to see.
  const low = Math.floor(Math.log10(rates.length > 0 ? Math.min(...rates) : 10));
  const decades = Math.max(1, Math.ceil(Math.log10(Math.max(10, ...rates))) - low);
  const y = (rps: number) => top + height - ((Math.log10(Math.max(10 ** low, rps)) - low) / decades) * height;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${top + height + 120}" font-family="sans-serif" font-size="11">`,
    `<text x="${left}" y="20" font-size="14">${title}</text>`,
  ];
  for (let d = low; d <= low + decades; d++) {
    const yy = y(10 ** d);
    parts.push(`<line x1="${left}" x2="${width - 10}" y1="${yy}" y2="${yy}" stroke="#ddd"/>`);
    parts.push(`<text x="${left - 6}" y="${yy + 4}" text-anchor="end">${num(10 ** d)}</text>`);
  }
  series.forEach((s, i) => {
    const x0 = left + 10 + i * group;
    connections.forEach((c, j) => {
      const p = s.points[c];
      if (!p) return;
      const yy = y(p.rps);
      parts.push(
        `<rect x="${x0 + j * bar}" y="${yy}" width="${bar - 2}" height="${top + height - yy}" fill="${COLORS[j % COLORS.length]}"><title>${s.label} @${c}: ${num(p.rps)} req/s, p99 ${num(p.p99Ms, 2)} ms</title></rect>`,
      );
    });
    parts.push(
      `<text transform="translate(${x0 + 4},${top + height + 8}) rotate(45)">${s.label.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</text>`,
    );
  });
  connections.forEach((c, j) => {
    const x = left + j * 110;
    parts.push(`<rect x="${x}" y="${top + height + 100}" width="10" height="10" fill="${COLORS[j % COLORS.length]}"/>`);
    parts.push(`<text x="${x + 14}" y="${top + height + 109}">${c} connections</text>`);
  });
  parts.push(`<text x="8" y="${top + height / 2}" transform="rotate(-90 8 ${top + height / 2})">req/s (log)</text>`);
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
