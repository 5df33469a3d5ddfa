// Every BullMQ Queue, Worker and FlowProducer that src/ constructs gets
// BullMQ's telemetry in a traced process: its options object spreads
// queueTelemetry() (src/tracing/tracer.ts). A queue made without it would add
// jobs that start traces of their own, cut from the request that asked for
// them; a worker without it would run them outside any trace.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/run-cli.js';

const TRACED_CLASSES = new Set(['Queue', 'Worker', 'FlowProducer']);

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sources(full)));
    else if (/\.(ts|mts|cts)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

/** The names a file imports from bullmq (import { Queue as Q } counts as Q). */
function bullmqImports(file: ts.SourceFile): Map<string, string> {
  const names = new Map<string, string>();
  for (const statement of file.statements) {
    if (!ts.isImportDeclaration(statement) || (statement.moduleSpecifier as ts.StringLiteral).text !== 'bullmq') continue;
    const bindings = statement.importClause?.namedBindings;
    if (!bindings || !ts.isNamedImports(bindings)) continue;
    for (const el of bindings.elements) names.set(el.name.text, (el.propertyName ?? el.name).text);
  }
  return names;
}

interface Construction {
  where: string;
  className: string;
  spreadsTelemetry: boolean;
}

async function constructions(): Promise<Construction[]> {
  const found: Construction[] = [];
  for (const file of await sources(path.join(REPO_ROOT, 'src'))) {
    const text = await readFile(file, 'utf8');
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const imported = bullmqImports(source);
    const visit = (node: ts.Node) => {
      if (ts.isNewExpression(node) && ts.isIdentifier(node.expression)) {
        const className = imported.get(node.expression.text);
        if (className && TRACED_CLASSES.has(className)) {
          const options = node.arguments?.at(-1);
          const spreadsTelemetry =
            !!options &&
            ts.isObjectLiteralExpression(options) &&
            options.properties.some(
              (p) => ts.isSpreadAssignment(p) && ts.isCallExpression(p.expression) && p.expression.expression.getText() === 'queueTelemetry',
            );
          const { line } = source.getLineAndCharacterOfPosition(node.getStart());
          found.push({ where: `${path.relative(REPO_ROOT, file)}:${line + 1}`, className, spreadsTelemetry });
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return found;
}

describe('BullMQ telemetry', () => {
  it('is given to every Queue, Worker and FlowProducer src/ constructs', async () => {
    const found = await constructions();
    // The queues and the flow producer of the services, and the workers.
    expect(new Set(found.map((c) => c.className))).toEqual(TRACED_CLASSES);
    expect(found.filter((c) => !c.spreadsTelemetry).map((c) => `${c.where} new ${c.className}(…) without ...queueTelemetry()`)).toEqual([]);
  });
});
