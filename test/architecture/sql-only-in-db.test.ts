// SQL only in src/db (docs/architecture.md): no file of src/ outside src/db
// holds an SQL statement in a string or template literal (or in literals
// joined with +), or reaches a driver's query door (`.query`, `['query']`, a
// destructured `query`, `new Query`, a client's `.submit`). Every script of
// src/ is read (.ts, .tsx, .mts, .cts, .js, .mjs, .cjs). Comments are free to
// name SQL: only the literals and the expressions the TypeScript parser finds
// are looked at. Prose may say `SELECT` in passing: lower case is flagged only
// in a statement's shape, or as the literal's first words.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/run-cli.js';

const NAME = `[a-z_][a-z0-9_$]*|"[^"]+"`;
const QUALIFIED = `(?:${NAME})(?:\\.(?:${NAME}))*`;
const DDL_OBJECT =
  '(DATABASE|TABLE|ROLE|USER|INDEX|SCHEMA|SEQUENCE|VIEW|EXTENSION|TYPE|DOMAIN|FUNCTION|PROCEDURE|TRIGGER|POLICY|RULE|AGGREGATE|PUBLICATION|SUBSCRIPTION)';

/** SQL wherever it stands in a literal: upper case, as the project writes it. */
const SQL_ANYWHERE_UPPER = [
  /\bSELECT\b[\s\S]*\bFROM\b/,
  /\bINSERT\s+INTO\b/,
  /\bUPDATE\s+[a-z_."]+\s+SET\b/,
  /\bDELETE\s+FROM\b/,
  new RegExp(`\\b(CREATE|ALTER|DROP)\\s+(OR\\s+REPLACE\\s+)?(UNIQUE\\s+)?(UNLOGGED\\s+|TEMP\\s+|TEMPORARY\\s+|MATERIALIZED\\s+)?${DDL_OBJECT}\\b`),
  /\bTRUNCATE\s+(TABLE\s+)?[a-z_"]/,
  /\bCOPY\s+\S+[\s\S]*\b(FROM|TO)\s+(STDIN|STDOUT|PROGRAM|')/,
  /\bLOCK\s+TABLE\b/,
  /\bSET\s+(ROLE|SESSION\s+AUTHORIZATION)\b/,
  /\b(LISTEN|NOTIFY|UNLISTEN)\s+[a-z_"]/,
  /\b(VACUUM|REINDEX)\b/,
  /\b(SAVEPOINT|RELEASE\s+SAVEPOINT)\s+[a-z_"]/,
  /\bSTART\s+TRANSACTION\b/,
  /\bMERGE\s+INTO\b/,
  /\bDO\s+\$[a-z_]*\$/,
  /\bWITH\s+RECURSIVE\b/,
  /\bpg_[a-z_]+\s*\(/,
];
/** SQL in any case, in a statement's shape that prose does not take. */
const SQL_ANYWHERE_ANY_CASE = [
  new RegExp(`\\binsert\\s+into\\s+${QUALIFIED}\\s*(\\(|values\\b|select\\b|default\\s+values\\b)`, 'i'),
  new RegExp(`\\bupdate\\s+(only\\s+)?${QUALIFIED}\\s+set\\s+(${NAME})\\s*=`, 'i'),
  new RegExp(`\\bdelete\\s+from\\s+(only\\s+)?${QUALIFIED}\\s*(\\bwhere\\b|\\busing\\b|\\breturning\\b|;|$)`, 'i'),
  new RegExp(`\\bselect\\s+(\\*|distinct\\b|count\\s*\\(|(${QUALIFIED})\\s*(,|\\bas\\b|\\bfrom\\b))[\\s\\S]*\\bfrom\\b`, 'i'),
  new RegExp(
    `\\bselect\\b[\\s\\S]*\\bfrom\\s+${QUALIFIED}\\s*(\\bwhere\\b|\\bjoin\\b|\\border\\s+by\\b|\\bgroup\\s+by\\b|\\blimit\\b|\\bfor\\s+update\\b|;|$)`,
    'i',
  ),
  new RegExp(
    `\\b(create|alter|drop)\\s+(or\\s+replace\\s+)?(unique\\s+)?(unlogged\\s+|temp\\s+|temporary\\s+|materialized\\s+)?${DDL_OBJECT}\\s+(if\\s+(not\\s+)?exists\\s+)?(concurrently\\s+)?${QUALIFIED}\\s*(\\(|;|$|\\bon\\b|\\bas\\b|\\bto\\b|\\bwith\\b|\\bowner\\b|\\brename\\b|\\badd\\b|\\bcascade\\b|\\bset\\b)`,
    'i',
  ),
  /\bcopy\s+\S+[\s\S]*\b(from|to)\s+(stdin|stdout|program\b)/i,
  /\block\s+table\s+/i,
  /\bset\s+session\s+authorization\b/i,
  /\bstart\s+transaction\b/i,
  /\bmerge\s+into\s+[a-z_"]/i,
  /\bdo\s+\$[a-z_]*\$/i,
  new RegExp(`\\bwith\\s+(recursive\\s+)?(${NAME})\\s*(\\([^)]*\\)\\s*)?as\\s+(not\\s+)?(materialized\\s+)?\\(`, 'i'),
  /\bpg_[a-z_]+\s*\(/i,
];
/** A literal that is a statement from its start, as the project writes it: `SELECT 1`, `BEGIN`, a grant, `SET x TO`. */
const SQL_STATEMENT_UPPER = /^\s*(SELECT\s+\S|BEGIN\b|COMMIT\b|ROLLBACK\b|WITH\s+\w+\s+AS\s*\(|GRANT\s|REVOKE\s|SET\s+(LOCAL\s+)?[a-z_]+\s*(=|TO)\b|ANALYZE\b)/;
/** A literal that is a statement from its start, in any case, in a shape prose does not take. */
const SQL_STATEMENT = new RegExp(
  [
    `select\\s+(\\d|\\*|\\$\\d|count\\s*\\(|now\\s*\\(|distinct\\b|(${QUALIFIED})\\s*(,|\\bas\\b|\\bfrom\\b|;|$))`,
    `(begin|commit|rollback)(\\s+(transaction|work))?\\s*;?\\s*$`,
    `(begin|start)\\s+transaction\\b`,
    `(savepoint|release\\s+savepoint|rollback\\s+to(\\s+savepoint)?)\\s+(${NAME})\\s*;?\\s*$`,
    `with\\s+(recursive\\s+)?(${NAME})\\s*(\\([^)]*\\)\\s*)?as\\s*(not\\s+)?(materialized\\s+)?\\(`,
    `(grant|revoke)\\s+[a-z_, ]+\\s+on\\s+((table|schema|database|sequence|function|all\\s+tables\\s+in\\s+schema)\\s+)?${QUALIFIED}\\s+(to|from)\\b`,
    `set\\s+(local\\s+|session\\s+)?(${QUALIFIED})\\s*=\\s*\\S`,
    `set\\s+(local\\s+|session\\s+)?session\\s+authorization\\b`,
    `reset\\s+(role|session\\s+authorization)\\s*;?\\s*$`,
    `(listen|unlisten|notify)\\s+(${NAME})\\s*(;|,\\s*')`,
    `vacuum\\b`,
    `analy[sz]e\\s*(verbose\\s*)?;?\\s*$`,
    `lock\\s+table\\b`,
    `truncate\\s+table\\b`,
    `merge\\s+into\\b`,
    `do\\s+(language\\s+\\w+\\s+)?\\$`,
    `call\\s+${QUALIFIED}\\s*\\(`,
    `explain\\s+(analyze\\s+)?(select|insert|update|delete|with)\\b`,
  ]
    .map((alt) => `(?:${alt})`)
    .join('|')
    .replace(/^/, '^\\s*(?:')
    .concat(')'),
  'i',
);
/** Upper case anywhere too: `SET ROLE`, `LISTEN`, said in capitals as the project writes SQL. */
const UPPER_ONLY = [/\bSET\s+ROLE\b/];

const isSql = (text: string) =>
  SQL_STATEMENT_UPPER.test(text) ||
  SQL_STATEMENT.test(text) ||
  SQL_ANYWHERE_UPPER.some((re) => re.test(text)) ||
  SQL_ANYWHERE_ANY_CASE.some((re) => re.test(text)) ||
  UPPER_ONLY.some((re) => re.test(text));

/** Receivers whose `.query` is HTTP, not SQL: an express request's query string, a route spec's query schema. */
const HTTP_QUERY_OWNERS = new Set(['req', 'spec']);
/** Receivers named as a database client's, whose `.submit(` hands the driver a query object. */
const DB_CLIENT_NAME = /(^|[^a-z])(client|pool|db|conn|connection|admin|pg)$|Client$|Pool$/i;

const SCRIPT = /\.(ts|tsx|mts|cts|js|jsx|mjs|cjs)$/;
const scriptKind = (fileName: string) =>
  /\.(js|mjs|cjs)$/.test(fileName) ? ts.ScriptKind.JS : /\.[jt]sx$/.test(fileName) ? ts.ScriptKind.TSX : ts.ScriptKind.TS;

const literalText = (node: ts.Node): string | undefined => {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
  if (ts.isTemplateExpression(node)) return [node.head.text, ...node.templateSpans.map((s) => s.literal.text)].join(' x ');
  return undefined;
};
const isPlus = (node: ts.Node): node is ts.BinaryExpression => ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.PlusToken;
/** The operands of a `+` chain, left to right (parentheses looked through). */
const plusLeaves = (node: ts.Expression): ts.Expression[] => {
  const inner = ts.isParenthesizedExpression(node) ? node.expression : node;
  return isPlus(inner) ? [...plusLeaves(inner.left), ...plusLeaves(inner.right)] : [inner];
};

/** Where `.query`, `['query']`, a destructured `query`, `new Query` or a client's `.submit` reaches the driver, and every literal with SQL. */
function findSql(fileName: string, source: string): string[] {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true, scriptKind(fileName));
  const found: string[] = [];
  const where = (node: ts.Node) => `${fileName}:${file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1}`;
  const check = (node: ts.Node, text: string) => {
    if (isSql(text)) found.push(`${where(node)}: ${text.trim().slice(0, 80)}`);
  };
  const door = (node: ts.Node, what: string) => found.push(`${where(node)}: ${what}`);
  /** A route handler's context (`route(spec, async ({ res, query }) => …)`): its `query` is the HTTP query string. */
  const isRouteHandlerParam = (pattern: ts.ObjectBindingPattern) => {
    const fn = pattern.parent.parent;
    return (
      ts.isParameter(pattern.parent) &&
      (ts.isArrowFunction(fn) || ts.isFunctionExpression(fn)) &&
      ts.isCallExpression(fn.parent) &&
      ts.isIdentifier(fn.parent.expression) &&
      fn.parent.expression.text === 'route'
    );
  };
  const visit = (node: ts.Node): void => {
    const text = literalText(node);
    if (text !== undefined) check(node, text);
    else if (isPlus(node) && !isPlus(node.parent) && !(ts.isParenthesizedExpression(node.parent) && isPlus(node.parent.parent))) {
      // SQL split by concatenation: the pieces joined, unknown operands as `x`, when no piece says it alone.
      const leaves = plusLeaves(node);
      const texts = leaves.map(literalText);
      if (texts.some((t) => t !== undefined) && !texts.some((t) => t !== undefined && isSql(t))) check(node, texts.map((t) => t ?? ' x ').join(''));
    } else if (ts.isPropertyAccessExpression(node) && node.name.text === 'query') {
      if (!(ts.isIdentifier(node.expression) && HTTP_QUERY_OWNERS.has(node.expression.text))) door(node, '.query');
    } else if (ts.isElementAccessExpression(node) && literalText(node.argumentExpression) === 'query') {
      door(node, "['query']");
    } else if (ts.isBindingElement(node) && ts.isObjectBindingPattern(node.parent)) {
      const key = node.propertyName ?? node.name;
      const keyText = ts.isIdentifier(key) || ts.isStringLiteral(key) ? key.text : undefined;
      if (keyText === 'query' && !isRouteHandlerParam(node.parent)) door(node, 'destructured query');
    } else if (ts.isNewExpression(node)) {
      const callee = node.expression;
      const name = ts.isIdentifier(callee) ? callee.text : ts.isPropertyAccessExpression(callee) ? callee.name.text : undefined;
      if (name === 'Query') door(node, 'new Query');
    } else if (ts.isPropertyAccessExpression(node) && node.name.text === 'submit') {
      const owner = node.expression;
      const ownerName = ts.isIdentifier(owner) ? owner.text : ts.isPropertyAccessExpression(owner) ? owner.name.text : '';
      if (DB_CLIENT_NAME.test(ownerName)) door(node, `${ownerName}.submit`);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

async function sourcesOutsideDb(): Promise<string[]> {
  const entries = await readdir(path.join(REPO_ROOT, 'src'), { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && SCRIPT.test(e.name) && !e.name.endsWith('.d.ts'))
    .map((e) => path.relative(REPO_ROOT, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .filter((f) => !f.startsWith('src/db/'))
    .sort();
}

describe('SQL only in src/db', () => {
  it('finds SQL in literals and .query( calls, and not in comments or prose', () => {
    const sample = [
      "await client.query('SELECT 1');",
      'const q = `SELECT id FROM ${table} WHERE id > $1`;',
      'db.run(`INSERT INTO audit_log (actor) VALUES ($1)`, [actor]);',
      "const s = 'ALTER DATABASE ' + name;",
      "const t = 'BEGIN';",
      '// SELECT id FROM batches: a comment may say this',
      '/* DELETE FROM api_keys */',
      "log('granted its rights (audit_log: SELECT and INSERT only)');",
      "router.delete('/v1/keys/:id', handler); fetch(url, { method: 'DELETE' });",
      "const words = 'select the rows from the list';",
    ].join('\n');
    const found = findSql('sample.ts', sample).map((f) => f.replace(/^sample\.ts:(\d+): .*$/, '$1'));
    expect(found).toEqual(['1', '1', '2', '3', '4', '5']);
  });

  it('finds SQL in any case, in every statement kind, split by +, and every door onto the driver', () => {
    const caught = [
      "const a = 'select id from batches where id = $1';",
      "const b = 'Select * From images';",
      "const c = 'insert into audit_log (actor) values ($1)';",
      "const d = 'update batches set status = $2';",
      "const e = 'delete from api_keys where id = $1';",
      "const f = 'COPY images TO STDOUT';",
      "const g = 'copy images (id) from stdin';",
      "const h = 'LOCK TABLE batches IN ACCESS EXCLUSIVE MODE';",
      "const i = 'SET ROLE lookout_owner';",
      "const j = 'set session authorization lookout';",
      "const k = 'LISTEN batch_done';",
      "const l = `NOTIFY batch_done, 'x'`;",
      "const m = 'VACUUM ANALYZE images';",
      "const n = 'analyze';",
      "const o = 'SAVEPOINT before_swap';",
      "const p = 'start transaction isolation level serializable';",
      "const q = 'MERGE INTO workers w USING x ON true';",
      'const r = `DO $$ BEGIN PERFORM 1; END $$`;',
      "const s = 'CALL refresh_stats()';",
      "const t = 'CREATE UNIQUE INDEX images_sha ON images (sha256)';",
      "const u = 'create or replace function f() returns int as $$ select 1 $$ language sql';",
      "const v = 'DROP TRIGGER audit_guard ON audit_log';",
      "const w = 'CREATE POLICY own_rows ON batches USING (true)';",
      "const x = 'WITH RECURSIVE t(n) AS (VALUES (1)) SELECT n FROM t';",
      "const y = 'SEL' + 'ECT id FR' + 'OM batches';",
      "const z = 'DELETE ' + 'FROM ' + table;",
      "client['query']('x');",
      'const { query } = client;',
      'const run = client.query.bind(client);',
      'await db.query.call(db, sql);',
      "const cursor = new pg.Query('x');",
      'client.submit(cursor);',
      "const aa = 'rollback';",
      "const bb = 'with recursive tree as (select 1)';",
    ];
    const free = [
      "log('granted its rights (audit_log: SELECT and INSERT only)');",
      "const words = 'select the rows from the list';",
      "const hint = 'Copy the key now: it is shown once';",
      "const tip = 'lock held by another reconciler';",
      "const note = 'notify the operator';",
      "const more = 'call the API, then ' + action;",
      'const parsed = spec.query.safeParse(req.query);',
      'route(spec, async ({ res, query }) => res.json(query));',
      'const { outputs } = await batcher.submit(image.tensor);',
      "stream.on('end', done);",
    ];
    const sample = [...caught, ...free].join('\n');
    const lines = findSql('sample.mjs', sample).map((f) => Number(/^sample\.mjs:(\d+):/.exec(f)![1]));
    expect([...new Set(lines)]).toEqual(caught.map((_, i) => i + 1));
  });

  it('no file of src/ outside src/db holds SQL or calls .query(', async () => {
    const files = await sourcesOutsideDb();
    expect(files.length).toBeGreaterThan(100);
    expect(files).toContain('src/detection/inference-thread.mjs');
    const found: string[] = [];
    for (const f of files) found.push(...findSql(f, await readFile(path.join(REPO_ROOT, f), 'utf8')));
    expect(found).toEqual([]);
  });
});
