import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';

/** A config that cannot be used; `issues` holds one line per problem, each naming its path. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly issues: string[],
    headline = `invalid config, ${issues.length} error${issues.length === 1 ? '' : 's'}:`,
  ) {
    super(issues.length === 1 && headline === '' ? `${source}: ${issues[0]}` : `${source}: ${headline}\n${issues.map((i) => `  ${i}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** `/thermal/zones/1/pid/kp` -> `thermal.zones[1].pid.kp` */
export function pointerToPath(pointer: string): string {
  if (pointer === '' || pointer === '/') return '(root)';
  return pointer
    .split('/')
    .slice(1)
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');
}

function expectation(e: ValueError): string {
  const s = e.schema as Record<string, unknown>;
  switch (e.type) {
    case ValueErrorType.NumberMinimum:
    case ValueErrorType.IntegerMinimum:
      return `must be >= ${s.minimum}`;
    case ValueErrorType.NumberMaximum:
    case ValueErrorType.IntegerMaximum:
      return `must be <= ${s.maximum}`;
    case ValueErrorType.NumberExclusiveMinimum:
    case ValueErrorType.IntegerExclusiveMinimum:
      return `must be > ${s.exclusiveMinimum}`;
    case ValueErrorType.NumberExclusiveMaximum:
    case ValueErrorType.IntegerExclusiveMaximum:
      return `must be < ${s.exclusiveMaximum}`;
    // TypeBox refuses NaN and ±Infinity as numbers; say so rather than "must be a number, got null"
    case ValueErrorType.Number:
      return `must be a ${typeof e.value === 'number' ? 'finite ' : ''}number, got ${describe(e.value)}`;
    case ValueErrorType.Integer:
      return `must be ${typeof e.value === 'number' && !Number.isFinite(e.value) ? 'a finite' : 'an'} integer, got ${describe(e.value)}`;
    case ValueErrorType.String:
      return `must be a string, got ${describe(e.value)}`;
    case ValueErrorType.Boolean:
      return `must be true or false, got ${describe(e.value)}`;
    case ValueErrorType.Object:
      return `must be a mapping, got ${describe(e.value)}`;
    case ValueErrorType.Array:
      return `must be a list, got ${describe(e.value)}`;
    case ValueErrorType.ArrayMinItems:
      return `must have at least ${s.minItems} item(s)`;
    case ValueErrorType.ArrayMaxItems:
      return `must have at most ${s.maxItems} item(s)`;
    case ValueErrorType.StringMinLength:
      return typeof s.minLength === 'number' && s.minLength > 1 ? `must be at least ${s.minLength} characters` : `must not be empty`;
    case ValueErrorType.StringMaxLength:
      return `must be at most ${s.maxLength} characters`;
    case ValueErrorType.ArrayUniqueItems:
      return 'must not list an item twice';
    case ValueErrorType.ObjectMinProperties:
      return `must set at least ${s.minProperties} key(s); an empty mapping changes nothing`;
    case ValueErrorType.ObjectMaxProperties:
      return `must have at most ${s.maxProperties} keys`;
    case ValueErrorType.StringPattern:
      return `must match ${s.pattern}, got ${describe(e.value)}`;
    case ValueErrorType.ObjectAdditionalProperties:
      return 'unknown key';
    case ValueErrorType.ObjectRequiredProperty:
      return 'is required';
    case ValueErrorType.Union: {
      const options = (s.anyOf as Array<Record<string, unknown>> | undefined)?.map((o) => o.const);
      if (options && options.every((o) => o !== undefined)) return `must be one of ${options.map((o) => JSON.stringify(o)).join(', ')}, got ${describe(e.value)}`;
      // a nullable value (`X | null`): say what X wanted, e.g. `must be null, or must match ^[0-9a-f]{32}$, got "abc"`
      const variants = (e.errors ?? []).map((it) => it.First()).filter((v): v is ValueError => v !== undefined && v.type !== ValueErrorType.Null);
      if (variants.length === 1 && variants.length === (e.errors?.length ?? 0) - 1 && variants[0]!.path === e.path) return `must be null, or ${expectation(variants[0]!)}`;
      return `${e.message}, got ${describe(e.value)}`;
    }
    case ValueErrorType.Tuple:
      return `must be a list of ${(s.items as unknown[] | undefined)?.length ?? '?'} values, got ${describe(e.value)}`;
    default:
      return e.message;
  }
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  // JSON.stringify would print these as null
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  const text = JSON.stringify(v);
  return text !== undefined && text.length > 40 ? `${text.slice(0, 37)}...` : String(text);
}

/** One line per error, e.g. `thermal.zones[1].pid.kp: must be >= 0`; additional-property errors name the key. */
export function formatSchemaErrors(errors: Iterable<ValueError>): string[] {
  const lines: string[] = [];
  const seen = new Set<string>();
  const all = [...errors];
  // TypeBox reports a missing key twice: required, then the type its (absent) value lacks; once is enough
  const required = new Set(all.filter((e) => e.type === ValueErrorType.ObjectRequiredProperty).map((e) => e.path));
  for (const e of all) {
    if (e.value === undefined && e.type !== ValueErrorType.ObjectRequiredProperty && required.has(e.path)) continue;
    let path = pointerToPath(e.path);
    if (e.type === ValueErrorType.ObjectAdditionalProperties) {
      // TypeBox reports the offending key in the path already for additionalProperties: false.
      path = pointerToPath(e.path);
    }
    const line = `${path}: ${expectation(e)}`;
    if (!seen.has(line)) {
      seen.add(line);
      lines.push(line);
    }
  }
  return lines;
}
