/** Whether a shadow's answer agrees with the primary's: integers and labels exactly, floats within a tolerance. */
import type { Tensor } from '../core/index.ts';

const TOLERANCE = 1e-3;

export function outputsAgree(primary: readonly Tensor[], shadow: readonly Tensor[]): boolean {
  if (primary.length !== shadow.length) return false;
  for (const a of primary) {
    const b = shadow.find((t) => t.name === a.name);
    if (!b || b.datatype !== a.datatype || b.shape.join() !== a.shape.join()) return false;
    if (!dataAgree(a, b)) return false;
  }
  return true;
}

function dataAgree(a: Tensor, b: Tensor): boolean {
  if (Array.isArray(a.data) || Array.isArray(b.data)) {
    const x = a.data as Uint8Array[];
    const y = b.data as Uint8Array[];
    return x.length === y.length && x.every((v, i) => Buffer.compare(v, y[i]!) === 0);
  }
  const x = a.data;
  const y = b.data;
  if (x.length !== y.length) return false;
  const floating = a.datatype === 'FP32' || a.datatype === 'FP64';
  for (let i = 0; i < x.length; i++) {
    const u = x[i]!;
    const v = y[i]!;
    if (floating) {
      if (Math.abs((u as number) - (v as number)) > TOLERANCE * Math.max(1, Math.abs(u as number))) return false;
    } else if (u !== v) return false;
  }
  return true;
}
