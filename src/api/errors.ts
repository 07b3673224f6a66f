/**
 * Errors -> HTTP status codes, in one place: the error handler `buildApp` installs for every route.
 *
 * How a route (thermal, networks, renders, live...) reports a problem:
 *   - Bad input the schema can say (type, range, required, length, finite): nothing to write.
 *     Give the route a `params`/`querystring`/`body` schema; the client gets 400 with the field
 *     and what was expected, e.g. `body/pid/setpoint must be <= 150`.
 *   - A domain rule: throw one of the classes below from the handler or the service it calls,
 *     e.g. `throw new NotFoundError(`no zone "${id}"`)` -> 404 with that message. Never call
 *     `reply.code(4xx).send(...)` for an error, and never catch-and-map in a plugin.
 *   - Anything else is a bug: the client gets 500 with a generic message (no internals leak),
 *     and the error is logged in full with the request id.
 * List the codes a route can answer in its response schema with `ErrorReply` (./app.ts), so the
 * OpenAPI document shows them.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';

/** An error the client caused or can act on; its statusCode and message go out as they are. */
export abstract class ApiError extends Error {
  abstract readonly statusCode: number;
  /** the reason phrase in the reply's `error` field */
  abstract readonly error: string;
  /** response headers the reply must carry (e.g. WWW-Authenticate on a 401) */
  readonly headers: Record<string, string> = {};
}

/** 400: the request breaks a rule the schema cannot say (e.g. setpoint at or above criticalCelsius). */
export class BadRequestError extends ApiError {
  readonly statusCode = 400;
  readonly error = 'Bad Request';
  override readonly name = 'BadRequestError';
}

/** 401: the route needs the API token (Authorization: Bearer, or the session cookie) and none valid came. */
export class UnauthorizedError extends ApiError {
  readonly statusCode = 401;
  readonly error = 'Unauthorized';
  override readonly name = 'UnauthorizedError';
  override readonly headers = { 'www-authenticate': 'Bearer realm="gance"' };
}

/** 403: the request is refused whoever sends it (a cross-site browser request, a form body posted cross-origin). */
export class ForbiddenError extends ApiError {
  readonly statusCode = 403;
  readonly error = 'Forbidden';
  override readonly name = 'ForbiddenError';
}

/** 421: the Host header names a host this daemon does not serve (DNS rebinding, a wrong name). */
export class MisdirectedError extends ApiError {
  readonly statusCode = 421;
  readonly error = 'Misdirected Request';
  override readonly name = 'MisdirectedError';
}

/** 414: the URL is longer than server.maxUrlLength. */
export class UriTooLongError extends ApiError {
  readonly statusCode = 414;
  readonly error = 'URI Too Long';
  override readonly name = 'UriTooLongError';
}

/** 404: the thing named in the path does not exist. */
export class NotFoundError extends ApiError {
  readonly statusCode = 404;
  readonly error = 'Not Found';
  override readonly name = 'NotFoundError';
}

/** 409: the request is valid but the current state does not allow it (e.g. unloading the active network). */
export class ConflictError extends ApiError {
  readonly statusCode = 409;
  readonly error = 'Conflict';
  override readonly name = 'ConflictError';
}

/** 422: well-formed, but it refers to something that cannot be used (an unknown GPU, a broken network). */
export class UnprocessableError extends ApiError {
  readonly statusCode = 422;
  readonly error = 'Unprocessable Entity';
  override readonly name = 'UnprocessableError';
}

/**
 * 507: the daemon's own storage (stateDir) cannot take what the request would write, a full or
 * read-only disk. Not the client's fault and not a bug: the operator can act on it, so it is said.
 */
export class InsufficientStorageError extends ApiError {
  readonly statusCode = 507;
  readonly error = 'Insufficient Storage';
  override readonly name = 'InsufficientStorageError';
}

