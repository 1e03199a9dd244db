"""Evidence finder queries: CloudTrail Lake SQL (Trino) checked, rewritten and transpiled.

``compile_query`` takes what an Audit Manager user writes, e.g.::

    SELECT eventData.controlId, count(*) FROM <event data store id>
    WHERE eventData.complianceCheck = 'FAILED' GROUP BY 1

and returns SQL for SQLite or PostgreSQL over Assay's ``evidence_finder`` table, or raises
``QueryError`` naming what is wrong and where (line, column). What it enforces:

- exactly one statement, and it is a query (SELECT, WITH ... SELECT, UNION/INTERSECT/EXCEPT);
- every table is the evidence store (its ARN, its id, or the alias ``evidence``) or a CTE;
- every column is a field of the evidence record schema (``schema``) or a name the query made;
- only whitelisted functions (pure computations over the row: nothing that reads files, other
  tables, the clock of another system or the database's own settings);
- a row limit (``Limits.max_rows``): a larger LIMIT is refused, and the compiled query asks
  for one row more than the limit so the runner can tell "more rows than allowed" apart.

Rights are applied by replacing every reference to the store (in joins, subqueries, CTEs and
each arm of a UNION alike) with a subquery that holds only the rows the caller may read, so no
way of writing the query can reach around them. This module is pure: no database, no I/O.
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, ParseError, TokenError
from sqlglot.optimizer.qualify import qualify
from sqlglot.tokens import TokenType

from .schema import COLUMN_TYPES, DISPLAY, EVENT_DATA, STORE_ALIAS, TOP_LEVEL, rank_expression
from .types import Compiled, Limits, QueryError, Rights

TABLE = "evidence_finder"          # Assay's table (store/tables.py)
_PLACEHOLDER = "assay_store"       # what the checker calls the store while it works
MAX_QUERY_LENGTH = 10000           # QueryStatement's max length in Audit Manager's model

# Functions a query may call, by sqlglot expression class: aggregates, string, numeric,
# conditional and date/time functions that compute over the row's own values.
_ALLOWED_FUNCTIONS = tuple(getattr(exp, name) for name in (
    "Count", "Sum", "Avg", "Min", "Max", "CountIf", "ApproxDistinct",
    "Lower", "Upper", "Length", "Substring", "Concat", "ConcatWs", "Trim", "StrPosition",
    "Replace", "Left", "Right", "Split", "SplitPart", "Lpad", "Rpad", "RegexpLike",
    "Abs", "Round", "Floor", "Ceil", "Mod", "Greatest", "Least",
    "Coalesce", "If", "Nullif", "Cast", "TryCast", "Case",
    "CurrentTimestamp", "CurrentDate", "DateAdd", "DateSub", "DateDiff", "DateTrunc",
    "TimestampTrunc", "TimestampAdd", "TimestampSub", "Extract", "TsOrDsToDate",
    "StrToTime", "TimeStrToTime", "TimeToStr", "Date", "Year", "Month", "Day",
    "Anonymous",  # checked by name below
) if hasattr(exp, name))
# Functions sqlglot does not model (exp.Anonymous), by lower-case name.
_ALLOWED_ANONYMOUS = frozenset({"now", "from_iso8601_timestamp", "to_iso8601", "date_format",
                                "format_datetime", "current_timezone"}) - {"current_timezone"}
_QUERY_ROOTS = (exp.Select, exp.Union, exp.Intersect, exp.Except)


def store_names(store_arn: str) -> tuple[str, ...]:
    """The names a query may give the store: its ARN, its id (the ARN's last part, as
    CloudTrail Lake queries name an event data store) and the short alias."""
    return (store_arn, store_arn.rsplit("/", 1)[-1], STORE_ALIAS)


def compile_query(sql: str, store_arn: str, rights: Rights, dialect: str,
                  limits: Limits = Limits()) -> Compiled:
    """Check ``sql`` and compile it for ``dialect`` ('sqlite' | 'postgres').

    Raises QueryError (message names the problem and its line and column).
    """
    if not sql or not sql.strip():
        raise QueryError("The query is empty: write a SELECT over the evidence store.")
    if len(sql) > MAX_QUERY_LENGTH:
        raise QueryError(f"The query is {len(sql)} characters long; the limit is "
                         f"{MAX_QUERY_LENGTH}.")
    text = _name_store(sql, store_arn)
    _check_statements(text)
    try:
        tree = sqlglot.parse_one(text, read="trino")
    except ParseError as error:
        first = error.errors[0] if error.errors else {}
        raise QueryError(f"Syntax error: {first.get('description', str(error))} near "
                         f"'{first.get('highlight', '')}'", first.get("line"), first.get("col"))
    if not isinstance(tree, _QUERY_ROOTS):
        raise QueryError(f"Only SELECT queries are allowed, not {tree.key.upper()}.", 1, 1)
    for node in tree.walk():
        if isinstance(node, (exp.Insert, exp.Delete, exp.Update, exp.Drop, exp.Create,
                             exp.Command, exp.Pragma)):
            raise QueryError(f"Only SELECT queries are allowed, not {node.key.upper()}.",
                             *_position(node, sql))
    for node in tree.find_all(exp.Into, exp.Lock):
        into = isinstance(node, exp.Into)
        raise QueryError(f"{'SELECT ... INTO' if into else 'FOR UPDATE'} is not allowed: "
                         "queries only read.", *_find(sql, r"\bINTO\b" if into else r"\bFOR\b"))
    _check_tables(tree, sql)
    _check_functions(tree, sql)
    _map_columns(tree, sql)
    limit = _outer_limit(tree)
    if limit is not None and limit > limits.max_rows:
        raise QueryError(f"LIMIT {limit} is past the evidence finder's row limit of "
                         f"{limits.max_rows}.", *_position(tree.args["limit"], sql))
    try:
        tree = qualify(tree, schema={_PLACEHOLDER: COLUMN_TYPES}, dialect="trino",
                       validate_qualify_columns=True, quote_identifiers=True)
    except OptimizeError as error:
        raise _unknown_column(str(error), sql)
    names = list(tree.named_selects)
    columns = [DISPLAY.get(name, name) for name in names]
    _rank_from_index(tree)
    _default_null_order(tree, dialect)
    for table in list(tree.find_all(exp.Table)):
        if table.name == _PLACEHOLDER:
            alias = table.alias_or_name
            table.replace(exp.Subquery(this=_visible_rows(rights),
                                       alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True))))
    wrapped = (exp.select("*").from_(exp.Subquery(this=tree, alias=exp.TableAlias(
        this=exp.to_identifier("finder_result")))).limit(limits.max_rows + 1))
    return Compiled(wrapped.sql(dialect=dialect), columns, names, limits.max_rows)


# -- checks -------------------------------------------------------------------------------

def _name_store(sql: str, store_arn: str) -> str:
    """Replace the store's ARN or id (not valid Trino identifiers: they hold ':' and '-') with
    an identifier of the same length, so positions in error messages stay the user's."""
    names = sorted(set(store_names(store_arn)[:2]), key=len, reverse=True)
    pattern = re.compile("|".join(
        rf"(?<![\w\"'`-]){re.escape(n)}(?![\w\"'`-])|\"{re.escape(n)}\"|`{re.escape(n)}`"
        for n in names))
    return pattern.sub(lambda m: _PLACEHOLDER + "_" * (len(m.group(0)) - len(_PLACEHOLDER)), sql)


