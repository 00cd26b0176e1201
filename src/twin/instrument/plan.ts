import type { Draft } from 'immer';
import type { DatasetRecord } from '../../protocol/instrument.js';
import type { InstrumentSpec } from '../../protocol/scenario.js';
import type { Breakdown } from '../../protocol/timing.js';
import type { AberrationDrift } from './aberrations.js';
import type { Acquisitions } from './acquisition.js';
import type { ImageCache } from './image-cache.js';
import type { LatencyModel } from './latency.js';
import type { InstrumentState } from './state.js';

/**
 * A command, checked and costed before it runs: what it takes (its own latency terms, without
 * the round trip every command pays), what it changes at its end, what it returns and what it
 * acquires. Handlers build a Plan from the current snapshot or throw InstrumentError; nothing
 * changes until the twin has waited `breakdown` on the virtual clock.
 */
export interface Plan {
  breakdown: Breakdown;
  /** The change of state, applied when the command ends (at virtual time `end_s`). */
  recipe?: (draft: Draft<InstrumentState>, end_s: number) => void;
  /** The return value (acquisitions return their data key instead). */
  value?: unknown;
  acquisition?: AcquisitionOrder;
}

export type AcquisitionKind = 'haadf' | 'edx-frame' | 'edx-point' | 'eels' | 'camera';

/** What an acquisition will record; rendered when the command ends. */
export interface AcquisitionOrder {
  kind: AcquisitionKind;
  /** Key prefix, e.g. "stem_image_HAADF" or "spectrum_eels". */
  prefix: string;
  /** Key extension, ".h5" or ".tiff" (SCAN output_format). */
  extension: '.h5' | '.tiff';
  /** Renders the datasets; `end_s` is the virtual time the acquisition completes. */
  render(end_s: number): { attrs: Record<string, unknown>; datasets: DatasetRecord[] };
}

/** What a handler sees. */
export interface PlanContext {
  state: InstrumentState;
  spec: InstrumentSpec;
  latency: LatencyModel;
  acquisitions: Acquisitions;
  /** The C1/A1 drift stage moves add (its own Rng stream). */
  drift: AberrationDrift;
  /** The latest images (get_image_data_cached). */
  images: ImageCache;
  /** The command or attribute, for error messages: "DigitalTwin.move_stage", "SCAN.dwell_time". */
  origin: string;
}
