import type { DatasetRecord } from '../../protocol/instrument.js';
import type { Rng } from '../../protocol/random.js';
import type { InstrumentSpec } from '../../protocol/scenario.js';
import { renderEdxFrame, renderEdxPointSpectrum, renderEelsSpectrum, renderHaadf, type FieldGeometry, type Optics } from '../signals/index.js';
import type { Particle, Specimen } from '../types.js';
import { renderCameraImage } from './camera.js';
import { beamPosition_m, fieldCenter_m } from './geometry.js';
import { LatencyModel } from './latency.js';
import type { AcquisitionOrder } from './plan.js';
import { EELS_APERTURES, EELS_DISPERSIONS_eV, READOUT_AREAS, type InstrumentState } from './state.js';

export type ScanDetector = 'haadf' | 'eds';

/**
 * Turns a snapshot of the instrument into acquisition orders: which particles the beam sees,
 * through which optics, rendered by src/twin/signals when the command ends. Each kind of
 * acquisition draws from its own Rng stream, so adding frames of one kind never shifts another.
 */
export class Acquisitions {
  private readonly rng: Record<'haadf' | 'edxFrame' | 'edxPoint' | 'eels' | 'camera', Rng>;
  private readonly maxRadius_m: number;

  constructor(
    private readonly specimen: Specimen,
    private readonly spec: InstrumentSpec,
    rng: Rng,
  ) {
    this.rng = {
      haadf: rng.fork('haadf'),
      edxFrame: rng.fork('edx-frame'),
      edxPoint: rng.fork('edx-point'),
      eels: rng.fork('eels'),
      camera: rng.fork('camera'),
    };
    let r = 0;
    for (const p of specimen.particles) r = Math.max(r, p.radius_m);
    this.maxRadius_m = r;
  }

  /**
   * Probe and signal of the current snapshot: degraded while detuned, i.e. while the residual C1
   * or A1 the corrector sees is above TUNED_RESIDUAL_m (aberrations.ts; after a stage move,
   * until auto_focus or correct_aberration).
   */
  optics(state: InstrumentState): Optics {
    return {
      beam_current_pA: state.beam_current_pA,
      probe_sigma_m: this.spec.probe_sigma_nm * 1e-9,
      blur_m: state.tuned ? 0 : this.spec.detuned_blur_nm * 1e-9,
      signal_factor: state.tuned ? 1 : this.spec.detuned_signal_factor,
    };
  }

  /** Particles that can contribute signal inside the rectangle (their discs and the probe tails reach in). */
  private particlesNear(x0: number, y0: number, x1: number, y1: number, optics: Optics): Particle[] {
    const margin = this.maxRadius_m + 5 * (optics.probe_sigma_m + optics.blur_m);
    return this.specimen.particlesIn(x0 - margin, y0 - margin, x1 + margin, y1 + margin);
  }

  /**
   * A scan (acquire_scanned_image). The SCAN scan_region is scanned at the full frame's pixel
   * size: a square field covering the region is rendered from its top-left corner and cropped to
   * rows x cols, so the image attrs (center_m, fov_m, imsize) still map pixels to positions.
   */
  scan(state: InstrumentState, detectors: readonly ScanDetector[], frame_time_s: number): AcquisitionOrder {
    const { imsize, scan_region, dwell_time, output_format } = state.scan;
    const { rows, cols } = LatencyModel.scanShape(imsize, scan_region);
    const pixel_m = state.fov_m / imsize;
    const n = Math.max(rows, cols);
    const [cx, cy] = fieldCenter_m(state);
    const left_m = cx - state.fov_m / 2 + scan_region[0] * state.fov_m;
    const top_m = cy - state.fov_m / 2 + scan_region[1] * state.fov_m;
    const field: FieldGeometry = { center_m: [left_m + (n * pixel_m) / 2, top_m + (n * pixel_m) / 2], fov_m: n * pixel_m, imsize: n };
    const optics = this.optics(state);
    const withEds = detectors.includes('eds');
    const withHaadf = detectors.includes('haadf');
    const tag = (['haadf', 'eds'] as const).filter((d) => detectors.includes(d)).map((d) => d.toUpperCase()).join('_');
    return {
      kind: withEds ? 'edx-frame' : 'haadf',
      prefix: `stem_image_${tag}`,
      extension: output_format,
      render: (end_s) => {
        const particles = this.particlesNear(left_m, top_m, left_m + n * pixel_m, top_m + n * pixel_m, optics);
        let datasets: DatasetRecord[];
        if (withEds) {
          datasets = renderEdxFrame(particles, this.specimen.elements, field, this.spec.edx_frame_s, optics, this.rng.edxFrame, frame_time_s);
          if (!withHaadf) datasets = datasets.filter((d) => d.name !== 'image/HAADF');
        } else {
          datasets = [renderHaadf(particles, this.specimen.elements, field, dwell_time, optics, this.rng.haadf, frame_time_s)];
        }
        // The real server's attrs (src/protocol/data.ts): acquisition_type and the upper-case detector.
        datasets = datasets.map((d) =>
          cropImage({ ...d, attrs: { ...d.attrs, acquisition_type: 'stem_image', detector: String(d.attrs.detector).toUpperCase(), scan_region: [...scan_region] } }, rows, cols),
        );
        const attrs = { acquisition_type: 'stem_image', detector: tag, kind: withEds ? 'edx-frame' : 'haadf', acquired_s: end_s, detectors: [...detectors], tuned: state.tuned };
        return { attrs, datasets };
      },
    };
  }

