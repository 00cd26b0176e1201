export { EventHeap } from './heap.js';
export { Pacer, type Pacing } from './pacing.js';
export { Resource } from './resource.js';
export { Simulation, type ScheduledEvent } from './simulation.js';
export { TelemetryBus } from './telemetry.js';
