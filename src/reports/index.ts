/**
 * Scan reports people read: one self-contained HTML page per scan (or per comparison of scans), its charts SVG
 * rendered on the server. @observablehq/plot and linkedom load on the first render, never at import.
 */
import type { ScanReport } from '../scans/index.ts';

export async function renderReportHtml(reports: readonly ScanReport[]): Promise<string> {
  if (reports.length === 0) throw new RangeError('renderReportHtml: no report to render');
  const { renderReportHtml: render } = await import('./html-report.ts');
  return render(reports);
}
