/**
 * The shape of what acquisitions return, shared by the twin (which writes it) and the analysis
 * (which reads it). Keys and dataset names follow the real server (protocol.md, "Data keys").
 *
 * Geometry. Stage [x, y] (m) is the specimen point at the centre of the field of view when the
 * image shift is zero; the field centre is stage + image shift. A square field of side `fov_m`
 * is scanned in `imsize` x `imsize` pixels, row-major, row index growing with y, column with x:
 *   pixel (row i, col j) centre = centre - fov/2 + ((j + 0.5), (i + 0.5)) * fov / imsize.
 * place_beam([fx, fy]) parks the beam at centre - fov/2 + (fx, fy) * fov.
 *
 * HAADF image: key `stem_image_HAADF_<timestamp>.h5`, dataset `image/HAADF`, shape [imsize, imsize],
 *   counts per pixel (Poisson from dose: current x dwell). Attrs: IMAGE_ATTRS.
 *
 * EDX frame: acquire_scanned_image(["haadf", "eds"]) returns one key `stem_image_HAADF_EDS_<ts>.h5`
 *   with `image/HAADF` and, per element, `image/EDS_<El>`: gross counts per pixel in the window
 *   line +- EDX_WINDOW_HALF_eV (attrs: element, line, line_energy_keV, window_eV [lo, hi],
 *   k_factor), plus `image/EDS_background`: counts per pixel in a line-free window of the same
 *   width (attrs: window_eV), the background estimate under every line window. Net counts of an
 *   element = gross - background; their variance = gross + background.
 *
 * EDX point spectrum: key `spectrum_eds_<ts>.h5`, dataset `spectrum`, shape [4096], counts per
 *   channel. Attrs: SPECTRUM_ATTRS with detector "eds", dispersion_eV 5, offset_eV 0.
 *
 * EELS spectrum: key `spectrum_eels_<ts>.h5`, dataset `spectrum`, shape [2048], counts per
 *   channel. Attrs: SPECTRUM_ATTRS with detector "eels". The specimen's target property shows as
 *   the energy of a peak (a plasmon-like feature) in the low-loss region: its position is the
 *   measured target value in eV.
 *
 * Timestamps in keys come from the instrument's own clock (virtual time for the twin), so the
 * same scenario and seed give the same keys.
 */

/** Attributes on every image dataset. */
export interface ImageAttrs {
  detector: string;
  fov_m: number;
  imsize: number;
  pixel_size_m: number;
  dwell_time_s: number;
  /** [x, y] of the field centre in m (stage + image shift). */
  center_m: [number, number];
  beam_current_pA: number;
  /** Seconds the whole frame took, including overhead. */
  frame_time_s: number;
}

/** Attributes on every spectrum dataset. */
export interface SpectrumAttrs {
  detector: 'eds' | 'eels';
  dispersion_eV: number;
  offset_eV: number;
  /** Live time (EDX) or exposure per frame (EELS). */
  exposure_time_s: number;
  number_of_frames: number;
  /** [x, y] in m where the beam was parked. */
  beam_position_m: [number, number];
  beam_current_pA: number;
}

export const EDS_CHANNELS = 4096;
export const EDS_DISPERSION_eV = 5;
export const EELS_CHANNELS = 2048;

export function timestampKey(prefix: string, t_s: number): string {
  // A fixed epoch plus the instrument clock: deterministic, shaped like the real server's keys.
  const d = new Date(Date.UTC(2026, 0, 1) + Math.round(t_s * 1000));
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const micro = pad(Math.round((t_s * 1e6) % 1e6), 6);
  const stamp = `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}T${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}${micro}`;
  return `${prefix}_${stamp}.h5`;
}