def _check_statements(text: str) -> None:
    try:
        tokens = sqlglot.Dialect.get_or_raise("trino").tokenize(text)
    except TokenError as error:
        match = re.search(r"[Ll]ine (\d+), [Cc]ol:? (\d+)", str(error))
        raise QueryError(f"Syntax error: {error}".split(". Line")[0],
                         *(map(int, match.groups()) if match else ()))
    statements: list[list] = [[]]
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            statements.append([])
        else:
            statements[-1].append(token)
    statements = [s for s in statements if s]
    if len(statements) > 1:
        second = statements[1][0]
        raise QueryError(f"Only one statement is allowed; a second one starts with "
                         f"'{second.text}'.", second.line, second.col - len(second.text) + 1)
    if statements:
        first = statements[0][0]
        if first.token_type not in (TokenType.SELECT, TokenType.WITH, TokenType.L_PAREN):
            raise QueryError(f"Only SELECT queries are allowed, not {first.text.upper()}.",
                             first.line, first.col - len(first.text) + 1)


def _cte_names(tree: exp.Expression) -> set[str]:
    return {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}


def _check_tables(tree: exp.Expression, sql: str) -> None:
    ctes = _cte_names(tree)
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise QueryError("Only the evidence store can be queried, not a table function.",
                             *_position(table, sql))
        name = table.name
        qualified = table.args.get("db") or table.args.get("catalog")
        if not qualified and name.lower() in ctes:
            continue
        if not qualified and (name.startswith(_PLACEHOLDER) or name.lower() == STORE_ALIAS):
            if not table.alias:
                alias = STORE_ALIAS if name.startswith(_PLACEHOLDER) else name
                table.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
            table.set("this", exp.to_identifier(_PLACEHOLDER))
            continue
        raise QueryError(f"Unknown table {table.sql('trino')}: query the evidence store, by "
                         f"its event data store ARN or id (GetSettings' eventDataStoreArn) or "
                         f"as {STORE_ALIAS}.", *_position(table, sql))
    for node in tree.find_all(exp.Unnest, exp.Lateral):
        raise QueryError(f"{node.key.upper()} is not supported by the evidence finder.",
                         *_position(node, sql))


