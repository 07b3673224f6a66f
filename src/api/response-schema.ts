/**
 * Response schemas as fast-json-stringify (fastify's serializer) can write them without ajv.
 *
 * fast-json-stringify cannot tell the members of an `anyOf`/`oneOf` apart by itself: the code it
 * generates asks ajv which member a value matches, and ajv compiles the whole response schema the
 * first time a route answers (0.3-0.8 s for GET /v1/thermal, well over a second on a loaded box).
 * That runs on the event loop the thermal control loop shares, and a stall past the cooler
 * firmware's watchdog (watchdogSeconds, 0.5 s at least) drops the fans to its own failsafe. Its
 * `compileValidators` option moves the cost to buildApp instead (seconds per app).
 *
 * TypeBox writes `T | null` and unions of literals as `anyOf`, and the same definitions give
 * request validation, the config loader's messages and the TypeScript types, so they stay as they
 * are. What the serializer gets instead is the same set of values in a form it writes by `type`:
 *   anyOf [T, null]            -> T with `nullable: true` (OpenAPI 3.0's own keyword; fast-json-stringify's too)
 *   anyOf [const a, const b]   -> { type, enum: [a, b] }   (plus null in enum when nullable)
 * These two are route schemas (app.ts's onRoute hook): the OpenAPI document is made from the same
 * schemas and says the same with these keywords.
 *
 * Unions of different primitive types (a tensor dim's `integer | string`, a GPU's `integer | "cpu"`)
 * have no such OpenAPI 3.0 form: a `type` list is JSON Schema's, not 3.0's. The serializer alone
 * gets them as one (serializerSchema, through ./serializer.ts); fast-json-stringify writes a type
 * list by `typeof` checks, each type as its member would be written.
 * Anything else (unions of objects, members with a `format`) is left alone, for ajv.
 */

type Schema = Record<string, unknown>;

/** keywords that describe a value without constraining it; they may sit on either side of a merge */
const ANNOTATIONS = new Set(['title', 'description', 'default', 'examples', 'example', 'deprecated', 'readOnly', 'writeOnly', '$comment']);
const PRIMITIVES = new Set(['string', 'number', 'integer', 'boolean']);
/**
 * keywords fast-json-stringify does not read when it writes a primitive (a valid value comes out
 * the same with or without them): a member made of these and `type` is written by its type alone.
 * `const` too, though fast-json-stringify writes a const schema's const whatever the value: a value
 * that matched the member is that const. Not `format` (a date-time string is written by it).
 */
