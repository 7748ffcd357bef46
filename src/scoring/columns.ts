/**
 * Which input column feeds which model feature, and which columns are kept in the output.
 *
 * Rules, in order: by the signature's feature names when the header has all of them (exact, then ignoring case);
 * else by position when the input has exactly as many columns as the model has features, or as many once the
 * `keep` columns (an id, say) are set aside; else an
 * `invalid_input` error naming the missing columns (or the counts, when no names are known).
 */
import { ModelportError } from '../core/index.ts';

export interface ColumnPlan {
  /** Fields per record (CSV: every record must have this many). */
  readonly columnCount: number;
  /** Per input column, the feature it feeds, or -1. */
  readonly feature: Int32Array;
  /** Per input column, its slot among the kept columns, or -1. */
  readonly keep: Int32Array;
  /** Names of the input columns (`column 3` style when there is no header). */
  readonly columnNames: readonly string[];
  /** Names of the kept columns, in output order. */
  readonly keepNames: readonly string[];
  readonly width: number;
  readonly byName: boolean;
}

export interface PlanOptions {
  /** The header's names, or null when the input has no header (its first record is data). */
  header: readonly string[] | null;
  columnCount: number;
  /** Features the model takes. */
  width: number;
  featureNames?: readonly string[] | undefined;
  keep?: readonly string[];
}

const invalidInput = (message: string) => new ModelportError('invalid_input', message, { field: 'input' });

function indexOfName(header: readonly string[], name: string): number {
  const exact = header.indexOf(name);
  if (exact >= 0) return exact;
  const lower = name.toLowerCase();
  const matches = header.flatMap((h, i) => (h.trim().toLowerCase() === lower ? [i] : []));
  return matches.length === 1 ? (matches[0] as number) : -1;
}

/** How many distinct header columns the `keep` names find. */
function keptColumns(header: readonly string[], keepNames: readonly string[]): number {
  return new Set(keepNames.map((name) => indexOfName(header, name)).filter((i) => i >= 0)).size;
}

/** Example: `planColumns({ header: ['id', 'time', ...], columnCount: 32, width: 30, featureNames, keep: ['id'] })`. */
export function planColumns(options: PlanOptions): ColumnPlan {
  const { header, columnCount, width, featureNames } = options;
  const keepNames = options.keep ?? [];
  const feature = new Int32Array(columnCount).fill(-1);
  const keep = new Int32Array(columnCount).fill(-1);
  const columnNames = header ?? Array.from({ length: columnCount }, (_, i) => `column ${i + 1}`);

  let byName = false;
  const positions = header && featureNames ? featureNames.map((name) => indexOfName(header, name)) : [];
  const found = positions.filter((p) => p >= 0).length;
  if (featureNames && found === featureNames.length) {
    positions.forEach((column, f) => {
      feature[column] = f;
    });
    byName = true;
  } else if (columnCount === width && found === 0) {
    for (let i = 0; i < width; i++) feature[i] = i;
  } else if (found === 0 && header && keepNames.length > 0 && columnCount - keptColumns(header, keepNames) === width) {
    // Columns named in --keep are carried through, not features: the rest feed the model in order.
    const kept = new Set(keepNames.map((name) => indexOfName(header, name)));
    let f = 0;
    for (let i = 0; i < columnCount; i++) if (!kept.has(i)) feature[i] = f++;
  } else if (featureNames && header) {
    const missing = featureNames.filter((_, f) => (positions[f] as number) < 0);
    const shown =
      missing.length > 8 ? `${missing.slice(0, 8).join(', ')} and ${missing.length - 8} more` : missing.join(', ');
    throw invalidInput(
      `the input has no column ${shown}; the model takes ${width} features (${featureNames.join(', ')}): name the columns in the header, or give exactly ${width} columns in the model's order`,
    );
  } else {
    throw invalidInput(
      `the model takes ${width} features but the input has ${columnCount} columns${keepNames.length ? ` (${keepNames.length} of them kept with --keep)` : ''} and no feature names are known; pass --signature with featureNames, or give exactly ${width} columns besides the --keep ones`,
    );
  }

  keepNames.forEach((name, slot) => {
    if (!header) {
      throw new ModelportError('invalid_request', `--keep ${name}: the input has no header line naming its columns`, {
        field: 'keep',
      });
    }
    const column = indexOfName(header, name);
    if (column < 0) {
      throw new ModelportError(
        'invalid_request',
        `--keep: the input has no column '${name}' (columns: ${header.slice(0, 40).join(', ')})`,
        { field: 'keep' },
      );
    }
    keep[column] = slot;
  });
  return { columnCount, feature, keep, columnNames, keepNames, width, byName };
}
