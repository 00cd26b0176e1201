import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ATTRIBUTES, COMMANDS, DEVICES, type DeviceName } from '../../protocol/commands.js';
import { InstrumentError, type CommandOutcome } from '../../protocol/instrument.js';
import { LATENCY_CATEGORIES } from '../../protocol/timing.js';
import { lookupCommand } from './arguments.js';
import { AccessPolicy, bearerToken, type Access } from './auth.js';
import { restClientId } from './clients.js';
import { describeError } from './errors.js';
import { DEFAULT_MAX_VALUES, dataRecordToWire, errorTiming, MAX_MAX_VALUES, rawValuesStream, toWire } from './serialization.js';
import { commandToolName, DATA_RECORD_SCHEMA, exportedDevices, SCENARIO_SCHEMA } from './tools.js';
import { MAX_SEED, type TwinService } from './twin-service.js';

/**
 * REST under /api, for scripts and dashboards that do not speak MCP. Same service, same queue,
 * same checks as the MCP tools; every route declares its JSON schemas; errors are
 * `{reason, description}` with a 4xx status.
 */
export const REST_ROUTES = [
  'GET /api/commands',
  'POST /api/commands',
  'GET /api/devices/:device/attributes/:attribute',
  'PUT /api/devices/:device/attributes/:attribute',
  'GET /api/state',
  'GET /api/data/:key',
  'GET /api/data/:key/raw',
  'POST /api/lease',
  'DELETE /api/lease',
  'GET /api/scenario',
  'POST /api/reset',
];

const ERROR = {
  type: 'object',
  // start_s, end_s, breakdown_s: on a command refused after it cost instrument time.
  properties: { reason: { type: 'string' }, description: { type: 'string' }, origin: { type: 'string' }, start_s: { type: 'number' }, end_s: { type: 'number' }, breakdown_s: { type: 'object', additionalProperties: { type: 'number' } } },
  required: ['reason', 'description'],
};
const ERRORS = { 400: ERROR, 401: ERROR, 404: ERROR, 409: ERROR, 413: ERROR, 415: ERROR, 423: ERROR, 503: ERROR };

const BREAKDOWN = { type: 'object', properties: Object.fromEntries(LATENCY_CATEGORIES.map((c) => [c, { type: 'number' }])), additionalProperties: false };
const OUTCOME = {
  type: 'object',
  properties: { value: {}, start_s: { type: 'number' }, end_s: { type: 'number' }, breakdown_s: BREAKDOWN },
  required: ['value', 'start_s', 'end_s', 'breakdown_s'],
};
const ATTRIBUTE_PARAMS = {
  type: 'object',
  properties: { device: { type: 'string', enum: [...DEVICES] }, attribute: { type: 'string', minLength: 1, maxLength: 100 } },
  required: ['device', 'attribute'],
  additionalProperties: false,
};
const HOLDER = {
  type: ['object', 'null'],
  properties: { client: { type: 'string' }, command: { type: 'string' }, since_ms: { type: 'number' } },
};

export interface RestOptions {
  service: TwinService;
  policy: AccessPolicy;
  speed: number | 'max';
}

function outcomeBody(o: CommandOutcome): object {
  return { value: toWire(o.value), start_s: o.start_s, end_s: o.end_s, breakdown_s: o.breakdown_s };
}