  /** An EDX point spectrum at the parked beam, with the EDS exposure as live time. */
  edxPoint(state: InstrumentState): AcquisitionOrder {
    const beam_m = beamPosition_m(state);
    const optics = this.optics(state);
    const live_s = state.eds.exposure_time;
    return {
      kind: 'edx-point',
      prefix: 'spectrum_eds',
      extension: '.h5',
      render: (end_s) => {
        const particles = this.particlesNear(beam_m[0], beam_m[1], beam_m[0], beam_m[1], optics);
        const spectrum = renderEdxPointSpectrum(particles, this.specimen.elements, beam_m, live_s, optics, this.rng.edxPoint);
        const real = { acquisition_type: 'spectrum', detector: 'eds', elements: [...this.specimen.elements] };
        return { attrs: { ...real, kind: 'edx-point', acquired_s: end_s, tuned: state.tuned }, datasets: [{ ...spectrum, attrs: { ...spectrum.attrs, ...real } }] };
      },
    };
  }

  /** An EELS spectrum at the parked beam: EELS exposure x frames, through the selected aperture. */
  eels(state: InstrumentState): AcquisitionOrder {
    const beam_m = beamPosition_m(state);
    const base = this.optics(state);
    const aperture = EELS_APERTURES[state.eels.aperture_index]!;
    // One literal (not a spread of `base`), so every EELS optics object has the same shape.
    const optics: Optics = { beam_current_pA: base.beam_current_pA, probe_sigma_m: base.probe_sigma_m, blur_m: base.blur_m, signal_factor: base.signal_factor * aperture.collection };
    const { exposure_time, number_of_frames, offset } = state.eels;
    const dispersion_eV = EELS_DISPERSIONS_eV[state.eels.dispersion_index]!;
    return {
      kind: 'eels',
      prefix: 'spectrum_eels',
      extension: '.h5',
      render: (end_s) => {
        const particles = this.particlesNear(beam_m[0], beam_m[1], beam_m[0], beam_m[1], optics);
        const spectrum = renderEelsSpectrum(particles, beam_m, exposure_time, number_of_frames, offset, optics, this.specimen.truth, this.rng.eels, dispersion_eV);
        const real = { acquisition_type: 'spectrum', detector: 'eels' };
        return {
          attrs: { ...real, kind: 'eels', acquired_s: end_s, tuned: state.tuned, aperture: aperture.name, dispersion_index: state.eels.dispersion_index },
          datasets: [{ ...spectrum, attrs: { ...spectrum.attrs, ...real } }],
        };
      },
    };
  }

  /**
   * A camera image with the beam parked (see camera.ts), with the CAMERA settings: exposure x
   * frames combined, imsize cut by the readout area.
   */
  camera(state: InstrumentState): AcquisitionOrder {
    const beam_m = beamPosition_m(state);
    const optics = this.optics(state);
    const { exposure_time, frame_combining, imsize, readout_area, camera_detector } = state.camera;
    const size_px = Math.max(1, Math.round(imsize * READOUT_AREAS[readout_area]));
    return {
      kind: 'camera',
      prefix: 'camera_image',
      extension: '.h5',
      render: (end_s) => {
        const particles = this.particlesNear(beam_m[0], beam_m[1], beam_m[0], beam_m[1], optics);
        const image = renderCameraImage(particles, beam_m, exposure_time * frame_combining, optics.beam_current_pA, optics.signal_factor, this.rng.camera, size_px);
        image.attrs = { ...image.attrs, acquisition_type: 'camera_image', detector: camera_detector, readout_area, frame_combining, exposure_time_s: exposure_time };
        return { attrs: { acquisition_type: 'camera_image', detector: camera_detector, kind: 'camera', acquired_s: end_s, tuned: state.tuned }, datasets: [image] };
      },
    };
  }
}

/** Keeps the top-left rows x cols of a square [n, n] image dataset (non-image datasets pass through). */
export function cropImage(d: DatasetRecord, rows: number, cols: number): DatasetRecord {
  if (d.shape.length !== 2) return d;
  const [n, m] = d.shape as [number, number];
  if (n === rows && m === cols) return d;
  if (rows > n || cols > m) throw new Error(`cropImage: ${rows} x ${cols} does not fit in ${n} x ${m} (${d.name})`);
  const values = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) values.set(d.values.subarray(i * m, i * m + cols), i * cols);
  return { ...d, shape: [rows, cols], values };
}
