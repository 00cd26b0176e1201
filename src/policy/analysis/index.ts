/**
 * Client-side analysis of acquisitions, on data as any microscope returns them: it imports only
 * src/protocol. Particle finding (HAADF), EDX quantification (frames and point spectra, with
 * eqs. (2)-(3) of model.md), and the target value from a low-loss EELS peak.
 */
export { findParticles, radiusFromScattering_m, sphereScattering_m2, type FoundParticle, type FindParticlesOptions } from './particles.js';
export { quantifyFromFrame, quantifyPointSpectrum, simplexReestimate, type Composition, type QuantifyOptions } from './composition.js';
export { extractTarget, type TargetValue, type ExtractTargetOptions } from './eels.js';
