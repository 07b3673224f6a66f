/**
 * The part of ajv's API our ajv plugins touch. ajv is fastify's, not a dependency of ours, so its
 * types are not imported: these are the few members the plugins read or wrap.
 */
export interface AjvError {
  instancePath: string;
  schemaPath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

export interface ValidateFunction {
  // ajv's second argument is its data context (parent data, root), passed through untouched
  (data: unknown, ctx?: never): boolean;
  errors?: AjvError[] | null;
  schema?: unknown;
}

export interface AjvLike {
  compile(schema: object, meta?: boolean): ValidateFunction;
}
