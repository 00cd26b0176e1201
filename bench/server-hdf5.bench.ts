import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseScenario } from '../src/protocol/scenario.js';
import { hdf5Library, writeHdf5 } from '../src/server/data/hdf5-writer.js';
import { createTwin } from '../src/twin/index.js';

/**
 * What a served twin pays to write one acquisition as HDF5 (src/server/data/hdf5-writer.ts):
 * a 512 x 512 HAADF overview and a 4096-channel EDS spectrum, each written ROUNDS times, as
 * ratios to peers measured in the same run: the in-process acquisition that made the record (the
 * twin's own cost of the command) and a plain fs.writeFileSync of the same array bytes.
 * In-process campaigns write nothing, so they do not pay this. Target: one overview's write
 * costs at most 3 times its in-process acquisition (the file work then at most triples what a
 * served overview costs the server's event loop).
 */
const ROUNDS = 20;
const RATIO_TARGET = 3;

const scenario = parseScenario({
  name: 'hdf5-bench',
  specimen: { area_um: [60, 60], density_per_um2: 0.05, response: { gaussians: 200 } },
});

async function median_ms(rounds: number, f: () => Promise<unknown> | unknown): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    await f();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export default async function (): Promise<void> {
  const { instrument } = createTwin(scenario);
  await instrument.writeAttribute({ device: 'SCAN', attribute: 'imsize', value: 512 });
  const acquire_ms = await median_ms(ROUNDS, () => instrument.execute({ command: 'acquire_scanned_image', args: ['haadf'] }));
  const overview = await instrument.getData((await instrument.execute({ command: 'acquire_scanned_image', args: ['haadf'] })).value as string);
  await instrument.execute({ command: 'place_beam', args: [0.5, 0.5] });
  const spectrum = await instrument.getData((await instrument.execute({ command: 'acquire_spectrum', args: 'eds' })).value as string);

  const dir = mkdtempSync(join(tmpdir(), 'hdf5-bench-'));
  try {
    const load_t = performance.now();
    await hdf5Library();
    const load_ms = performance.now() - load_t;
    const bytes = (r: typeof overview) => Buffer.from(Uint32Array.from(r.datasets[0]!.values).buffer);
    const overviewBytes = bytes(overview);
    const spectrumBytes = bytes(spectrum);
    await writeHdf5(join(dir, 'warm.h5'), overview);
    const h5Overview_ms = await median_ms(ROUNDS, () => writeHdf5(join(dir, overview.key), overview));
    const h5Spectrum_ms = await median_ms(ROUNDS, () => writeHdf5(join(dir, spectrum.key), spectrum));
    const rawOverview_ms = await median_ms(ROUNDS, () => writeFileSync(join(dir, 'overview.raw'), overviewBytes));
    const rawSpectrum_ms = await median_ms(ROUNDS, () => writeFileSync(join(dir, 'spectrum.raw'), spectrumBytes));

    const ratio = h5Overview_ms / acquire_ms;
    console.log(`   h5wasm loaded once in ${load_ms.toFixed(0)} ms (first write of a served twin only)`);
    console.log(`   512x512 HAADF overview: HDF5 write ${h5Overview_ms.toFixed(2)} ms, in-process acquisition ${acquire_ms.toFixed(2)} ms -> ratio ${ratio.toFixed(2)}; plain write of the same bytes ${rawOverview_ms.toFixed(2)} ms -> HDF5 / plain ${(h5Overview_ms / rawOverview_ms).toFixed(1)}`);
    console.log(`   4096-channel EDS spectrum: HDF5 write ${h5Spectrum_ms.toFixed(2)} ms; plain write ${rawSpectrum_ms.toFixed(3)} ms -> HDF5 / plain ${(h5Spectrum_ms / rawSpectrum_ms).toFixed(1)}`);
    console.log(`   target: overview write / acquisition <= ${RATIO_TARGET}: ${ratio <= RATIO_TARGET ? 'PASS' : 'FAIL'}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
