import { InstrumentError } from '../../protocol/instrument.js';
import { noArgument } from './args.js';
import type { Plan, PlanContext } from './plan.js';
import type { InstrumentState } from './state.js';

/**
 * What every device's command handlers share. A handler checks its argument against the current
 * snapshot and returns a Plan, or throws InstrumentError (nothing has changed yet when it throws).
 */
export type CommandHandler = (ctx: PlanContext, args: unknown) => Plan;

/** A DevVoid read of the snapshot, free apart from the round trip. */
export const read =
  (value: (s: InstrumentState) => unknown): CommandHandler =>
  (ctx, args) => {
    noArgument(ctx.origin, args);
    return { breakdown: {}, value: value(ctx.state) };
  };

/** A DevVoid change of state, free apart from the round trip. */
export const change =
  (recipe: NonNullable<Plan['recipe']>): CommandHandler =>
  (ctx, args) => {
    noArgument(ctx.origin, args);
    return { breakdown: {}, recipe };
  };

/** Refuses a command that needs electrons on the specimen while the column cannot deliver them. */
export function requireBeam(ctx: PlanContext): void {
  if (ctx.state.column_valves !== 'open') {
    throw new InstrumentError('ColumnValvesClosed', 'the column valves are closed, so no beam reaches the specimen; call set_column_valves("open") first.', ctx.origin);
  }
  if (ctx.state.beam_blanked) {
    throw new InstrumentError('BeamBlanked', 'the beam is blanked; call unblank_beam first.', ctx.origin);
  }
  if (ctx.state.screen === 'inserted') {
    throw new InstrumentError('ScreenInserted', 'the fluorescent screen is inserted and stops the beam; call set_screen("retracted") first.', ctx.origin);
  }
}
