export { EventHeap } from './heap.js';
export { checkPacing, Pacer, type OnAbort, type Pacing } from './pacing.js';
export { Resource } from './resource.js';
export { PRIORITY_LIMIT, Simulation, type ScheduledEvent } from './simulation.js';
export { TelemetryBus } from './telemetry.js';