def _check_functions(tree: exp.Expression, sql: str) -> None:
    for node in tree.find_all(exp.Func):
        if isinstance(node, (exp.Connector, exp.Binary, exp.Unary)):
            continue  # AND, OR, NOT: operators sqlglot models as functions
        if not isinstance(node, _ALLOWED_FUNCTIONS):
            raise QueryError(f"Function {_function_name(node)} is not allowed in evidence "
                             "finder queries.", *_position(node, sql))
        if isinstance(node, exp.Anonymous) and node.name.lower() not in _ALLOWED_ANONYMOUS:
            raise QueryError(f"Function {node.name} is not allowed in evidence finder queries.",
                             *_position(node, sql))


def _function_name(node: exp.Func) -> str:
    return node.name if isinstance(node, exp.Anonymous) else node.sql_name()


def _map_columns(tree: exp.Expression, sql: str) -> None:
    """Schema fields -> the table's columns. ``eventData.x`` (or ``alias.eventData.x``) must
    be one of eventData's fields; bare names of top-level fields are mapped, other bare names
    are left for the qualifier (aliases and CTE columns)."""
    for column in list(tree.find_all(exp.Column)):
        parts = [p.name for p in column.parts]
        lower = [p.lower() for p in parts]
        if len(parts) >= 2 and lower[-2] == "eventdata":
            field_ = EVENT_DATA.get(lower[-1])
            if field_ is None:
                raise QueryError(f"Unknown column eventData.{parts[-1]}: the evidence record "
                                 f"schema has no such field.", *_position(column, sql))
            qualifier = column.parts[-3] if len(parts) >= 3 else None
            column.replace(exp.Column(this=exp.to_identifier(field_[1]), table=qualifier))
        elif lower[-1] == "eventdata":
            raise QueryError("eventData is a structure: name one of its fields, e.g. "
                             "eventData.controlId.", *_position(column, sql))
        elif lower[-1] in TOP_LEVEL:
            qualifier = column.parts[-2] if len(parts) >= 2 else None
            column.replace(exp.Column(this=exp.to_identifier(TOP_LEVEL[lower[-1]][1]),
                                      table=qualifier))


def _outer_limit(tree: exp.Expression) -> int | None:
    limit = tree.args.get("limit")
    if limit is None:
        return None
    value = limit.expression
    if isinstance(value, exp.Literal) and value.is_int:
        return int(value.this)
    raise QueryError("LIMIT must be a whole number.", *_position(limit, ""))


def _unknown_column(message: str, sql: str) -> QueryError:
    match = re.search(r"Column '(.+?)' could not be resolved", message)
    name = match.group(1).strip('"') if match else None
    where = re.search(r"Line: (\d+), Col: (\d+)", message)
    if name:
        line, column = (int(where.group(1)), int(where.group(2)) - len(name) + 1) if where \
            else _find(sql, name)
        return QueryError(f"Unknown column {name}: the evidence record schema has no such "
                          "field (fields are eventTime, awsRegion, eventID, ... and "
                          "eventData.<field>).", line, column)
    return QueryError(message.split(". Line")[0], *(
        (int(where.group(1)), int(where.group(2))) if where else ()))


