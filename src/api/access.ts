/**
 * Who may use the API, decided once for every route by one app-level onRequest hook (so routes
 * that other subsystems add later are covered without doing anything):
 *
 *   1. Host: the Host header must name this daemon (its listen address, `server.allowedHosts`,
 *      loopback names when it listens on loopback, or the IP the client actually connected to).
 *      Anything else is 421: that is how a DNS-rebinding page reaches a daemon on 127.0.0.1.
 *   2. Cross-site: a request that changes something (any method but GET/HEAD/OPTIONS, a route
 *      marked `write`, a WebSocket upgrade) from a browser page of another origin is 403
 *      (Origin / Sec-Fetch-Site), unless that origin is in `server.corsOrigins`. A body-less
 *      request with a form content type (what an HTML form on any site can send) is 403 too.
 *   3. Token: `write` routes need it whenever one is configured (it must be, off loopback);
 *      `read` and `metrics` routes as `server.auth.read` / `server.auth.metrics` say.
 *      The token comes as `Authorization: Bearer ...` or as the session cookie that
 *      `POST /v1/auth/session` sets after seeing the token once (pages and WebSockets use that:
 *      a long-lived token never goes into a URL).
 *
 * A route says what it is with `config: { access }`; without it GET/HEAD are `read` and every
 * other method is `write`. `public` routes (health, readiness) skip the token but not the Host check.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { Counter, type Registry } from 'prom-client';
import { ForbiddenError, MisdirectedError, UnauthorizedError } from './errors.ts';
import { TOKEN_MIN_LENGTH } from '../config/schema.ts';
import { hostName, isLoopbackHost, isWildcardHost } from './hosts.ts';

export type RouteAccess = 'public' | 'read' | 'metrics' | 'write' | 'login';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** who may call this route (see src/api/access.ts); default: GET/HEAD `read`, others `write` */
    access?: RouteAccess;
  }
}

export interface AccessOptions {
  /** the configured listen address (server.host) */
  host: string;
  /** the API token, already read from server.auth.tokenFile; null: none configured */
  token: string | null;
  read: 'open' | 'token';
  metrics: 'open' | 'token';
  allowedHosts: string[];
  corsOrigins: string[];
  sessionTtlSeconds: number;
  /** wall-clock milliseconds (tests move it to expire a session) */
  now?: () => number;
}

export const SESSION_COOKIE = 'gance_session';

/** POST /v1/auth/session's JSON body (the token may come in the Authorization header instead, with no body). */
const SessionBody = Type.Object(
  { token: Type.Optional(Type.String({ maxLength: 1024, description: 'the API token (or send it as Authorization: Bearer and no body)' })) },
  { additionalProperties: false },
);

/** Reads server.auth.tokenFile; every problem names the field, none shows the file's content. */
export function readTokenFile(path: string): string {
  let text: string;
  try {
    const st = statSync(path);
    // a token every local user can read protects nothing from them (ssh refuses such keys alike)
    if ((st.mode & 0o004) !== 0) {
      throw new Error(`server.auth.tokenFile: ${path} is readable by every user (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); chmod o-r it (e.g. 0640 root:gance)`);
    }
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === undefined) throw err;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied (the daemon user must be able to read it)' : code === 'EISDIR' ? 'is a directory' : code;
    throw new Error(`server.auth.tokenFile: cannot read ${path}: ${why}`);
  }
  const token = text.trim();
  if (token.length < TOKEN_MIN_LENGTH) {
    throw new Error(`server.auth.tokenFile: the token in ${path} must be at least ${TOKEN_MIN_LENGTH} characters (it has ${token.length}); e.g. openssl rand -hex 32 > ${path}`);
  }
  if (/\s/.test(token)) throw new Error(`server.auth.tokenFile: the token in ${path} must be one word (no whitespace inside)`);
  return token;
}

