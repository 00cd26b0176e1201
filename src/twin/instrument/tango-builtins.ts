import { COMMANDS, tangoDeviceName, type DeviceName } from '../../protocol/commands.js';
import { InstrumentError } from '../../protocol/instrument.js';
import { noArgument } from './args.js';
import type { CommandHandler } from './handler-kit.js';
import type { InstrumentState } from './state.js';

/**
 * Tango's own State and Status, on every device. The instrument reports its ON / OFF / FAULT;
 * the support devices (SCAN, EDS, ...) have no life of their own in the twin: they mirror a
 * FAULT of the instrument and are ON otherwise (an OFF instrument after Disconnect leaves its
 * detectors powered). Both are always allowed, also OFF or in FAULT (Twin.checkDeviceState).
 */
export const TANGO_BUILTINS = ['State', 'Status'] as const;

export function isTangoBuiltin(command: string): boolean {
  return (TANGO_BUILTINS as readonly string[]).includes(command);
}

export function deviceState(s: InstrumentState, device: DeviceName): InstrumentState['device'] {
  if (device === 'instrument') return s.device;
  return s.device === 'FAULT' ? 'FAULT' : 'ON';
}

/** Tango's status text: "The device is in ON state.", with the reason in FAULT. */
export function deviceStatus(s: InstrumentState, device: DeviceName): string {
  const state = deviceState(s, device);
  if (state !== 'FAULT') return `The device is in ${state} state.`;
  const why = device === 'instrument' ? s.fault : `the instrument ${tangoDeviceName('instrument')} is in FAULT: ${s.fault}`;
  return `The device is in FAULT state: ${why}.`;
}

export function builtinHandlers(device: DeviceName): Record<string, CommandHandler> {
  return {
    State: (ctx, args) => {
      noArgument(ctx.origin, args);
      return { breakdown: {}, value: deviceState(ctx.state, device) };
    },
    Status: (ctx, args) => {
      noArgument(ctx.origin, args);
      return { breakdown: {}, value: deviceStatus(ctx.state, device) };
    },
  };
}

/**
 * The DATA device's commands (save path, Tiled server, file registration) belong to the data
 * server that `stem-twin serve` runs beside the twin, not to the instrument: the twin itself
 * refuses them, saying where they are served. Its State and Status it answers (builtinHandlers).
 */
export function dataDeviceHandlers(): Record<string, CommandHandler> {
  const served = COMMANDS.filter((c) => c.device === 'DATA' && !isTangoBuiltin(c.name));
  return Object.fromEntries(
    served.map((c) => [
      c.name,
      (ctx) => {
        throw new InstrumentError(
          'API_DeviceNotServed',
          `DATA.${c.name} is served by the data server of a served twin (stem-twin serve: the DATA device ${tangoDeviceName('DATA')} exists there); an in-process twin has no DATA device: read acquisitions with getData(key).`,
          ctx.origin,
        );
      },
    ]),
  );
}
