/**
 * Every number a request brings in is finite, and every value that is not a string keeps its
 * JSON type, whatever its route's schema says.
 *
 * Ajv lets non-finite numbers through: type coercion turns the strings "Infinity", "-Infinity"
 * and "1e309" into ±Infinity (so does JSON.parse for a literal 1e309), and its minimum/maximum
 * keywords skip a value that is not finite. A non-finite setpoint or gain then reaches a
 * controller. Rather than rely on every schema author remembering a keyword, this ajv plugin
 * wraps every validator the app compiles: once the schema passes (coercion done), the data is
 * walked and the first non-finite number fails validation like any schema error, so new routes
 * get the rule for free.
 *
 * Coercion is there for querystrings, path params and headers, which arrive as strings. Applied to
 * a JSON body it turned null into 0 (a client's NaN, which JSON.stringify writes as null, set a
 * fan duty of 0), booleans into 0 or 1, [0.5] into 0.5, and a null the schema allows into "" or 0
 * (the first branch of a union coerces it). So each validator is also compiled without coercion
 * and tried first; only when that fails does the coercing one run, and it may change strings
 * alone: any other value whose type it changed fails as `must be number, got null`.
 */
import type { AjvLike, ValidateFunction } from './ajv-shape.ts';

interface Ajv extends AjvLike {
  /** read by compile(): coerceTypes decides the code it generates */
  opts: { coerceTypes?: unknown };
  getSchema(keyRef: string): ValidateFunction | undefined;
}

export const FINITE_KEYWORD = 'finite';

/** JSON pointer of the first non-finite number inside `data`, or null. */
export function findNonFinite(data: unknown, pointer = ''): string | null {
  if (typeof data === 'number') return Number.isFinite(data) ? null : pointer;
  if (data === null || typeof data !== 'object') return null;
  if (Array.isArray(data)) {
    for (let i = 0; i < data.length; i++) {
      const at = findNonFinite(data[i], `${pointer}/${i}`);
      if (at !== null) return at;
    }
    return null;
  }
  for (const [k, v] of Object.entries(data)) {
    const at = findNonFinite(v, `${pointer}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`);
    if (at !== null) return at;
  }
  return null;
}

export const COERCED_KEYWORD = 'type';

/** deeper than any route's schema goes; the walks here (and ajv's) recurse once per level */
export const MAX_DEPTH = 64;

/**
 * JSON pointer of the first value nested `max` levels down, or null. Iterative, unlike the walks
 * below, TypeBox's Value.Clone and ajv's code: a body of 200 000 nested brackets (400 kB, under
 * the body limit) overflowed their stack and was answered 500. The app checks every body with it
 * before validation (app.ts), so custom validators (renders) are covered too.
 */
