import type { ArgType } from './commands.js';
import { InstrumentError } from './instrument.js';

/**
 * Values as Tango carries them. DevFloat and DevVarFloatArray are 32-bit on the real server: a
 * client's 8e-9 arrives as 7.999999773744548e-09 and comes back so. The twin rounds every command
 * argument and result through here, in the command surface itself, so an in-process campaign and
 * one over MCP or Tango see the very same numbers.
 */

/** The largest finite float32. */
export const FLOAT32_MAX = 3.4028234663852886e38;

function toFloat32(origin: string, what: string, v: number): number {
  if (Number.isFinite(v) && Math.abs(v) > FLOAT32_MAX) {
    throw new InstrumentError('API_InvalidArgument', `${what} ${v} is beyond the range of a 32-bit float (Tango DevFloat, up to ${FLOAT32_MAX.toExponential(4)})`, origin);
  }
  return Math.fround(v);
}

/**
 * A value of Tango type `type` as the wire leaves it: floats rounded to float32 (a number array of
 * DevVarFloatArray element by element). Anything of the wrong shape passes unchanged, for the
 * command's own checks to refuse with a message that names it.
 */
export function asTango(type: ArgType, v: unknown, origin: string, what = 'the argument'): unknown {
  if (type === 'DevFloat' && typeof v === 'number') return toFloat32(origin, what, v);
  if (type === 'DevVarFloatArray' && (Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView)))) {
    return Array.from(v as ArrayLike<unknown>, (x, i) => (typeof x === 'number' ? toFloat32(origin, `${what}[${i}]`, x) : x));
  }
  return v;
}
