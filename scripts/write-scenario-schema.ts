// Writes scenarios/scenario.schema.json from the schema in src/protocol/scenario.ts, so editors
// validate scenario files as you type. test/protocol/scenario.test.ts checks it is up to date.
import { writeFileSync } from 'node:fs';
import { scenarioSchemaJson } from '../src/protocol/scenario.js';

writeFileSync(new URL('../scenarios/scenario.schema.json', import.meta.url), scenarioSchemaJson());
