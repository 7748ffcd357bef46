/** What every console test in Chromium shares: where Chromium is, where screenshots go, and when to skip. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './server.ts';

export const CHROMIUM = '/usr/bin/chromium';
export const SHOTS = join(REPO_ROOT, 'test-results', 'console');

/** Why the console tests cannot run here (no Chromium, console not built), or false. */
export const consoleSkip: string | false = !existsSync(CHROMIUM)
  ? `Chromium is not installed at ${CHROMIUM} (apt-get install -y chromium)`
  : !existsSync(join(REPO_ROOT, 'ui', 'dist', 'index.html'))
    ? 'the console is not built (npm run build, or npm test which builds it first)'
    : false;

/** The page's globals a layout check reads (no DOM types in this project). */
export interface PageGlobals {
  innerWidth: number;
  document: { documentElement: { scrollWidth: number } };
}
