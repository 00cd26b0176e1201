/**
 * Where instrument time goes. Every simulated second the twin spends is attributed to exactly one
 * of these categories; a real instrument's adapter attributes a command's whole duration to the
 * category of the command (see `categoryOfCommand`).
 */
export const LATENCY_CATEGORIES = [
  'stage_travel', // distance / speed (eq. 5)
  'settle_retune', // stage settle after a move, and autofocus / corrector retuning
  'beam_shift', // repositioning the beam or the image shift inside the deflector range (t_bs)
  'scan', // HAADF frames: pixels x dwell + frame overhead
  'edx', // EDX frames (maps) and point spectra: live time + readout
  'eels', // EELS: exposure x frames + overhead
  'control_overhead', // the control server's round trip, paid by every command
] as const;

export type LatencyCategory = (typeof LATENCY_CATEGORIES)[number];

export type Breakdown = Partial<Record<LatencyCategory, number>>;

/** An all-zero breakdown with every category present, for accumulating. */
export function emptyBreakdown(): Record<LatencyCategory, number> {
  return {
    stage_travel: 0,
    settle_retune: 0,
    beam_shift: 0,
    scan: 0,
    edx: 0,
    eels: 0,
    control_overhead: 0,
  };
}

/** Adds `part` into `into` (in place) and returns `into`. */
export function addBreakdown(into: Record<LatencyCategory, number>, part: Breakdown): Record<LatencyCategory, number> {
  for (const c of LATENCY_CATEGORIES) into[c] += part[c] ?? 0;
  return into;
}

/** The category a command's time belongs to when the instrument does not break it down. */
export function categoryOfCommand(command: string, args?: unknown): LatencyCategory {
  switch (command) {
    case 'move_stage':
      return 'stage_travel';
    case 'auto_focus':
      return 'settle_retune';
    case 'place_beam':
    case 'place_beam_list':
    case 'set_image_shift':
      return 'beam_shift';
    case 'acquire_scanned_image':
      return Array.isArray(args) && args.some((d) => String(d).toLowerCase() === 'eds') ? 'edx' : 'scan';
    case 'acquire_spectrum':
      return 'edx';
    case 'acquire_eels_spectrum':
      return 'eels';
    default:
      return 'control_overhead';
  }
}
