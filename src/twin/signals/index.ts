/**
 * The twin's signal models (forward): what the detectors record from the particles in and near
 * a field, through the optics of the moment. Every renderer draws its noise from the Rng passed
 * in, in a fixed order, so the same inputs and seed give the same data byte for byte.
 */
export type { FieldGeometry, Optics } from './checks.js';
export { renderHaadf, expectedHaadf, haadfMu_per_m, HAADF_MU_AU_PER_NM, SUPPORT_THICKNESS_NM } from './haadf.js';
export { renderEdxFrame, renderEdxPointSpectrum, EDX_FRAME_YIELD_PER_NM, EDX_POINT_YIELD_PER_NM } from './edx.js';
export { renderEelsSpectrum, EELS_DEFAULT_DISPERSION_eV, FEATURE_FWHM_eV } from './eels.js';
export { backgroundWindow_eV, detectorFwhm_eV } from './xray.js';