const PRIMITIVE_CHECKS = ['const', 'enum', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf', 'minLength', 'maxLength', 'pattern'];
/** keywords whose value is one schema / a list of schemas / a map of name -> schema */
const ONE = ['items', 'additionalProperties', 'not', 'if', 'then', 'else', 'contains', 'propertyNames', 'unevaluatedProperties', 'unevaluatedItems'];
const LIST = ['anyOf', 'oneOf', 'allOf', 'prefixItems'];
const MAP = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas'];

const isSchema = (x: unknown): x is Schema => x !== null && typeof x === 'object' && !Array.isArray(x);
const constraints = (s: Schema) => Object.keys(s).filter((k) => !ANNOTATIONS.has(k));
const only = (s: Schema, allowed: string[]) => constraints(s).every((k) => allowed.includes(k));

const isNull = (s: Schema) => s.type === 'null' && only(s, ['type']);
const isLiteral = (s: Schema) => s.const !== undefined && typeof s.type === 'string' && PRIMITIVES.has(s.type) && only(s, ['type', 'const']);
/** a `type` list of a union below already rewritten counts as its types */
const typesOf = (s: Schema): unknown[] => (Array.isArray(s.type) ? s.type : [s.type]);
/** a member the serializer writes by its `type` alone (PRIMITIVE_CHECKS) */
const isPlainPrimitive = (s: Schema) => typesOf(s).length > 0 && typesOf(s).every((t) => typeof t === 'string' && PRIMITIVES.has(t)) && only(s, ['type', ...PRIMITIVE_CHECKS]);
/** a `type` (or, for the serializer, a type list) written directly; no union of its own left in it */
const isTyped = (s: Schema) => (typeof s.type === 'string' ? s.type !== 'null' : Array.isArray(s.type) && !s.type.includes('null')) && s.anyOf === undefined && s.oneOf === undefined && s.$ref === undefined;

/**
 * `schema` with its unions of the kinds above rewritten, at any depth. A new object wherever
 * something changed below it; the input (often a TypeBox definition shared with request
 * validation) is never modified.
 */
export function serializableSchema<T>(schema: T): T {
  return rewrite(schema, false) as T;
}

/**
 * serializableSchema's rewrite, and unions of primitive types as a `type` list besides: for the
 * serializer only, as OpenAPI 3.0 has no type lists.
 */
export function serializerSchema<T>(schema: T): T {
  return rewrite(schema, true) as T;
}

function rewrite(node: unknown, typeLists: boolean): unknown {
  const sub = (v: unknown) => rewrite(v, typeLists);
  if (Array.isArray(node)) {
    // tuple `items` of older drafts
    const out = node.map(sub);
    return out.some((v, i) => v !== node[i]) ? out : node;
  }
  if (!isSchema(node)) return node;
  let out: Schema = node;
  const set = (k: string, v: unknown) => {
    if (v === out[k]) return;
    if (out === node) out = { ...node };
    out[k] = v;
  };
  for (const k of ONE) if (isSchema(node[k]) || Array.isArray(node[k])) set(k, sub(node[k]));
  for (const k of LIST) if (Array.isArray(node[k])) set(k, sub(node[k]));
  for (const k of MAP) {
    const m = node[k];
    if (!isSchema(m)) continue;
    let changed = false;
    const next: Schema = {};
    for (const [name, v] of Object.entries(m)) {
      next[name] = sub(v);
      changed ||= next[name] !== v;
    }
    if (changed) set(k, next);
  }
  return collapse(out, typeLists);
}

/** one union node, its members already rewritten */
function collapse(s: Schema, typeLists: boolean): Schema {
  const key = Array.isArray(s.anyOf) ? 'anyOf' : Array.isArray(s.oneOf) ? 'oneOf' : undefined;
  // a discriminated union (./union.ts) keeps its form: its members are objects anyway
  if (key === undefined || s.discriminator !== undefined) return s;
  const members = s[key] as unknown[];
  if (!members.every(isSchema)) return s;
  const nullable = members.some(isNull);
  let rest = members.filter((m) => !isNull(m));
  // a lone literal too when nullable: OpenAPI 3.0 has no const, and its null must be in the enum
  if ((rest.length > 1 || (nullable && rest.length === 1)) && rest.every(isLiteral) && new Set(rest.map((m) => m.type)).size === 1) {
    rest = [{ type: rest[0]!.type, enum: rest.map((m) => m.const) }];
  }
  // string keys only: TypeBox's symbols (its Kind: Union) would misname what this has become
  const outer = Object.fromEntries(Object.entries(s).filter(([k]) => k !== key));
  if (typeLists && rest.length > 1) return typeList(outer, rest, nullable) ?? s;
  if (rest.length !== 1) return s;
  const member = rest[0]!;
  if (!isTyped(member)) return s;
  // the union's own annotations (a field's description) win over its member's; any other keyword on both would need both to hold
  if (constraints(outer).some((k) => k in member)) return s;
  const merged: Schema = { ...Object.fromEntries(Object.entries(member)), ...outer };
  if (nullable) {
    merged.nullable = true;
    if (Array.isArray(merged.enum) && !merged.enum.includes(null)) merged.enum = [...(merged.enum as unknown[]), null];
  }
  return merged;
}

/**
 * Members of primitive types as one `type` list, the union's annotations kept; undefined when a
 * member is more than its type to the serializer, or the union has keywords of its own.
 */
function typeList(outer: Schema, members: Schema[], nullable: boolean): Schema | undefined {
  if (constraints(outer).length > 0 || !members.every(isPlainPrimitive)) return undefined;
  const types = [...new Set(members.flatMap(typesOf))];
  // nullable: null is written before any type check; as 'null' in the list it would rely on
  // fast-json-stringify ordering it ahead of 'integer' and 'string', whose checks take null too
  return { ...outer, type: types.length === 1 ? types[0] : types, ...(nullable ? { nullable: true } : {}) };
}

/**
 * A route's `schema.response` (status -> schema, or status -> { content: { type: { schema } } })
 * with every schema made serializable; the same object back when nothing needed it.
 */
export function serializableResponses<T>(response: T): T {
  if (!isSchema(response)) return response;
  let out: Schema = response;
  for (const [status, r] of Object.entries(response)) {
    let next: unknown = r;
    if (isSchema(r) && isSchema(r.content) && r.type === undefined) {
      const content: Schema = { ...r.content };
      let changed = false;
      for (const [mime, c] of Object.entries(r.content)) {
        const schema = isSchema(c) ? serializableSchema(c.schema) : undefined;
        if (!isSchema(c) || schema === c.schema) continue;
        content[mime] = { ...c, schema };
        changed = true;
      }
      if (changed) next = { ...r, content };
    } else next = serializableSchema(r);
    if (next !== r) {
      if (out === response) out = { ...response };
      out[status] = next;
    }
  }
  return out as T;
}
