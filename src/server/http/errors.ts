import { Ajv } from 'ajv';
import type { FastifyError, FastifyInstance } from 'fastify';
import { ACCEPTED_CONTENT_TYPE } from './json-body.js';
import { errorBody, type ErrorBody } from './serialization.js';

/**
 * HTTP errors as `{reason, description}`: refused commands by their Tango-style reason, request
 * mistakes (schema, JSON, size, media type) by what was wrong, unknown routes by 404.
 */
const STATUS_OF_REASON: Record<string, number> = {
  Unauthorized: 401,
  NotFound: 404,
  API_CommandNotFound: 404,
  API_DeviceNotFound: 404,
  API_AttributeNotFound: 404,
  API_DataNotFound: 404,
  // The instrument's state forbids the command now; another command may change that.
  BeamBlanked: 409,
  ColumnValvesClosed: 409,
  DeviceOff: 409,
  DeviceFault: 409,
  // The instrument is held by others and the queue is full.
  InstrumentBusy: 423,
  InstrumentLeased: 423,
  API_NoLease: 409,
  PayloadTooLarge: 413,
  UnsupportedMediaType: 415,
  InternalError: 500,
  ServerClosing: 503,
};

export function httpStatusOf(reason: string): number {
  return STATUS_OF_REASON[reason] ?? 400;
}

/** A fastify error (schema, parser, size) or a refused command, as status and body. */
export function describeError(error: unknown): { status: number; body: ErrorBody } {
  const e = error as FastifyError;
  if (e && Array.isArray(e.validation)) {
    return { status: 400, body: { reason: 'API_InvalidArgument', description: e.message } };
  }
  if (e && typeof e.statusCode === 'number' && typeof e.code === 'string' && e.code.startsWith('FST_')) {
    if (e.statusCode === 415) {
      return { status: 415, body: { reason: 'UnsupportedMediaType', description: `${e.message}; send the body as ${ACCEPTED_CONTENT_TYPE}` } };
    }
    const reason =
      e.statusCode === 413 ? 'PayloadTooLarge' : e.statusCode === 415 ? 'UnsupportedMediaType' : e.code.includes('JSON') ? 'MalformedJson' : 'BadRequest';
    return { status: e.statusCode >= 400 && e.statusCode < 500 ? e.statusCode : 400, body: { reason, description: e.message } };
  }
  const body = errorBody(error);
  return { status: httpStatusOf(body.reason), body };
}

/** Bodies are validated strictly (no coercion, no silent stripping); params and query strings are coerced from text. */
function installValidators(app: FastifyInstance): void {
  const strict = new Ajv({ allErrors: false, coerceTypes: false, removeAdditional: false, useDefaults: true, strict: false });
  const coercing = new Ajv({ allErrors: false, coerceTypes: 'array', removeAdditional: false, useDefaults: true, strict: false });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema));
}

export function installErrorHandling(app: FastifyInstance, routes: string[]): void {
  installValidators(app);
  app.setErrorHandler((error, request, reply) => {
    const { status, body } = describeError(error);
    if (status >= 500) request.log.error(error);
    void reply.code(status).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({
      reason: 'NotFound',
      description: `no route ${request.method} ${request.url.slice(0, 200)}; routes: ${routes.join(', ')}.`,
    });
  });
}
