/**
 * X-ray lines and scattering power of the elements a library may mix. Physics shared by the twin
 * (which renders spectra) and by the client-side analysis (which quantifies them), as it would be
 * on a real instrument: the experimenter knows which elements were deposited.
 */
export interface XrayLine {
  name: string;
  energy_keV: number;
  /** Relative intensity within the element's emission (quantification line = 1). */
  relative: number;
}

export interface ElementData {
  symbol: string;
  Z: number;
  /** The line used to quantify (the strongest line well separated from the other elements'). */
  quantLine: XrayLine;
  /** Other lines the twin renders (they make the spectra realistic; analysis may ignore them). */
  otherLines: XrayLine[];
  /** Cliff-Lorimer-style sensitivity: counts in the quant line per unit atomic fraction, relative. */
  kFactor: number;
}

const E = (symbol: string, Z: number, quantLine: XrayLine, otherLines: XrayLine[], kFactor: number): ElementData => ({
  symbol,
  Z,
  quantLine,
  otherLines,
  kFactor,
});
const L = (name: string, energy_keV: number, relative = 1): XrayLine => ({ name, energy_keV, relative });

export const ELEMENTS: Readonly<Record<string, ElementData>> = {
  Ti: E('Ti', 22, L('Ka', 4.511), [L('Kb', 4.932, 0.13)], 1.0),
  Cr: E('Cr', 24, L('Ka', 5.415), [L('Kb', 5.947, 0.13)], 1.0),
  Mn: E('Mn', 25, L('Ka', 5.899), [L('Kb', 6.49, 0.13)], 1.0),
  Fe: E('Fe', 26, L('Ka', 6.404), [L('Kb', 7.058, 0.13)], 1.0),
  Co: E('Co', 27, L('Ka', 6.93), [L('La', 0.776, 0.1)], 1.0),
  Ni: E('Ni', 28, L('Ka', 7.478), [L('La', 0.851, 0.1)], 1.05),
  Cu: E('Cu', 29, L('Ka', 8.048), [L('La', 0.93, 0.1)], 1.1),
  Ru: E('Ru', 44, L('La', 2.558), [L('Ka', 19.279, 0.3)], 0.9),
  Rh: E('Rh', 45, L('La', 2.697), [L('Ka', 20.216, 0.3)], 0.9),
  Pd: E('Pd', 46, L('La', 2.838), [L('Ka', 21.177, 0.3)], 0.95),
  Ag: E('Ag', 47, L('La', 2.984), [L('Ka', 22.163, 0.3)], 0.95),
  Ir: E('Ir', 77, L('La', 9.175), [L('Ma', 1.98, 0.8)], 0.7),
  Pt: E('Pt', 78, L('La', 9.442), [L('Ma', 2.048, 0.8)], 0.7),
  Au: E('Au', 79, L('La', 9.713), [L('Ma', 2.123, 0.8)], 0.7),
};

export function elementData(symbol: string): ElementData {
  const e = ELEMENTS[symbol];
  if (!e) throw new Error(`unknown element "${symbol}" (known: ${Object.keys(ELEMENTS).join(', ')})`);
  return e;
}

/** Half-width of the energy window around a line used for element maps and quantification. */
export const EDX_WINDOW_HALF_eV = 100;
