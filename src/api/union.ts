/**
 * Unions of objects told apart by one field (a live session's `audio.kind`, a camera's `kind`, a
 * WebSocket message's `type`). Checked as a plain union, a wrong or missing tag was reported as
 * whatever the first member missed: `{"audio": {"kind": "nope"}}` answered "body/audio must have
 * required property 'path'", the file member's field, naming neither `kind` nor what it takes.
 *
 * `DiscriminatedUnion` marks such a union with OpenAPI's `discriminator`. Both validators then go
 * by the tag: a tag that names no member is the error, and names the members' tags; a tag that
 * names one is checked against that member alone, so its errors are that member's.
 * - ajv (every route): the `discriminatedUnions` plugin hands ajv the union as `oneOf` with the
 *   discriminator (ajv's discriminator keyword takes no `anyOf`; the members exclude each other by
 *   their tags, so the two mean the same) and says which tags are allowed in its error.
 * - TypeBox (the live service, the WebSocket's patch, the CLI): `firstProblem`.
 * The document keeps TypeBox's `anyOf` with the discriminator, which OpenAPI 3.0 takes as is.
 */
import { Type, type SchemaOptions, type TObject, type TSchema, type TUnion } from '@sinclair/typebox';
import { ValueErrorType, type ValueError, type ValueErrorIterator } from '@sinclair/typebox/errors';
import type { AjvError, AjvLike, ValidateFunction } from './ajv-shape.ts';

interface Discriminated {
  anyOf: TSchema[];
  discriminator: { propertyName: string };
}

function isDiscriminated(s: unknown): s is Discriminated {
  const d = (s as { discriminator?: { propertyName?: unknown } } | null)?.discriminator;
  return typeof d?.propertyName === 'string' && Array.isArray((s as { anyOf?: unknown }).anyOf);
}

/** The tags a discriminated union takes, in member order. */
export function tagValues(s: Discriminated): unknown[] {
  const tag = s.discriminator.propertyName;
  return s.anyOf.map((m) => (m.properties as Record<string, TSchema>)[tag]!.const);
}

const list = (values: unknown[]) => values.map((v) => JSON.stringify(v)).join(', ');

/** What is wrong with a union's tag (`got`: the value sent; undefined when it is not there). */
function tagMessage(values: unknown[], got: unknown): string {
  return got === undefined ? `is required: one of ${list(values)}` : `must be one of: ${list(values)} (got ${JSON.stringify(got)?.slice(0, 40) ?? String(got)})`;
}

/** A union of objects, each with its own `Type.Literal` in `tag` (required), told apart by it. */
export function DiscriminatedUnion<T extends TObject[]>(tag: string, members: [...T], options: SchemaOptions = {}): TUnion<T> {
  const seen = new Set<unknown>();
  for (const m of members) {
    const value = (m.properties[tag] as TSchema | undefined)?.const;
    // ajv's discriminator refuses such a schema when the app compiles it; said here, where it is written
    if (value === undefined || !m.required?.includes(tag)) throw new Error(`DiscriminatedUnion: every member needs a required literal "${tag}"`);
    if (seen.has(value)) throw new Error(`DiscriminatedUnion: two members have ${tag} ${JSON.stringify(value)}`);
    seen.add(value);
  }
  if (members.length < 2) throw new Error('DiscriminatedUnion: two members at least');
  return Type.Union(members, { ...options, discriminator: { propertyName: tag } }) as TUnion<T>;
}

interface Ajv extends AjvLike {
  opts: { discriminator?: boolean };
}

const pointer = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * A copy of `schema` with each discriminated `anyOf` made `oneOf` for ajv, and the allowed tags
 * of each by the schema path ajv reports its errors at. The same object back when there is none.
 */
