/**
 * Every number a request brings in is finite, whatever its route's schema says.
 *
 * Ajv lets non-finite numbers through: type coercion turns the strings "Infinity", "-Infinity"
 * and "1e309" into ±Infinity (so does JSON.parse for a literal 1e309), and its minimum/maximum
 * keywords skip a value that is not finite. A non-finite setpoint or gain then reaches a
 * controller. Rather than rely on every schema author remembering a keyword, this ajv plugin
 * wraps every validator the app compiles: once the schema passes (coercion done), the data is
 * walked and the first non-finite number fails validation like any schema error, so new routes
 * get the rule for free.
 */

/** The part of ajv's API this plugin touches (ajv is fastify's, not a dependency of ours). */
interface AjvError {
  instancePath: string;
  schemaPath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}
interface ValidateFunction {
  // ajv's second argument is its data context (parent data, root), passed through untouched
  (data: unknown, ctx?: never): boolean;
  errors?: AjvError[] | null;
  schema?: unknown;
}
interface Ajv {
  compile(schema: object, meta?: boolean): ValidateFunction;
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

function finiteValidator(inner: ValidateFunction): ValidateFunction {
  const wrapped: ValidateFunction = (data, ctx) => {
    const ok = inner(data, ctx);
    if (!ok) {
      wrapped.errors = inner.errors;
      return false;
    }
    const at = findNonFinite(data);
    if (at === null) {
      wrapped.errors = null;
      return true;
    }
    const error: AjvError = { instancePath: at, schemaPath: `#/${FINITE_KEYWORD}`, keyword: FINITE_KEYWORD, params: {}, message: 'must be a finite number' };
    wrapped.errors = [error];
    return false;
  };
  wrapped.schema = inner.schema;
  return wrapped;
}

/** Ajv plugin (fastify `ajv.plugins`): every compiled validator also refuses non-finite numbers. */
export function finiteNumbers<A extends Ajv>(ajv: A): A {
  const compile = ajv.compile.bind(ajv);
  (ajv as Ajv).compile = (schema, meta) => finiteValidator(compile(schema, meta));
  // fastify takes a route schema with an $id it has seen (app.addSchema) from here, not compile()
  const getSchema = ajv.getSchema.bind(ajv);
  const wrapped = new WeakMap<ValidateFunction, ValidateFunction>();
  (ajv as Ajv).getSchema = (keyRef) => {
    const v = getSchema(keyRef);
    if (!v) return v;
    let w = wrapped.get(v);
    if (!w) wrapped.set(v, (w = finiteValidator(v)));
    return w;
  };
  return ajv;
}