/** The token from config or file; null when neither is set (config cross-checks say when one is required). */
export function resolveToken(auth: { token?: string; tokenFile?: string }): string | null {
  if (auth.token !== undefined) return auth.token;
  if (auth.tokenFile !== undefined) return readTokenFile(auth.tokenFile);
  return null;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Constant time whatever the lengths: both sides are hashed to 32 bytes first. */
export function tokenMatches(presented: string, expectedDigest: Buffer): boolean {
  return timingSafeEqual(digest(presented), expectedDigest);
}

const stripMapped = (ip: string) => ip.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');

function hostAllowed(name: string, opts: AccessOptions, localAddress: string | undefined): boolean {
  const bound = opts.host.toLowerCase().replace(/^\[|\]$/g, '');
  if (name === bound) return true;
  // a daemon reachable on loopback (bound there, or to every address) answers to loopback names
  if ((isLoopbackHost(bound) || isWildcardHost(bound)) && isLoopbackHost(name)) return true;
  for (const allowed of opts.allowedHosts) {
    const a = allowed.toLowerCase().replace(/\.$/, '');
    if (a.startsWith('*.') ? name.endsWith(a.slice(1)) : name === a) return true;
  }
  // The IP the client connected to: a rebinding page always uses a name, never an IP literal, so
  // http://192.168.1.20:9840 works for Grafana or a phone when bound to 0.0.0.0 without listing it.
  return isIP(name) !== 0 && localAddress !== undefined && stripMapped(name) === stripMapped(localAddress.toLowerCase());
}

const SIMPLE_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'];
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const clip = (s: string) => (s.length > 100 ? `${s.slice(0, 100)}...` : s);

export interface Access {
  /** true when the request carries a valid token or session cookie */
  authenticated(req: FastifyRequest): 'bearer' | 'cookie' | null;
  /** whether a class of routes needs the token under this configuration */
  needsToken(access: RouteAccess): boolean;
}

/**
 * Installs the hook (before any route, so every plugin's routes get it) and /v1/auth/session.
 * Throws when the configuration asks for a token it does not have.
 */
export function installAccess(app: FastifyInstance, opts: AccessOptions, registry: Registry): Access {
  if (opts.token !== null && opts.token.length < TOKEN_MIN_LENGTH) throw new Error(`server.auth.token: must be at least ${TOKEN_MIN_LENGTH} characters`);
  for (const [field, v] of [['read', opts.read], ['metrics', opts.metrics]] as const) {
    if (v === 'token' && opts.token === null) throw new Error(`server.auth.${field}: "token" needs server.auth.token or server.auth.tokenFile`);
  }
  const now = opts.now ?? Date.now;
  const expected = opts.token === null ? null : digest(opts.token);
  // sessions are signed with a key derived from the token: a new token ends every session
  const sessionKey = opts.token === null ? null : createHmac('sha256', opts.token).update('gance session cookie v1').digest();
  const refused = new Counter({
    name: 'gance_api_requests_refused_total',
    help: 'API requests refused before their route ran, by reason (host, cross-site, form-content, no-token, bad-token)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  for (const r of ['host', 'cross-site', 'form-content', 'no-token', 'bad-token']) refused.labels(r);

  const sign = (payload: string) => createHmac('sha256', sessionKey!).update(payload).digest('base64url');
  const cookieValue = (req: FastifyRequest): string | undefined => {
    for (const part of (req.headers.cookie ?? '').split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim();
    }
    return undefined;
  };
  const sessionValid = (value: string): boolean => {
    if (sessionKey === null) return false;
    const [expires, nonce, mac, extra] = value.split('.');
    if (expires === undefined || nonce === undefined || mac === undefined || extra !== undefined || !/^\d{1,15}$/.test(expires)) return false;
    const want = Buffer.from(sign(`${expires}.${nonce}`));
    const got = Buffer.from(mac);
    return got.length === want.length && timingSafeEqual(got, want) && Number(expires) * 1000 > now();
  };
  const bearer = (req: FastifyRequest): string | undefined => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    return m?.[1];
  };

  const access: Access = {
    authenticated(req) {
      if (expected === null) return null;
      const b = bearer(req);
      if (b !== undefined && tokenMatches(b, expected)) return 'bearer';
      const c = cookieValue(req);
      if (c !== undefined && sessionValid(c)) return 'cookie';
      return null;
    },
    needsToken(a) {
      if (expected === null) return false;
      return a === 'write' || (a === 'read' && opts.read === 'token') || (a === 'metrics' && opts.metrics === 'token');
    },
  };

  const refuse = (reason: string, err: Error): never => {
    refused.labels(reason).inc();
    throw err;
  };

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const name = hostName(req.headers.host);
    if (name === null) refuse('host', new MisdirectedError('a Host header is required'));
    else if (!hostAllowed(name, opts, req.socket.localAddress)) {
      refuse('host', new MisdirectedError(`this daemon does not serve the host "${clip(name)}"; add it to server.allowedHosts if clients use that name`));
    }

    const origin = req.headers.origin;
    const corsOk = origin !== undefined && opts.corsOrigins.includes(origin);
    if (corsOk) reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
    const routeAccess: RouteAccess = req.routeOptions.config?.access ?? (SAFE_METHODS.has(req.method) ? 'read' : 'write');
    const changes = !SAFE_METHODS.has(req.method) || routeAccess === 'write' || routeAccess === 'login' || req.headers.upgrade !== undefined;
    if (changes && !corsOk) {
      if (origin !== undefined) {
        let originHost: string | null = null;
        try {
          originHost = new URL(origin).host.toLowerCase();
        } catch {
          /* "null" and junk: not this daemon */
        }
        if (originHost !== (req.headers.host ?? '').toLowerCase()) {
          refuse('cross-site', new ForbiddenError(`cross-site request refused: Origin ${clip(origin)} is not this daemon; list it in server.corsOrigins to let its pages call the API with the token`));
        }
      }
      const site = req.headers['sec-fetch-site'];
      if (site !== undefined && site !== 'same-origin' && site !== 'none') refuse('cross-site', new ForbiddenError(`cross-site request refused (Sec-Fetch-Site: ${clip(String(site))})`));
      // An HTML form on any site can send these without a CORS preflight; a body-less one carries no
      // data a route could want, so it can only be a forged click on an action route.
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      const bodyless = (req.headers['content-length'] === undefined || req.headers['content-length'] === '0') && req.headers['transfer-encoding'] === undefined;
      if (bodyless && SIMPLE_TYPES.includes(type)) {
        refuse('form-content', new ForbiddenError(`a body-less ${req.method} with content-type ${type} is refused (what a cross-site form sends); send no content-type, or application/json`));
      }
    }

    if (access.needsToken(routeAccess)) {
      if (access.authenticated(req) === null) {
        const sent = req.headers.authorization !== undefined || cookieValue(req) !== undefined;
        refuse(
          sent ? 'bad-token' : 'no-token',
          new UnauthorizedError(
            sent
              ? 'the API token (or session cookie) is not valid'
              : `${req.method} ${req.routeOptions.url ?? req.url.split('?')[0]} needs the API token: send Authorization: Bearer <token> (server.auth.tokenFile), or the session cookie POST /v1/auth/session sets`,
          ),
        );
      }
    }
  });

  if (opts.corsOrigins.length > 0) {
    // the preflight a configured origin's page sends before a call with Authorization or JSON
    app.options('/*', { config: { access: 'public' }, schema: { hide: true } }, async (req, reply) => {
      if (req.headers.origin === undefined || !opts.corsOrigins.includes(req.headers.origin)) throw new ForbiddenError('this origin is not in server.corsOrigins');
      return reply
        .code(204)
        .header('access-control-allow-methods', 'GET, HEAD, POST, PUT, PATCH, DELETE')
        .header('access-control-allow-headers', 'authorization, content-type')
        .header('access-control-max-age', '600')
        .send();
    });
  }

  const SessionView = Type.Object({
    authenticated: Type.Boolean(),
    via: Type.Union([Type.Literal('bearer'), Type.Literal('cookie'), Type.Null()]),
    tokenRequired: Type.Object({ write: Type.Boolean(), read: Type.Boolean(), metrics: Type.Boolean() }),
  });
  const view = (req: FastifyRequest) => ({
    authenticated: access.authenticated(req) !== null,
    via: access.authenticated(req),
    tokenRequired: { write: access.needsToken('write'), read: access.needsToken('read'), metrics: access.needsToken('metrics') },
  });
  const cookie = (value: string, maxAge: number) => `${SESSION_COOKIE}=${value}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Strict`;

  app.get(
    '/v1/auth/session',
    { config: { access: 'public' }, schema: { description: 'Whether this request is authenticated, and which routes need the token', tags: ['auth'], response: { 200: SessionView } } },
    async (req) => view(req),
  );
  app.post(
    '/v1/auth/session',
    {
      config: { access: 'login' },
      schema: {
        description:
          'Trade the API token (Authorization: Bearer, or {"token"} in the body) for an HttpOnly SameSite=Strict session cookie, which pages and WebSockets of this daemon then send instead of the token',
        tags: ['auth'],
        // per content type: a body-less request (token in the header) has none, so it is not
        // validated against the object (fastify would refuse it as "body must be object")
        body: { content: { 'application/json': { schema: SessionBody } } },
        response: { 200: Type.Object({ expiresAt: Type.String({ format: 'date-time' }) }) },
      },
    },
    async (req, reply) => {
      if (expected === null) throw new ForbiddenError('no API token is configured (server.auth.token or tokenFile), so there is no session to open: every route is open');
      // validated by SessionBody when there is one
      const body = req.body as Static<typeof SessionBody> | undefined;
      const presented = bearer(req) ?? body?.token;
      if (presented === undefined) refuse('no-token', new UnauthorizedError('send the API token as Authorization: Bearer <token> or {"token": "..."}'));
      if (!tokenMatches(presented!, expected)) refuse('bad-token', new UnauthorizedError('the API token is not valid'));
      const expires = Math.floor(now() / 1000) + opts.sessionTtlSeconds;
      const payload = `${expires}.${randomBytes(12).toString('base64url')}`;
      reply.header('set-cookie', cookie(`${payload}.${sign(payload)}`, opts.sessionTtlSeconds)).header('cache-control', 'no-store');
      return { expiresAt: new Date(expires * 1000).toISOString() };
    },
  );
  // A link that logs one browser in (a stage laptop, by QR code): short-lived, single-use, bound to
  // the page it opens, signed like the cookie. It is still a credential in a URL for its few
  // minutes, so it carries a ticket, never the token.
  const usedTickets = new Map<string, number>(); // nonce -> expiry (s), forgotten once expired
  const NEXT = '^/(?![/\\\\])[^\\s]*$'; // a path on this daemon: never //host or /\host, which browsers read as another site
  app.post(
    '/v1/auth/link',
    {
      config: { access: 'write' },
      schema: {
        description: 'A single-use link (valid ttlSeconds) that sets the session cookie in whichever browser opens it, then goes to `next`',
        tags: ['auth'],
        body: Type.Object(
          {
            next: Type.String({ minLength: 1, maxLength: 512, pattern: NEXT, default: '/docs', description: 'path on this daemon to open after logging in' }),
            ttlSeconds: Type.Integer({ minimum: 10, maximum: 600, default: 120 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ url: Type.String(), expiresAt: Type.String({ format: 'date-time' }) }) },
      },
    },
    async (req) => {
      if (sessionKey === null) throw new ForbiddenError('no API token is configured, so there is nothing to log in to: every route is open');
      const { next, ttlSeconds } = req.body as { next: string; ttlSeconds: number };
      const expires = Math.floor(now() / 1000) + ttlSeconds;
      const payload = `${expires}.${randomBytes(12).toString('base64url')}`;
      const ticket = `${payload}.${sign(`link ${payload} ${next}`)}`;
      return { url: `/v1/auth/enter?ticket=${ticket}&next=${encodeURIComponent(next)}`, expiresAt: new Date(expires * 1000).toISOString() };
    },
  );
  app.get(
    '/v1/auth/enter',
    {
      config: { access: 'public' },
      schema: {
        description: 'Opens a link from POST /v1/auth/link: sets the session cookie and redirects (303) to its page; a used, expired or altered link is 401',
        tags: ['auth'],
        querystring: Type.Object({ ticket: Type.String({ maxLength: 256 }), next: Type.String({ maxLength: 512, pattern: NEXT }) }, { additionalProperties: false }),
      },
    },
    async (req, reply) => {
      const { ticket, next } = req.query as { ticket: string; next: string };
      const [expires, nonce, mac, extra] = ticket.split('.');
      const nowS = Math.floor(now() / 1000);
      for (const [n, exp] of usedTickets) if (exp <= nowS) usedTickets.delete(n);
      const valid = () => {
        if (sessionKey === null || expires === undefined || nonce === undefined || mac === undefined || extra !== undefined || !/^\d{1,15}$/.test(expires)) return false;
        const want = Buffer.from(sign(`link ${expires}.${nonce} ${next}`));
        const got = Buffer.from(mac);
        return got.length === want.length && timingSafeEqual(got, want) && Number(expires) > nowS && !usedTickets.has(nonce);
      };
      if (!valid()) refuse('bad-token', new UnauthorizedError('this login link is not valid: it expired, was used already, or was altered; ask for a new one'));
      usedTickets.set(nonce!, Number(expires));
      const sessionExpires = nowS + opts.sessionTtlSeconds;
      const payload = `${sessionExpires}.${randomBytes(12).toString('base64url')}`;
      return reply
        .code(303)
        .header('set-cookie', cookie(`${payload}.${sign(payload)}`, opts.sessionTtlSeconds))
        .header('cache-control', 'no-store')
        .header('referrer-policy', 'no-referrer')
        .header('location', next)
        .send();
    },
  );
  app.delete(
    '/v1/auth/session',
    // Cookies are signed, not stored: this forgets it in the browser; a new token ends every session.
    { config: { access: 'login' }, schema: { description: 'Drop the session cookie from this browser', tags: ['auth'], response: { 204: Type.Null() } } },
    async (_req, reply) => reply.code(204).header('set-cookie', cookie('', 0)).send(),
  );
  return access;
}
