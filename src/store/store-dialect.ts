/**
 * A PostgreSQL dialect whose compiler writes comparisons of a `state` or `status` column with
 * one of its names as literals (`status <> 'deleted'`), not parameters (`status <> $3`).
 *
 * Why: the store sends every parameterised query as a named prepared statement
 * (prepared-client.ts), and PostgreSQL soon plans such a statement once for any parameters. A
 * partial index says which rows it holds by these same names (`WHERE status <> 'deleted'`,
 * `WHERE state IN ('activating', …)`); a plan made without knowing the parameter cannot prove
 * the query wants only those rows, so it reads the whole table instead (at a million grants,
 * once per request). As literals the names are part of the statement's text, which stays one of
 * a handful per query, and every plan can use the index. test/store/plans-at-scale.test.ts
 * holds the lifecycle to it.
 *
 * Only names of the shape every state has (lowercase letters and `_`) are inlined, so nothing a
 * person typed can change a statement's meaning, and queries written as raw SQL say their
 * literals themselves. Done while compiling (the walk Kysely makes anyway), not as a plugin,
 * which would copy every query's tree once more.
 */
import {
  BinaryOperationNode,
  ColumnNode,
  PostgresDialect,
  PostgresQueryCompiler,
  PrimitiveValueListNode,
  ReferenceNode,
  ValueListNode,
  ValueNode,
  type OperationNode,
  type QueryCompiler,
} from 'kysely';

const STATE_COLUMNS = new Set(['state', 'status']);
const STATE_NAME = /^[a-z][a-z_]{0,39}$/;

const isStateName = (v: unknown): v is string => typeof v === 'string' && STATE_NAME.test(v);

function isStateColumn(node: OperationNode): boolean {
  if (ReferenceNode.is(node) && ColumnNode.is(node.column)) return STATE_COLUMNS.has(node.column.column.name);
  return ColumnNode.is(node) && STATE_COLUMNS.has(node.column.name);
}

function asLiterals(node: OperationNode): OperationNode | null {
  if (ValueNode.is(node) && !node.immediate) return isStateName(node.value) ? ValueNode.createImmediate(node.value) : null;
  if (PrimitiveValueListNode.is(node)) return node.values.length > 0 && node.values.every(isStateName) ? ValueListNode.create(node.values.map((v) => ValueNode.createImmediate(v))) : null;
  return null;
}

class StateLiteralsCompiler extends PostgresQueryCompiler {
  protected override visitBinaryOperation(node: BinaryOperationNode): void {
    const right = isStateColumn(node.leftOperand) ? asLiterals(node.rightOperand) : null;
    super.visitBinaryOperation(right ? BinaryOperationNode.create(node.leftOperand, node.operator, right) : node);
  }
}

export class StoreDialect extends PostgresDialect {
  override createQueryCompiler(): QueryCompiler {
    return new StateLiteralsCompiler();
  }
}
