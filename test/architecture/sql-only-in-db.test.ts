// SQL only in src/db (docs/architecture.md): no file of src/ outside src/db
// holds an SQL statement in a string or template literal, or calls a
// `.query(…)` method. Comments are free to name SQL: only the literals and the
// calls the TypeScript parser finds are looked at.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/run-cli.js';

/** SQL wherever it stands in a literal (upper case, as the project writes it). */
const SQL_ANYWHERE = [
  /\bSELECT\b[\s\S]*\bFROM\b/,
  /\bINSERT\s+INTO\b/,
  /\bUPDATE\s+[a-z_."]+\s+SET\b/,
  /\bDELETE\s+FROM\b/,
  /\b(CREATE|ALTER|DROP)\s+(UNLOGGED\s+|TEMP\s+|TEMPORARY\s+)?(DATABASE|TABLE|ROLE|INDEX|SCHEMA|SEQUENCE|VIEW|EXTENSION|TYPE)\b/,
  /\bTRUNCATE\s+(TABLE\s+)?[a-z_"]/,
  /\bpg_[a-z_]+\s*\(/,
];
/** A literal that is a statement from its start: `SELECT 1`, `BEGIN`, `COMMIT`, a CTE, a grant. */
const SQL_STATEMENT = /^\s*(SELECT\s+\S|BEGIN\b|COMMIT\b|ROLLBACK\b|WITH\s+\w+\s+AS\s*\(|GRANT\s|REVOKE\s|SET\s+(LOCAL\s+)?[a-z_]+\s*(=|TO)\b)/;

/** The text of every string and template literal of `source` (a template's pieces joined), and every `.query(` call. */
function findSql(fileName: string, source: string): string[] {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: string[] = [];
  const where = (node: ts.Node) => `${fileName}:${file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1}`;
  const check = (node: ts.Node, text: string) => {
    if (SQL_STATEMENT.test(text) || SQL_ANYWHERE.some((re) => re.test(text))) found.push(`${where(node)}: ${text.trim().slice(0, 80)}`);
  };
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) check(node, node.text);
    else if (ts.isTemplateExpression(node)) check(node, [node.head.text, ...node.templateSpans.map((s) => s.literal.text)].join(' x '));
    else if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && node.expression.name.text === 'query') {
      found.push(`${where(node)}: .query( call`);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

async function sourcesOutsideDb(): Promise<string[]> {
  const entries = await readdir(path.join(REPO_ROOT, 'src'), { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
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

  it('no file of src/ outside src/db holds SQL or calls .query(', async () => {
    const files = await sourcesOutsideDb();
    expect(files.length).toBeGreaterThan(100);
    const found: string[] = [];
    for (const f of files) found.push(...findSql(f, await readFile(path.join(REPO_ROOT, f), 'utf8')));
    expect(found).toEqual([]);
  });
});
