import type { Patch } from 'immer';
import type { DeviceName } from '../../protocol/commands.js';
import type { Breakdown } from '../../protocol/timing.js';
import type { AcquisitionKind } from './plan.js';

/**
 * What the instrument twin emits on its TelemetryBus, in virtual time order. `seq` pairs a
 * command's start and end. Attribute writes appear as command "write_attribute" with args
 * { attribute, value }.
 */
export interface CommandStartRecord {
  type: 'command-start';
  seq: number;
  t_s: number;
  device: DeviceName;
  command: string;
  args: unknown;
  client?: string;
}

export interface CommandEndRecord {
  type: 'command-end';
  seq: number;
  t_s: number;
  start_s: number;
  end_s: number;
  breakdown_s: Breakdown;
  ok: boolean;
  /** Set when the command was refused. */
  error?: { reason: string; description: string; origin: string };
}

/** A change of the instrument's state snapshot, as immer patches against the previous one. */
export interface StateRecord {
  type: 'state';
  t_s: number;
  patches: Patch[];
}

export interface AcquisitionRecord {
  type: 'acquisition';
  t_s: number;
  key: string;
  kind: AcquisitionKind;
}

export type InstrumentTelemetry = CommandStartRecord | CommandEndRecord | StateRecord | AcquisitionRecord;