function forAjv(schema: unknown): { schema: unknown; tags: Map<string, { tag: string; values: unknown[] }> } {
  const tags = new Map<string, { tag: string; values: unknown[] }>();
  const walk = (s: unknown, path: string): unknown => {
    if (s === null || typeof s !== 'object') return s;
    if (Array.isArray(s)) return s.map((x, i) => walk(x, `${path}/${i}`));
    const out: Record<string, unknown> = {};
    const discriminated = isDiscriminated(s);
    for (const [k, v] of Object.entries(s)) {
      const key = discriminated && k === 'anyOf' ? 'oneOf' : k;
      out[key] = walk(v, `${path}/${pointer(key)}`);
    }
    if (discriminated) {
      tags.set(`${path}/discriminator`, { tag: s.discriminator.propertyName, values: tagValues(s) });
      // ajv's discriminator looks at objects only, and its oneOf stands aside: anything else would pass
      out.type = 'object';
    }
    return out;
  };
  const out = walk(schema, '#');
  return { schema: tags.size === 0 ? schema : out, tags };
}

/**
 * Ajv plugin (fastify `ajv.plugins`, before any plugin that wraps what compile returns): unions
 * made with DiscriminatedUnion are checked by their tag, and a tag that names no member is
 * reported at the tag (`body/audio/kind must be one of: "file", "alsa", "push" (got "nope")`).
 */
export function discriminatedUnions<A extends Ajv>(ajv: A): A {
  // the keyword is there only when ajv was made with the option (fastify's ajv.customOptions)
  if (!ajv.opts.discriminator) throw new Error('discriminatedUnions needs ajv made with { discriminator: true }');
  const compile = ajv.compile.bind(ajv);
  // ajv caches by schema object: the same route schema gets the same copy
  const copies = new WeakMap<object, ReturnType<typeof forAjv>>();
  (ajv as Ajv).compile = (schema, meta) => {
    let c = copies.get(schema);
    if (!c) copies.set(schema, (c = forAjv(schema)));
    const validate = compile(c.schema as object, meta);
    const tags = c.tags;
    if (tags.size === 0) return validate;
    const explain = (e: AjvError): AjvError => {
      const t = e.keyword === 'discriminator' ? tags.get(e.schemaPath) : undefined;
      if (!t) return e;
      const got = e.params.tagValue;
      return { ...e, instancePath: `${e.instancePath}/${pointer(t.tag)}`, params: { ...e.params, allowedValues: t.values }, message: tagMessage(t.values, got) };
    };
    const wrapped: ValidateFunction = (data, ctx) => {
      const ok = validate(data, ctx);
      wrapped.errors = ok ? null : (validate.errors?.map(explain) ?? null);
      return ok;
    };
    wrapped.schema = validate.schema;
    return wrapped;
  };
  return ajv;
}

const kindOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'number' ? 'number' : typeof v);
const takes = (s: TSchema, kind: string): boolean =>
  typeof s.type !== 'string' || s.type === kind || (s.type === 'integer' && kind === 'number');

/**
 * The first problem of a value TypeBox refused, as `{path, message}`, looking into unions: a
 * discriminated one by its tag (the tag itself when it names no member), another by the one member
 * that takes the value's JSON type (a framing object, not its null), so the error names the field.
 */
export function firstProblem(errors: ValueErrorIterator): { path: string; message: string } | null {
  const e: ValueError | undefined = errors.First();
  if (!e) return null;
  if (e.type !== ValueErrorType.Union) return { path: e.path || '/', message: e.message };
  const members = (e.schema as unknown as { anyOf: TSchema[] }).anyOf;
  let i = -1;
  if (isDiscriminated(e.schema)) {
    const values = tagValues(e.schema);
    const got = kindOf(e.value) === 'object' ? (e.value as Record<string, unknown>)[e.schema.discriminator.propertyName] : undefined;
    i = got === undefined ? -1 : values.indexOf(got);
    if (i < 0) {
      if (kindOf(e.value) !== 'object') return { path: e.path || '/', message: 'must be an object' };
      return { path: `${e.path}/${pointer(e.schema.discriminator.propertyName)}`, message: tagMessage(values, got) };
    }
  } else {
    const fit = members.flatMap((m, j) => (takes(m, kindOf(e.value)) ? [j] : []));
    if (fit.length === 1) i = fit[0]!;
  }
  const inner = i >= 0 ? e.errors[i] : undefined;
  return (inner && firstProblem(inner)) ?? { path: e.path || '/', message: e.message };
}
