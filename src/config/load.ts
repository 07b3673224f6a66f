import { readFileSync } from 'node:fs';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, visit, type Document, type Node as YamlNode } from 'yaml';
import { Config } from './schema.ts';
import { ConfigError, formatSchemaErrors } from './errors.ts';
import { crossCheck } from './cross-check.ts';

import { DEFAULT_CONFIG_PATH } from './paths.ts';

export { DEFAULT_CONFIG_PATH };

// Compiled on first use, not at import: compiling the whole schema is most of a CLI start-up.
let compiled: ReturnType<typeof TypeCompiler.Compile<typeof Config>> | undefined;
const checker = () => (compiled ??= TypeCompiler.Compile(Config));

/** Validate an already-parsed document: defaults filled in, then schema, then cross-references. */
export function resolveConfig(raw: unknown, source = '(inline)'): Config {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(source, ['(root): must be a mapping of sections (server, cooler, thermal, ...)']);
  }
  // Defaults first so that omitted optional sections validate; Clone keeps the caller's object intact.
  const withDefaults = Value.Default(Config, Value.Clone(raw));
  if (!checker().Check(withDefaults)) {
    throw new ConfigError(source, formatSchemaErrors(checker().Errors(withDefaults)));
  }
  const issues = crossCheck(withDefaults);
  if (issues.length > 0) throw new ConfigError(source, issues);
  return withDefaults;
}

/** A merge key's source: a mapping, or an alias of one (yaml's toJS says only "Merge sources must be maps", with no place). */
function mergeable(node: unknown, doc: Document): boolean {
  const target = isAlias(node) ? node.resolve(doc) : node;
  return isMap(target);
}

export function parseConfigText(text: string, source: string): Config {
  const lines = new LineCounter();
  // merge: YAML 1.1's `<<: *anchor` (and `<<: [*a, *b]`), which users expect to share settings
  // between zones or fans; YAML 1.2 leaves it out, and without it `<<` was an unknown key.
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true, merge: true, lineCounter: lines });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        return `${pos ? `line ${pos.line}, column ${pos.col}` : '(yaml)'}: invalid YAML: ${e.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '')}`;
      }),
    );
  }
  // An alias inside the node it names (`a: &a [*a]`) makes a cyclic object that overflowed the
  // stack while defaults were filled in ("Maximum call stack size exceeded", exit 1), and an alias
  // bomb threw from toJS: both are YAML no config can use, said as such with where they are.
  const issues: string[] = [];
  const at = (node: YamlNode | null | undefined) => {
    const pos = node?.range ? lines.linePos(node.range[0]) : undefined;
    return pos ? `line ${pos.line}, column ${pos.col}` : '(yaml)';
  };
  visit(doc, {
    Alias(_key, node, path) {
      const target = node.resolve(doc);
      if (!target || !path.includes(target)) return;
      issues.push(`${at(node)}: invalid YAML: alias *${node.source} is inside the node it refers to (a cycle)`);
    },
    Pair(_key, pair) {
      if (!isScalar(pair.key) || typeof pair.key.value !== 'symbol' || pair.key.value.description !== '<<') return;
      const v = pair.value;
      if (mergeable(v, doc) || (isSeq(v) && v.items.every((i) => mergeable(i, doc)))) return;
      issues.push(`${at(pair.key)}: invalid YAML: a merge key (<<) takes a mapping, an alias of one, or a list of those`);
    },
  });
  if (issues.length > 0) throw new ConfigError(source, issues);
  let raw: unknown;
  try {
    raw = doc.toJS();
  } catch (err) {
    throw new ConfigError(source, [`(yaml): invalid YAML: ${(err as Error).message}`]);
  }
  return resolveConfig(raw ?? {}, source);
}

export function loadConfigFile(path: string = DEFAULT_CONFIG_PATH): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new ConfigError(path, [`cannot read config: ${why}`], '');
  }
  return parseConfigText(text, path);
}