/** Any other 4xx a route must answer (403, 413, 416, ...): the code and message go out as given. */
export class ClientError extends ApiError {
  readonly error: string;
  override readonly name: string = 'ClientError';
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    if (!Number.isInteger(statusCode) || statusCode < 400 || statusCode > 499) throw new RangeError(`ClientError needs a 4xx status, got ${statusCode}`);
    this.error = STATUS_CODES[statusCode] ?? 'Bad Request';
  }
}

/** what a client sees for an unexpected error: the details are in the daemon's log */
export const INTERNAL_MESSAGE = 'internal error; the daemon log has the details';

interface AjvLikeError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/**
 * One readable reason per bad request, naming the field (`body/pid/kp must be >= 0`). Ajv reports
 * a union of literals (mode: pid|curve|fixed) as one "must be equal to constant" per member; say
 * which values are allowed instead.
 */
export function schemaErrorFormatter(errors: ReadonlyArray<AjvLikeError>, dataVar: string): Error {
  const first = errors[0];
  const at = (path: string) => `${dataVar}${path}`;
  const consts = errors.filter((e) => e.keyword === 'const' && e.instancePath === first?.instancePath);
  const union = first !== undefined && errors.some((e) => e.keyword === 'anyOf' && e.instancePath === first.instancePath);
  // a value of no member's type (`gpu0` for a GPU index or "cpu"): every member's type or constant, not the first's alone
  const members = union && first.keyword === 'type' ? errors.filter((e) => e.instancePath === first.instancePath && (e.keyword === 'type' || e.keyword === 'const')) : [];
  const message =
    first && consts.length > 1 && union
      ? `${at(first.instancePath)} must be one of: ${consts.map((e) => JSON.stringify(e.params.allowedValue)).join(', ')}`
      : first && members.length > 1
        ? `${at(first.instancePath)} must be ${members.map((e) => (e.keyword === 'type' ? String(e.params.type) : JSON.stringify(e.params.allowedValue))).join(' or ')}`
      : first?.keyword === 'additionalProperties'
        ? // the key the client got wrong (a misspelt field would otherwise go unnamed)
          `${at(first.instancePath)} must NOT have additional properties (got "${String(first.params.additionalProperty)}")`
        : first
          ? `${at(first.instancePath)} ${first.message ?? 'is invalid'}`
        : `${dataVar} is invalid`;
  return new Error(message);
}


/** The app's error handler: validation -> 400, ApiError -> its code, fastify's own 4xx -> as is, the rest -> 500. */
export function errorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (err.validation) return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: err.message });
  if (err instanceof ApiError) {
    // a 5xx is the daemon's own trouble (a full disk): the operator reads the log, not the client's reply
    if (err.statusCode >= 500) req.log.warn({ err, url: req.url, method: req.method }, `${req.method} ${req.url}: ${err.statusCode} ${err.message}`);
    return reply.code(err.statusCode).headers(err.headers).send({ statusCode: err.statusCode, error: err.error, message: err.message });
  }
  // curl -d without -H sends a form: say what came and what the route takes, not just "Unsupported Media Type"
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    const content = (req.routeOptions.schema?.body as { content?: Record<string, unknown> } | undefined)?.content;
    const want = (content ? Object.keys(content) : ['application/json']).join(' or ');
    const type = req.headers['content-type'];
    const message = type ? `content-type "${type}" is not accepted here: send the body as ${want}` : `the body has no content-type: send it as ${want}`;
    return reply.code(415).send({ statusCode: 415, error: STATUS_CODES[415], message });
  }
  // fastify's own client errors (malformed JSON, body too large)
  const code = err.statusCode;
  if (typeof err.code === 'string' && err.code.startsWith('FST_') && code !== undefined && code >= 400 && code < 500) {
    return reply.code(code).send({ statusCode: code, error: STATUS_CODES[code] ?? 'Bad Request', message: err.message });
  }
  req.log.error({ err, url: req.url, method: req.method }, `unexpected error answering ${req.method} ${req.url}: ${err.message}`);
  return reply.code(500).send({ statusCode: 500, error: 'Internal Server Error', message: INTERNAL_MESSAGE });
}