def _position(node: exp.Expression, sql: str) -> tuple[int, int] | tuple[()]:
    """Line and column of a node: from its first identifier's token, else by searching."""
    found = [(i.meta["line"], i.meta["col"] - len(i.name) + 1 - (2 if i.quoted else 0))
             for i in node.find_all(exp.Identifier) if "line" in i.meta]
    if found:
        return min(found)
    name = node.name if isinstance(node, exp.Anonymous) else node.key
    return _find(sql, name) if sql else ()


def _find(sql: str, word: str) -> tuple[int, int] | tuple[()]:
    """Where ``word`` (a regular expression when it holds a backslash) first appears."""
    match = re.search(word if "\\" in word else re.escape(word), sql, re.IGNORECASE)
    if not match:
        return ()
    before = sql[:match.start()]
    return before.count("\n") + 1, match.start() - (before.rfind("\n") + 1) + 1


def _bare(node: exp.Expression) -> str:
    """An expression's SQL with column qualifiers and quotes taken off, to compare shapes."""
    node = node.copy()
    for column in node.find_all(exp.Column):
        column.set("table", None)
        column.this.set("quoted", False)
    return node.sql("trino")


def _canonical_rank() -> str:
    select = exp.select(sqlglot.parse_one(rank_expression(), read="trino"))
    _map_columns(select, "")
    return _bare(select.expressions[0])


_RANK_SQL = _canonical_rank()


def _rank_from_index(tree: exp.Expression) -> None:
    """ORDER BY the failed-first ranking (schema.rank_expression) of a plain scan of the store
    reads the indexed ``result_rank`` instead of computing a CASE per row and sorting them
    all: the console's default order stays quick over millions of rows. Same order: rank
    ascending is result_rank descending."""
    for select in tree.find_all(exp.Select):
        order = select.args.get("order")
        source = (select.args.get("from_") or select.args.get("from") or exp.From()).this
        if (order is None or select.args.get("group") or select.args.get("distinct")
                or select.args.get("joins") or not isinstance(source, exp.Table)
                or source.name != _PLACEHOLDER):
            continue
        for ordered in order.expressions:
            if isinstance(ordered.this, exp.Case) and _bare(ordered.this) == _RANK_SQL:
                ordered.set("this", exp.Column(
                    this=exp.to_identifier("result_rank", quoted=True),
                    table=exp.to_identifier(source.alias_or_name, quoted=True)))
                ordered.set("desc", not ordered.args.get("desc"))
                ordered.set("nulls_first", False)


_NOT_NULL = {"event_time", "result_rank"}


def _default_null_order(tree: exp.Expression, dialect: str) -> None:
    """Trino sorts NULLs last; on columns that are never NULL, say nothing about NULLs, so the
    database reads the order off an index instead of sorting (PostgreSQL cannot use an index
    for ``DESC NULLS LAST``)."""
    for ordered in tree.find_all(exp.Ordered):
        if isinstance(ordered.this, exp.Column) and ordered.this.name in _NOT_NULL:
            desc = bool(ordered.args.get("desc"))
            ordered.set("nulls_first", desc if dialect == "postgres" else not desc)


# -- rights -------------------------------------------------------------------------------

def _visible_rows(rights: Rights) -> exp.Select:
    """The rows the caller may read: every column of the table, of assessments that are not
    deleted, and for a delegate only of its delegated control sets."""
    f = exp.to_identifier("f")
    query = exp.select(*(exp.column(c, table=f) for c in (*COLUMN_TYPES, "result_rank"))).from_(
        exp.to_table(TABLE).as_("f"))
    query = query.where(exp.column("assessment_id", table=f).isin(
        query=exp.select("id").from_("assessments").where("deleted_at IS NULL")))
    if rights.assessment_id is not None:
        query = query.where(exp.column("assessment_id", table=f).eq(
            exp.Literal.string(rights.assessment_id)))
    if rights.delegate_arn is not None:
        delegated = (exp.select("1").from_("delegations").where(
            exp.and_(exp.column("assessment_id", "delegations").eq(exp.column("assessment_id", f)),
                     exp.column("control_set_id", "delegations").eq(exp.column("control_set_id", f)),
                     exp.column("role_arn", "delegations").eq(
                         exp.Literal.string(rights.delegate_arn)))))
        query = query.where(exp.Exists(this=delegated))
    return query