export function registerRest(app: FastifyInstance, opts: RestOptions): void {
  const { service, policy } = opts;

  /** The caller's access, or a 401 reply (and undefined). */
  function access(request: FastifyRequest, reply: FastifyReply): Access | undefined {
    const d = policy.decide(request.socket.remoteAddress, bearerToken(request.headers));
    if (d.ok) return d.access;
    void reply.code(401).send({ reason: d.reason, description: d.description });
    return undefined;
  }

  function refuseWrite(reply: FastifyReply, what: string): void {
    void reply.code(401).send(AccessPolicy.writeRefused(what));
  }

  async function fail(reply: FastifyReply, e: unknown): Promise<void> {
    const { status, body } = describeError(e);
    await reply.code(status).send({ ...body, ...errorTiming(e) });
  }

  const client = (request: FastifyRequest) => restClientId(request.headers, request.socket.remoteAddress);

  app.get('/api/commands', {
    schema: {
      response: {
        200: {
          type: 'object',
          properties: {
            devices: { type: 'array', items: { type: 'string' } },
            commands: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  device: { type: 'string' },
                  name: { type: 'string' },
                  tool: { type: 'string' },
                  parameter: { type: 'string' },
                  optional: { type: 'boolean' },
                  input: { type: 'string' },
                  output: { type: 'string' },
                  description: { type: 'string' },
                  changesState: { type: 'boolean' },
                },
              },
            },
            attributes: { type: 'array', items: { type: 'object', additionalProperties: true } },
          },
        },
        ...ERRORS,
      },
    },
    handler: async (request, reply) => {
      if (!access(request, reply)) return reply;
      return {
        devices: exportedDevices(),
        commands: COMMANDS.map((c) => ({ ...c, tool: commandToolName(c) })),
        attributes: ATTRIBUTES.map((a) => ({ ...a })),
      };
    },
  });

  app.post<{ Body: { device?: DeviceName; command: string; args?: unknown } }>('/api/commands', {
    schema: {
      body: {
        type: 'object',
        properties: { device: { type: 'string', enum: [...DEVICES] }, command: { type: 'string', minLength: 1, maxLength: 100 }, args: {} },
        required: ['command'],
        additionalProperties: false,
      },
      response: { 200: OUTCOME, ...ERRORS },
    },
    handler: async (request, reply) => {
      const a = access(request, reply);
      if (!a) return reply;
      try {
        const spec = lookupCommand(request.body.device, request.body.command);
        if (spec.changesState && a !== 'write') return refuseWrite(reply, `${spec.device}.${spec.name}`);
        return outcomeBody(await service.execute(client(request), { device: spec.device, command: spec.name, args: request.body.args }));
      } catch (e) {
        return fail(reply, e);
      }
    },
  });

  app.put<{ Params: { device: DeviceName; attribute: string }; Body: { value: unknown } }>('/api/devices/:device/attributes/:attribute', {
    schema: {
      params: ATTRIBUTE_PARAMS,
      body: { type: 'object', properties: { value: {} }, required: ['value'], additionalProperties: false },
      response: { 200: OUTCOME, ...ERRORS },
    },
    handler: async (request, reply) => {
      const a = access(request, reply);
      if (!a) return reply;
      const { device, attribute } = request.params;
      if (a !== 'write') return refuseWrite(reply, `${device}.${attribute}`);
      try {
        return outcomeBody(await service.writeAttribute(client(request), { device, attribute, value: request.body.value }));
      } catch (e) {
        return fail(reply, e);
      }
    },
  });

  app.get<{ Params: { device: DeviceName; attribute: string } }>('/api/devices/:device/attributes/:attribute', {
    schema: {
      params: ATTRIBUTE_PARAMS,
      response: { 200: { type: 'object', properties: { device: { type: 'string' }, attribute: { type: 'string' }, value: {} }, required: ['device', 'attribute', 'value'] }, ...ERRORS },
    },
    handler: async (request, reply) => {
      if (!access(request, reply)) return reply;
      const { device, attribute } = request.params;
      try {
        return { device, attribute, value: toWire(await service.readAttribute(device, attribute)) };
      } catch (e) {
        return fail(reply, e);
      }
    },
  });

  app.get('/api/state', {
    schema: {
      response: {
        200: {
          type: 'object',
          properties: {
            state: { type: 'object', additionalProperties: true },
            clock_s: { type: 'number' },
            holder: HOLDER,
            queued: { type: 'integer' },
            speed: { type: ['number', 'string'] },
            lease: { type: ['object', 'null'], additionalProperties: true },
          },
          required: ['state', 'clock_s', 'holder', 'queued', 'speed'],
        },
        ...ERRORS,
      },
    },
    handler: async (request, reply) => {
      if (!access(request, reply)) return reply;
      const view = await service.view();
      return { ...view, state: toWire(view.state), speed: opts.speed };
    },
  });

  // The lease (see lease.ts): a REST client is named by x-client-id, so send the same one with every request.
  app.post<{ Body: { idle_s?: number } | undefined }>('/api/lease', {
    schema: {
      body: { type: ['object', 'null'], properties: { idle_s: { type: 'number' } }, additionalProperties: false },
      response: { 200: { type: 'object', additionalProperties: true }, ...ERRORS },
    },
    handler: async (request, reply) => {
      const a = access(request, reply);
      if (!a) return reply;
      if (a !== 'write') return refuseWrite(reply, 'POST /api/lease');
      try {
        return service.lease.acquire(client(request), request.body?.idle_s ?? undefined);
      } catch (e) {
        return fail(reply, e);
      }
    },
  });

  app.delete<{ Querystring: { lease_id?: string } }>('/api/lease', {
    schema: {
      querystring: { type: 'object', properties: { lease_id: { type: 'string', maxLength: 100 } }, additionalProperties: false },
      response: { 200: { type: 'object', additionalProperties: true }, ...ERRORS },
    },
    handler: async (request, reply) => {
      const a = access(request, reply);
      if (!a) return reply;
      if (a !== 'write') return refuseWrite(reply, 'DELETE /api/lease');
      try {
        return service.lease.release(client(request), request.query.lease_id);
      } catch (e) {
        return fail(reply, e);
      }
    },
  });

  // Twin extras, as DigitalTwin_get_scenario and DigitalTwin_reset.
  app.get('/api/scenario', {
    schema: { response: { 200: SCENARIO_SCHEMA, ...ERRORS } },
    handler: async (request, reply) => {
      if (!access(request, reply)) return reply;
      return service.scenario();
    },
  });

  app.post<{ Body: { seed?: number } | undefined }>('/api/reset', {
    schema: {
      body: { type: ['object', 'null'], properties: { seed: { type: 'integer', minimum: 0, maximum: MAX_SEED } }, additionalProperties: false },
      response: { 200: SCENARIO_SCHEMA, ...ERRORS },
    },
    handler: async (request, reply) => {
      const a = access(request, reply);
      if (!a) return reply;
      if (a !== 'write') return refuseWrite(reply, 'POST /api/reset');
      try {
        return await service.reset(client(request), request.body?.seed ?? undefined);
      } catch (e) {
        return fail(reply, e);
      }
    },
  });

  app.get<{ Params: { key: string }; Querystring: { max_values: number } }>('/api/data/:key', {
    schema: {
      params: { type: 'object', properties: { key: { type: 'string', minLength: 1, maxLength: 500 } }, required: ['key'] },
      querystring: {
        type: 'object',
        properties: { max_values: { type: 'integer', minimum: 0, maximum: MAX_MAX_VALUES, default: DEFAULT_MAX_VALUES } },
        additionalProperties: false,
      },
      response: { 200: DATA_RECORD_SCHEMA, ...ERRORS },
    },
    handler: async (request, reply) => {
      if (!access(request, reply)) return reply;
      try {
        return dataRecordToWire(await service.getData(request.params.key), request.query.max_values);
      } catch (e) {
        if (!(e instanceof InstrumentError)) throw e;
        return fail(reply, e);
      }
    },
  });

  /** A whole dataset as binary: JSON previews stop at MAX_MAX_VALUES values. */
  app.get<{ Params: { key: string }; Querystring: { dataset?: string } }>('/api/data/:key/raw', {
    schema: {
      params: { type: 'object', properties: { key: { type: 'string', minLength: 1, maxLength: 500 } }, required: ['key'] },
      querystring: { type: 'object', properties: { dataset: { type: 'string', minLength: 1, maxLength: 200 } }, additionalProperties: false },
      response: ERRORS,
    },
    handler: async (request, reply) => {
      if (!access(request, reply)) return reply;
      try {
        const record = await service.getData(request.params.key);
        const name = request.query.dataset;
        const d = name === undefined ? record.datasets[0] : record.datasets.find((x) => x.name === name);
        if (!d) {
          throw new InstrumentError('API_DataNotFound', `${record.key} has no dataset ${JSON.stringify(name ?? '')}; datasets: ${record.datasets.map((x) => x.name).join(', ')}.`, 'DATA.raw');
        }
        return reply
          .type('application/octet-stream')
          .header('content-length', d.values.byteLength)
          .header('x-dataset', d.name)
          .header('x-shape', d.shape.join(','))
          .header('x-dtype', 'float64')
          .header('x-byte-order', 'little')
          .header('x-stored-dtype', d.dtype)
          .send(rawValuesStream(d));
      } catch (e) {
        if (!(e instanceof InstrumentError)) throw e;
        return fail(reply, e);
      }
    },
  });
}