export function findTooDeep(data: unknown, max = MAX_DEPTH): string | null {
  const stack: Array<[unknown, string, number]> = [[data, '', 0]];
  while (stack.length > 0) {
    const [v, at, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    // JSON is plain objects and arrays; a Buffer or stream (a multipart part) is not walked byte by byte
    if (!Array.isArray(v) && ![Object.prototype, null].includes(Object.getPrototypeOf(v) as object | null)) continue;
    if (depth >= max) return at;
    for (const [k, c] of Object.entries(v)) stack.push([c, `${at}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, depth + 1]);
  }
  return null;
}

/** how a number sent as a string must look (the CLI's own options take the same) */
export const DECIMAL = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

const kind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** what came, short enough for an error message */
function shown(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/**
 * The first place where `after` (validated, coerced) holds a value of another type than `before`
 * (as it came) did, where `before` was not a string: coercion of strings is what it is for.
 */
export function findCoerced(before: unknown, after: unknown, pointer = ''): { at: string; message: string } | null {
  // a string becoming a number, boolean or list is what coercion is for; "" becoming the null a
  // union allows is not: {"name": ""} cleared a thermal mode and {"maxFps": ""} lifted a rate limit
  if (typeof before === 'string') {
    if (after === null) return { at: pointer, message: `must be null, got ${shown(before)}` };
    // ajv takes any string Number() reads: "0x50" became a setpoint of 80, " 70 " 70, "0b1" a duty
    // of 1. A number in a string is read as people write one; one out of range still says finite.
    if (typeof after === 'number' && Number.isFinite(after) && !DECIMAL.test(before)) return { at: pointer, message: `must be a number in decimal notation, got ${shown(before)}` };
    return null;
  }
  const kb = kind(before);
  const ka = kind(after);
  if (kb !== ka || (kb === 'array' && (before as unknown[]).length !== (after as unknown[]).length)) {
    // what it was coerced to is what the schema wants (an integer shows as number)
    return { at: pointer, message: `must be ${ka}, got ${shown(before)}` };
  }
  if (kb === 'array') {
    const a = after as unknown[];
    for (let i = 0; i < a.length; i++) {
      const found = findCoerced((before as unknown[])[i], a[i], `${pointer}/${i}`);
      if (found) return found;
    }
  } else if (kb === 'object') {
    for (const [k, v] of Object.entries(before as object)) {
      const found = findCoerced(v, (after as Record<string, unknown>)[k], `${pointer}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`);
      if (found) return found;
    }
  }
  return null;
}

/** a copy of what a request brought (JSON-like: plain objects, arrays, scalars); anything else as is */
function snapshot(data: unknown): unknown {
  if (data === null || typeof data !== 'object') return data;
  if (Array.isArray(data)) return data.map(snapshot);
  const proto = Object.getPrototypeOf(data) as object | null;
  // fastify's querystring is an object whose prototype has none (fast-querystring's Empty): plain too,
  // else coercion changed the very object kept as `before` and no query value was ever compared
  if (proto !== Object.prototype && proto !== null && Object.getPrototypeOf(proto) !== null) return data;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data)) out[k] = snapshot(v);
  return out;
}

/** the value at a JSON pointer findCoerced made (its segments escaped as there) */
function getAt(data: unknown, pointer: string): unknown {
  let v = data;
  for (const seg of pointer.split('/').slice(1)) v = (v as Record<string, unknown> | null)?.[seg.replace(/~1/g, '/').replace(/~0/g, '~')];
  return v;
}

function fail(wrapped: ValidateFunction, at: string, keyword: string, message: string): false {
  wrapped.errors = [{ instancePath: at, schemaPath: `#/${keyword}`, keyword, params: {}, message }];
  return false;
}

/**
 * `coercing`: the validator as fastify configured it; `exact`: the same schema compiled without
 * coercion (absent where it could not be compiled: the coercing one alone, as before).
 */
function guardedValidator(coercing: ValidateFunction, exact?: ValidateFunction): ValidateFunction {
  const wrapped: ValidateFunction = (data, ctx) => {
    if (!exact || !exact(data, ctx)) {
      const before = exact ? snapshot(data) : undefined;
      const ok = coercing(data, ctx);
      const coerced = exact ? findCoerced(before, data) : null;
      if (!ok) {
        // a non-string was coerced on the way: the error of the value as it came (null, not the [""] it became)
        wrapped.errors = coerced ? exact!.errors : coercing.errors;
        return false;
      }
      if (coerced) {
        // the value as sent had a type the schema takes and broke a bound there, and coercion into
        // another branch let it pass (0 for "a number > 0, or null" became null): the bound is the reason
        const sent = exact!.errors?.[0];
        if (sent && sent.keyword !== 'type' && sent.instancePath === coerced.at) {
          wrapped.errors = exact!.errors;
          return false;
        }
        // "" made null: say every type the union takes (number or null), not only the null it became
        const types = typeof getAt(before, coerced.at) === 'string' ? [...new Set(exact!.errors?.filter((e) => e.keyword === 'type' && e.instancePath === coerced.at).map((e) => String(e.params.type)))] : [];
        return fail(wrapped, coerced.at, COERCED_KEYWORD, types.length > 1 ? `must be ${types.join(' or ')}, got ${shown(getAt(before, coerced.at))}` : coerced.message);
      }
    }
    const at = findNonFinite(data);
    if (at !== null) return fail(wrapped, at, FINITE_KEYWORD, 'must be a finite number');
    wrapped.errors = null;
    return true;
  };
  wrapped.schema = coercing.schema;
  return wrapped;
}

/** Ajv plugin (fastify `ajv.plugins`): every compiled validator refuses non-finite numbers and coercion of non-strings. */
export function finiteNumbers<A extends Ajv>(ajv: A): A {
  const compile = ajv.compile.bind(ajv);
  const compileExact = (schema: object, meta?: boolean): ValidateFunction | undefined => {
    const coerceTypes = ajv.opts.coerceTypes;
    if (!coerceTypes) return undefined;
    // ajv caches by schema object: a copy gets its own code; the option is read while generating it
    ajv.opts.coerceTypes = false;
    try {
      return compile(structuredClone(schema), meta);
    } catch {
      // a schema with an $id ajv already holds: it keeps the coercing validator alone
      return undefined;
    } finally {
      ajv.opts.coerceTypes = coerceTypes;
    }
  };
  (ajv as Ajv).compile = (schema, meta) => {
    const coercing = compile(schema, meta);
    return guardedValidator(coercing, compileExact(schema, meta));
  };
  // fastify takes a route schema with an $id it has seen (app.addSchema) from here, not compile()
  const getSchema = ajv.getSchema.bind(ajv);
  const wrapped = new WeakMap<ValidateFunction, ValidateFunction>();
  (ajv as Ajv).getSchema = (keyRef) => {
    const v = getSchema(keyRef);
    if (!v) return v;
    let w = wrapped.get(v);
    if (!w) wrapped.set(v, (w = guardedValidator(v)));
    return w;
  };
  return ajv;
}
