"""Contexts that make guards come out as wanted, found by solving the guard language.

Test generation needs a context that makes a transition's ``expr`` guards true and
the competing ones false; the model checker needs one context per way a step can
go; lint needs to know that a guard can never be true. All three ask ``solve``
for a context satisfying a list of ``(expression, wanted outcome)`` pairs.

How it works. The constraints are put in negation normal form and then in
disjunctive normal form (capped at ``MAX_CONJUNCTS``). Each conjunct is a list of
literals: comparisons, truth tests, ``in`` tests and ``In('state')`` calls over
*variables* (a context name, a path into it such as ``order['qty']`` or
``legs[0]``, a list read through ``len`` or ``in``, an active state). Literals that
share no variable are solved separately; each group is searched over candidate
values drawn from the constants it mentions (each bound, one either side, the
midpoints between bounds, each string or list it is compared with, a fresh
string, ``None``, ``True``, ``False``, lists of the lengths ``len`` asks for).
Every context returned is checked by the engine's own evaluator, so a ``sat``
answer is never wrong.

``unsat`` is a proof, given only when every conjunct is refuted by a literal that
is false on its own, by a single variable whose literals are all of the simple
forms (``x op constant``, ``x == c``, ``x in [...]``, truth tests) for which the
candidates cover every case, or by Fourier-Motzkin elimination over the linear
comparisons (``a + 2*b > c``: exact rational arithmetic).

Anything else (``%``, ``//``, ``**``, ``min``/``max``/``abs``/``sum``, a name
compared with another name's string) is outside what is solved: then contexts are
sampled at random around the same candidates, and ``unknown`` says which part of
the guard could not be solved when sampling finds nothing.

An expression that raises at run time counts as false, so a guard wanted false
can also be met by leaving out a name only it reads: that is tried last, when no
proper values make it false.
"""

from __future__ import annotations

import ast
import copy
import functools
import itertools
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal, TypeAlias

from pystator.expressions import STATE_FUNCTION, CompiledExpression, StateScope, compile_expression

__all__ = [
    "MAX_CONJUNCTS",
    "SAMPLES",
    "Constraint",
    "Solution",
    "satisfiable",
    "solve",
]

MAX_CONJUNCTS = 256
"""Most conjuncts the disjunctive normal form may have before the solver samples instead."""

SAMPLES = 400
"""Random contexts tried when a guard is outside what the solver reasons about."""

_MAX_EVALUATIONS = 20_000
_MAX_FM_CONSTRAINTS = 2_000

Constraint: TypeAlias = "tuple[CompiledExpression | str, bool]"
"""An expression and the outcome wanted from it."""

Status = Literal["sat", "unsat", "unknown"]


@dataclass(frozen=True)
class Solution:
    """What ``solve`` found.

    ``context`` (for ``sat``) makes every constraint come out as wanted, and
    ``states`` are the states it assumes active for ``In(...)`` (empty when the
    expressions do not call it, or when the caller fixed the active states).
    ``method`` says how: ``"solved"`` (candidate search over the solved language),
    ``"sampled"`` (the guards have parts outside it: values were tried, candidates
    first, then random ones), ``"proved"`` (an ``unsat`` proof). ``reason`` explains
    an ``unknown`` or an ``unsat`` in a sentence.
    """

    status: Status
    context: dict[str, Any] | None = None
    states: frozenset[str] = frozenset()
    method: str = ""
    reason: str = ""

    @property
    def sat(self) -> bool:
        return self.status == "sat"


def satisfiable(expression: CompiledExpression | str) -> Solution:
    """Whether some context makes ``expression`` true (with ``In`` free)."""
    return solve([(expression, True)])


def solve(
    constraints: Iterable[Constraint],
    *,
    states: frozenset[str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> Solution:
    """A context meeting every ``(expression, wanted)`` constraint, or why there is none.

    ``states`` fixes the active states ``In(...)`` reads; left ``None``, each
    ``In('s')`` is a free choice the solution reports in ``Solution.states``.
    ``values`` fixes names the context does not decide (the machine's own
    variables, ``snapshot.data``): they are read as constants and never appear in
    the solution's context.
    """
    key = tuple(
        (_bound((e.source if isinstance(e, CompiledExpression) else e), values), bool(want))
        for e, want in constraints
    )
    solution = _solve_cached(key, states)
    if solution.context is None:
        return solution
    context = copy.deepcopy(solution.context)
    for name in values or ():
        context.pop(name, None)
    return Solution(solution.status, context, solution.states, solution.method, solution.reason)


def _bound(source: str, values: Mapping[str, Any] | None) -> str:
    """``source`` with the names in ``values`` replaced by their values, where each
    value can be written as a literal (the others stay names: then their outcome is
    checked by the engine, not solved)."""
    if not values:
        return source
    known: Mapping[str, Any] = values
    tree = ast.parse(source, mode="eval")
    if not any(isinstance(n, ast.Name) and n.id in known for n in ast.walk(tree)):
        return source

    class Bind(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:
            if node.id not in known:
                return node
            literal = _literal(known[node.id])
            return node if literal is None else ast.copy_location(literal, node)

        def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
            path = _path(node)
            if path is None or path[0] not in known:
                return self.generic_visit(node)
            value = known[path[0]]
            for step in path[1:]:
                try:
                    value = value[step]
                except (KeyError, IndexError, TypeError):
                    return node
            literal = _literal(value)
            return node if literal is None else ast.copy_location(literal, node)

    return ast.unparse(Bind().visit(tree))


def _literal(value: Any) -> ast.expr | None:
    """``value`` as an expression the guard language accepts (numbers, strings,
    booleans, ``None``, lists of those), else None."""
    if value is None or isinstance(value, (bool, int, str)):
        return ast.Constant(value)
    if isinstance(value, float):
        return ast.Constant(value) if value == value and abs(value) != float("inf") else None
    if isinstance(value, (list, tuple)):
        items = [_literal(v) for v in value]
        if any(i is None for i in items):
            return None
        return ast.List([i for i in items if i is not None], ast.Load())
    return None


@functools.lru_cache(maxsize=4096)
def _solve_cached(key: tuple[tuple[str, bool], ...], states: frozenset[str] | None) -> Solution:
    compiled = [(compile_expression(source), want) for source, want in key]
    return _Solver(compiled, states).run()


# --------------------------------------------------------------------------- variables

_ABSENT: Any = object()  # a variable left out of the context

VarKey: TypeAlias = "tuple[str, Any]"
# ("path", ("order", "qty")): a value in the context; ("seq", ("legs",)): a list read
# through len() or `in`; ("state", "busy"): whether In('busy') holds.


@dataclass(frozen=True)
class _Lin:
    """A linear term: sum of coefficient * variable, plus a constant.

    ``numeric`` is true when the term can only be a number (it has arithmetic, a
    number, or ``len``): then its variables must hold numbers for it to evaluate.
    """

    coeffs: Mapping[VarKey, Fraction]
    const: Fraction
    numeric: bool


def _path(node: ast.expr) -> tuple[Any, ...] | None:
    """``x`` -> ("x",), ``x['k'][0]`` -> ("x", "k", 0); None for anything else."""
    if isinstance(node, ast.Name):
        return (node.id,)
    if isinstance(node, ast.Subscript):
        inner = _path(node.value)
        key = node.slice
        if inner is None or not isinstance(key, ast.Constant):
            return None
        value = key.value
        if isinstance(value, str) or (
            isinstance(value, int) and not isinstance(value, bool) and value >= 0
        ):
            return (*inner, value)
    return None


def _constant(node: ast.expr) -> tuple[bool, Any]:
    """(True, value) for a literal (numbers, strings, lists of literals...)."""
    if isinstance(node, (ast.Constant, ast.List, ast.Tuple, ast.Set)) or (
        isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd))
    ):
        try:
            return True, ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return False, None
    return False, None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _len_of(node: ast.expr) -> tuple[Any, ...] | None:
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "len"
        and len(node.args) == 1
    ):
        return _path(node.args[0])
    return None


def _linear(node: ast.expr) -> _Lin | None:
    """``node`` as a linear term over context variables, when it is one."""
    path = _path(node)
    if path is not None:
        return _Lin({("path", path): Fraction(1)}, Fraction(0), False)
    seq = _len_of(node)
    if seq is not None:
        return _Lin({("seq", seq): Fraction(1)}, Fraction(0), True)
    ok, value = _constant(node)
    if ok:
        if _is_number(value) and value == value and abs(value) != float("inf"):
            return _Lin({}, Fraction(value), True)
        return None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _linear(node.operand)
        if inner is None:
            return None
        sign = -1 if isinstance(node.op, ast.USub) else 1
        return _Lin({k: sign * v for k, v in inner.coeffs.items()}, sign * inner.const, True)
    if isinstance(node, ast.BinOp):
        combine = _LINEAR_OPERATORS.get(type(node.op))
        if combine is None:
            return None
        left, right = _linear(node.left), _linear(node.right)
        if left is None or right is None:
            return None
        return combine(left, right)
    return None


def _linear_sum(left: _Lin, right: _Lin, sign: int) -> _Lin:
    """``left + right`` (``sign`` 1) or ``left - right`` (``sign`` -1)."""
    coeffs = dict(left.coeffs)
    for k, v in right.coeffs.items():
        coeffs[k] = coeffs.get(k, Fraction(0)) + sign * v
    coeffs = {k: v for k, v in coeffs.items() if v}
    # a + b on two plain names may be string concatenation: not numeric
    numeric = left.numeric or right.numeric or sign == -1
    return _Lin(coeffs, left.const + sign * right.const, numeric)


def _linear_product(left: _Lin, right: _Lin) -> _Lin | None:
    """``left * right`` when one side is a number; a product of variables is not linear."""
    if not left.coeffs:
        left, right = right, left
    if right.coeffs or not right.numeric:
        return None
    return _Lin(
        {k: v * right.const for k, v in left.coeffs.items()}, left.const * right.const, True
    )


def _linear_quotient(left: _Lin, right: _Lin) -> _Lin | None:
    """``left / right`` when ``right`` is a number other than zero."""
    if right.coeffs or right.const == 0:
        return None
    return _Lin(
        {k: v / right.const for k, v in left.coeffs.items()}, left.const / right.const, True
    )


# The arithmetic a linear term can be built with; any other operator is outside it.
_LINEAR_OPERATORS: dict[type[ast.operator], Callable[[_Lin, _Lin], _Lin | None]] = {
    ast.Add: functools.partial(_linear_sum, sign=1),
    ast.Sub: functools.partial(_linear_sum, sign=-1),
    ast.Mult: _linear_product,
    ast.Div: _linear_quotient,
}


def _reads(node: ast.AST) -> set[VarKey]:
    """Every variable a sub-expression reads (for literals the solver does not analyse)."""
    out: set[VarKey] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.expr):
            path = _path(current)
            if path is not None:
                out.add(("path", path))
                continue
            seq = _len_of(current)
            if seq is not None:
                out.add(("seq", seq))
                continue
            state = _state_call(current)
            if state is not None:
                out.add(("state", state))
                continue
        if isinstance(current, ast.Call):  # a function's name is not a context name
            stack.extend(current.args)
        else:
            stack.extend(ast.iter_child_nodes(current))
    return out


def _state_call(node: ast.expr) -> str | None:
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == STATE_FUNCTION
        and len(node.args) == 1
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        return node.args[0].value
    return None


# --------------------------------------------------------------------------- literals

LiteralKind = Literal["const", "lin", "value", "member", "contains", "truth", "state", "opaque"]


@dataclass(eq=False)
class _Literal:
    """One literal of a conjunct: an expression that must evaluate to true."""

    node: ast.expr
    kind: LiteralKind
    keys: frozenset[VarKey]
    constants: tuple[Any, ...] = ()
    lin: tuple[_Lin, str] | None = None  # (left - right, operator) for "lin"
    bound: tuple[Fraction, str] | None = None  # single-variable lin: var op value
    _compiled: CompiledExpression | None = field(default=None, repr=False)

    @property
    def text(self) -> str:
        return ast.unparse(self.node)

    def compiled(self) -> CompiledExpression:
        if self._compiled is None:
            self._compiled = compile_expression(self.text)
        return self._compiled

    @property
    def simple(self) -> bool:
        """Whether the candidates of its one variable cover every case (see the module doc)."""
        return len(self.keys) <= 1 and self.kind in _SIMPLE_KINDS


_SIMPLE_KINDS = frozenset({"const", "lin", "value", "member", "truth", "state"})

_FLIP: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.GtE,
    ast.GtE: ast.Lt,
    ast.Gt: ast.LtE,
    ast.LtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_MIRROR: dict[type[ast.cmpop], str] = {
    ast.Lt: ">",
    ast.LtE: ">=",
    ast.Gt: "<",
    ast.GtE: "<=",
    ast.Eq: "==",
    ast.NotEq: "!=",
}
_SYMBOL: dict[type[ast.cmpop], str] = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
}


def _classify(node: ast.expr) -> _Literal:
    if isinstance(node, ast.Constant) or (
        isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant)
    ):
        return _Literal(node, "const", frozenset())
    state = _state_call(node)
    if state is None and isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        state = _state_call(node.operand)
    if state is not None:
        return _Literal(node, "state", frozenset({("state", state)}))
    truth = node.operand if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not) else node
    path = _path(truth)
    if path is not None:
        return _Literal(node, "truth", frozenset({("path", path)}))
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        literal = _comparison(node, node.left, node.ops[0], node.comparators[0])
        if literal is not None:
            return literal
    keys = frozenset(_reads(node))
    if not keys:
        return _Literal(node, "const", keys)
    numbers = tuple(
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and _is_number(n.value)
    )
    return _Literal(node, "opaque", keys, numbers)


def _comparison(
    node: ast.Compare, left: ast.expr, op: ast.cmpop, right: ast.expr
) -> _Literal | None:
    kind = type(op)
    if kind in (ast.In, ast.NotIn):
        return _membership(node, left, right)
    if kind in (ast.Is, ast.IsNot):
        path, (ok, value) = _path(left), _constant(right)
        if path is not None and ok and value in (None, True, False):
            return _Literal(node, "value", frozenset({("path", path)}), (value,))
        return None
    lin_left, lin_right = _linear(left), _linear(right)
    if lin_left is not None and lin_right is not None:
        return _linear_comparison(node, kind, lin_left, lin_right)
    # x == 'text', x != None ...: equality with a constant that is not a number
    for var_side, const_side in ((left, right), (right, left)):
        path = _path(var_side)
        ok, value = _constant(const_side)
        if path is not None and ok and kind in (ast.Eq, ast.NotEq):
            return _Literal(node, "value", frozenset({("path", path)}), (value,))
    return None


def _membership(node: ast.Compare, left: ast.expr, right: ast.expr) -> _Literal | None:
    """``x in [constants]`` ("member") or ``constant in xs`` ("contains")."""
    ok, container = _constant(right)
    path = _path(left)
    if ok and path is not None and isinstance(container, (list, tuple, set, frozenset, str)):
        values = tuple(container) if not isinstance(container, str) else (container,)
        return _Literal(node, "member", frozenset({("path", path)}), values)
    ok, element = _constant(left)
    path = _path(right)
    if ok and path is not None:
        return _Literal(node, "contains", frozenset({("seq", path)}), (element,))
    return None


def _linear_comparison(
    node: ast.Compare, kind: type[ast.cmpop], lin_left: _Lin, lin_right: _Lin
) -> _Literal | None:
    """``left op right`` as ``left - right op 0``, with a bound when one variable is left."""
    coeffs = dict(lin_left.coeffs)
    for k, v in lin_right.coeffs.items():
        coeffs[k] = coeffs.get(k, Fraction(0)) - v
    coeffs = {k: v for k, v in coeffs.items() if v}
    difference = _Lin(
        coeffs, lin_left.const - lin_right.const, lin_left.numeric or lin_right.numeric
    )
    plain = (
        len(lin_left.coeffs) == 1
        and len(lin_right.coeffs) == 1
        and not lin_left.const
        and not lin_right.const
    )
    if not (difference.numeric or plain):
        return None
    keys = frozenset(set(lin_left.coeffs) | set(lin_right.coeffs))
    if not keys:
        return _Literal(node, "const", keys)
    symbol = _SYMBOL[kind]
    bound = None
    if len(coeffs) == 1:
        ((_key, a),) = coeffs.items()
        value = -difference.const / a
        bound = (value, symbol if a > 0 else _MIRROR[kind])
    literal = _Literal(node, "lin", keys, lin=(difference, symbol), bound=bound)
    if not coeffs:  # the variables cancel out: "x - x > 0"
        literal.keys = keys
    return literal


# --------------------------------------------------------------------------- normal forms

_Formula: TypeAlias = "tuple[str, list[Any]] | ast.expr"


def _nnf(node: ast.expr, positive: bool) -> _Formula:
    """Negation normal form: ("and"/"or", parts) over literal expressions."""
    if isinstance(node, ast.BoolOp):
        is_and = isinstance(node.op, ast.And) == positive
        return ("and" if is_and else "or", [_nnf(v, positive) for v in node.values])
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return _nnf(node.operand, not positive)
    if isinstance(node, ast.Compare):
        pairs = []
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            pairs.append(ast.Compare(left=left, ops=[op], comparators=[right]))
            left = right
        if positive:
            return ("and", list(pairs)) if len(pairs) > 1 else pairs[0]
        flipped = [
            ast.Compare(left=p.left, ops=[_FLIP[type(p.ops[0])]()], comparators=p.comparators)
            for p in pairs
        ]
        return ("or", list(flipped)) if len(flipped) > 1 else flipped[0]
    if positive:
        return node
    return ast.UnaryOp(op=ast.Not(), operand=node)


class _TooLarge(Exception):
    pass


def _dnf(formula: _Formula) -> list[list[ast.expr]]:
    if not isinstance(formula, tuple):
        return [[formula]]
    kind, parts = formula
    if kind == "or":
        out: list[list[ast.expr]] = []
        for part in parts:
            out.extend(_dnf(part))
            if len(out) > MAX_CONJUNCTS:
                raise _TooLarge
        return out
    product: list[list[ast.expr]] = [[]]
    for part in parts:
        options = _dnf(part)
        product = [a + b for a in product for b in options]
        if len(product) > MAX_CONJUNCTS:
            raise _TooLarge
    return product


# --------------------------------------------------------------------------- candidates


def _number(value: Fraction) -> int | float:
    return int(value) if value.denominator == 1 else float(value)


def _numeric_candidates(bounds: Iterable[Fraction], integer: bool) -> list[Any]:
    points = sorted(set(bounds))
    out: list[Fraction] = []
    for p in points:
        out += [p, p - 1, p + 1]
        if integer and p.denominator != 1:
            out += [
                Fraction(p.numerator // p.denominator),
                Fraction(p.numerator // p.denominator + 1),
            ]
    for a, b in itertools.pairwise(points):
        out.append((a + b) / 2)
    out += [Fraction(0), Fraction(1)]
    if not integer:
        out.append(Fraction(-1))
    kept = {v for v in out if not integer or (v.denominator == 1 and v >= 0)}
    # simplest first: small, then non-negative, then whole
    return [_number(v) for v in sorted(kept, key=lambda v: (abs(v), v < 0, v.denominator))]


def _fresh_string(used: Iterable[Any]) -> str:
    taken = {u for u in used if isinstance(u, str)}
    for n in itertools.count():
        candidate = "other" if n == 0 else f"other{n}"
        if candidate not in taken:
            return candidate
    raise AssertionError("unreachable")  # pragma: no cover


def _candidates(
    key: VarKey, literals: Sequence[_Literal], all_numbers: Sequence[Fraction]
) -> list[Any]:
    """Values worth trying for ``key``, simplest first (see the module docstring)."""
    kind = key[0]
    if kind == "state":
        return [True, False]
    mine = [lit for lit in literals if key in lit.keys]
    bounds = [lit.bound[0] for lit in mine if lit.bound is not None]
    others = [lit for lit in mine if lit.bound is None and lit.kind in ("lin", "opaque")]
    numbers = list(bounds)
    if others:  # bounds depend on other variables: try every number in sight, both signs
        numbers += [n for v in all_numbers for n in (v, -v)]
    if kind == "seq":
        required = [lit.constants[0] for lit in mine if lit.kind == "contains" and _positive(lit)]
        lengths = _numeric_candidates([*numbers, Fraction(len(required))], integer=True)
        forbidden = [
            lit.constants[0] for lit in mine if lit.kind == "contains" and not _positive(lit)
        ]
        filler = next((f for f in (0, "", None, _fresh_string(forbidden)) if f not in forbidden), 0)
        seqs: list[Any] = []
        for n in lengths:
            if n >= len(required):
                seqs.append(list(required) + [filler] * (n - len(required)))
        return seqs
    constants: list[Any] = []
    shared = any(len(lit.keys) > 1 for lit in mine)  # a == b: b may need a's constants
    for lit in literals if shared else mine:
        if lit.kind in ("value", "member"):
            constants.extend(lit.constants)
    numeric = _numeric_candidates(numbers, integer=False)
    texts = [c for c in constants if not _is_number(c)]
    texts += [_fresh_string(constants), ""]
    flags = [False, True, None]
    # The likeliest type first: numbers for a bounded name, the constants it is
    # compared with, else a flag (a bare ``locked`` or ``not locked``).
    if numbers:
        values: list[Any] = numeric + texts + flags
    elif constants:
        values = texts + [c for c in constants if _is_number(c)] + flags + numeric
    else:
        values = flags + numeric + texts
    out: list[Any] = []
    for v in values:
        if not any(type(v) is type(o) and v == o for o in out):
            out.append(v)
    return out


def _positive(literal: _Literal) -> bool:
    node = literal.node
    return not (isinstance(node, ast.Compare) and isinstance(node.ops[0], ast.NotIn))


# --------------------------------------------------------------------------- contexts


def _build(assignment: Mapping[VarKey, Any]) -> tuple[dict[str, Any], frozenset[str]] | None:
    """The context and active states an assignment stands for (None when paths clash)."""
    context: dict[str, Any] = {}
    states: set[str] = set()
    placed: dict[tuple[Any, ...], str] = {}  # path -> "leaf" | "dict" | "list"
    items = sorted(
        ((k, v) for k, v in assignment.items() if v is not _ABSENT and k[0] != "state"),
        key=lambda kv: len(kv[0][1]),
    )
    for (kind, key), value in assignment.items():
        if kind == "state" and value:
            states.add(key)
    for (_kind, path), value in items:
        holder: Any = context
        for depth, step in enumerate(path[:-1]):
            prefix = path[: depth + 1]
            want = "dict" if isinstance(path[depth + 1], str) else "list"
            have = placed.get(prefix)
            if have is None:
                new: Any = {} if want == "dict" else []
                _put(holder, step, new)
                placed[prefix] = want
            elif have != want:
                return None
            holder = holder[step]
        if path in placed:
            return None
        _put(holder, path[-1], copy.deepcopy(value))
        placed[path] = "leaf"
    return context, frozenset(states)


def _put(holder: Any, step: Any, value: Any) -> None:
    if isinstance(holder, list):
        while len(holder) <= step:
            holder.append(0)
        holder[step] = value
    else:
        holder[step] = value


def _holds(
    expression: CompiledExpression, context: Mapping[str, Any], states: frozenset[str]
) -> bool:
    scope: Mapping[str, Any] = StateScope(context, states) if expression.uses_state else context
    return expression.evaluate_bool(scope)


# --------------------------------------------------------------------------- proofs


# One row: sum(coeffs) + const > 0 (strict) or >= 0.
_Row: TypeAlias = tuple[dict[VarKey, Fraction], Fraction, bool]


def _infeasible(literals: Sequence[_Literal]) -> bool:
    """Fourier-Motzkin over the linear literals: True when no real numbers satisfy them."""
    rows = _fm_rows(literals)
    while True:
        for coeffs, const, strict in rows:
            if not coeffs and (const < 0 or (strict and const == 0)):
                return True
        variables = {k for coeffs, _c, _s in rows for k in coeffs}
        if not variables:
            return False
        var = min(variables, key=lambda k: (_elimination_cost(rows, k), repr(k)))
        remaining = _eliminate(rows, var)
        if remaining is None:
            return False  # the elimination grew past _MAX_FM_CONSTRAINTS: no proof
        rows = remaining


def _fm_rows(literals: Sequence[_Literal]) -> list[_Row]:
    """The linear literals as rows, plus ``len(x) >= 0`` for every length they read."""
    rows: list[_Row] = []
    seqs: set[VarKey] = set()
    for lit in literals:
        if lit.kind != "lin" or lit.lin is None:
            continue
        diff, op = lit.lin
        coeffs, const = dict(diff.coeffs), diff.const
        negated = ({k: -v for k, v in coeffs.items()}, -const)
        if op == ">":
            rows.append((coeffs, const, True))
        elif op == ">=":
            rows.append((coeffs, const, False))
        elif op == "<":
            rows.append((negated[0], negated[1], True))
        elif op == "<=":
            rows.append((negated[0], negated[1], False))
        elif op == "==":
            rows.append((coeffs, const, False))
            rows.append((negated[0], negated[1], False))
        seqs.update(k for k in coeffs if k[0] == "seq")
    rows += [({k: Fraction(1)}, Fraction(0), False) for k in seqs]  # a length is >= 0
    return rows


def _eliminate(rows: list[_Row], var: VarKey) -> list[_Row] | None:
    """The rows without ``var`` (each lower bound against each upper); None past the cap."""
    pos = [r for r in rows if r[0].get(var, 0) > 0]
    neg = [r for r in rows if r[0].get(var, 0) < 0]
    rest = [r for r in rows if var not in r[0]]
    for (pc, pk, ps), (nc, nk, ns) in itertools.product(pos, neg):
        a, b = pc[var], -nc[var]
        merged: dict[VarKey, Fraction] = {}
        for k in set(pc) | set(nc):
            value = pc.get(k, Fraction(0)) * b + nc.get(k, Fraction(0)) * a
            if value and k != var:
                merged[k] = value
        rest.append((merged, pk * b + nk * a, ps or ns))
        if len(rest) > _MAX_FM_CONSTRAINTS:
            return None
    return rest


def _elimination_cost(
    rows: Sequence[tuple[dict[VarKey, Fraction], Fraction, bool]], k: VarKey
) -> int:
    """How many rows eliminating ``k`` adds (Fourier-Motzkin: pick the cheapest)."""
    pos = sum(1 for c, _x, _s in rows if c.get(k, 0) > 0)
    neg = sum(1 for c, _x, _s in rows if c.get(k, 0) < 0)
    return pos * neg - pos - neg


# --------------------------------------------------------------------------- the search


class _Solver:
    def __init__(
        self, constraints: list[tuple[CompiledExpression, bool]], states: frozenset[str] | None
    ) -> None:
        self.constraints = constraints
        self.fixed_states = states
        self.evaluations = 0
        self.opaque: list[str] = []

    def accepts(self, context: Mapping[str, Any], states: frozenset[str]) -> bool:
        return all(_holds(e, context, states) == want for e, want in self.constraints)

    def run(self) -> Solution:
        if not self.constraints:
            return Solution("sat", {}, frozenset(), "solved")
        formula: _Formula = (
            "and",
            [_nnf(e._tree, want) for e, want in self.constraints],
        )
        try:
            conjuncts = _dnf(formula)
        except _TooLarge:
            conjuncts = None
        refuted = conjuncts is not None
        if conjuncts is not None:
            for conjunct in conjuncts:
                literals = [_classify(node) for node in conjunct]
                found, proved = self.conjunct(literals)
                if found is not None:
                    how = "sampled" if self.opaque else "solved"
                    return Solution("sat", found[0], self.reported(found[1]), how)
                refuted = refuted and proved
        if refuted:
            # The proof covers every value, not a name left out: a guard wanted false
            # is also met when it raises for want of a name only it reads.
            found = self.without_negated()
            if found is not None:
                return Solution("sat", found[0], self.reported(found[1]), "solved")
            return Solution(
                "unsat", method="proved", reason="no context can make " + self.describe()
            )
        found = self.without_negated() or self.sample()
        if found is not None:
            return Solution("sat", found[0], self.reported(found[1]), "sampled")
        if self.opaque:
            what = "outside what the solver reasons about: " + "; ".join(dict.fromkeys(self.opaque))
        elif conjuncts is None:
            what = f"it has more than {MAX_CONJUNCTS} cases"
        else:
            what = "its candidate values did not fit (names compared with each other)"
        return Solution(
            "unknown",
            reason=f"{what}; {SAMPLES} sampled contexts did not make " + self.describe(),
        )

    def reported(self, states: frozenset[str]) -> frozenset[str]:
        return frozenset() if self.fixed_states is not None else states

    def describe(self) -> str:
        parts = [e.source if want else f"not ({e.source})" for e, want in self.constraints]
        return " and ".join(parts) + " true"

    # ---------------------------------------------------------------- one conjunct
    def conjunct(
        self, literals: list[_Literal]
    ) -> tuple[tuple[dict[str, Any], frozenset[str]] | None, bool]:
        """A context for one conjunct (or None), and whether it is proved impossible."""
        fixed = self.fixed_states
        active: list[_Literal] = []
        for lit in literals:
            if lit.kind == "state" and fixed is not None:
                lit = _Literal(lit.node, "const", frozenset())
            if lit.kind == "const":
                if not _holds(lit.compiled(), {}, fixed or frozenset()):
                    return None, True
                continue
            if lit.kind == "opaque":
                self.opaque.append(lit.text)
            active.append(lit)
        if _infeasible(active):
            return None, True
        numbers = sorted(
            {lit.bound[0] for lit in active if lit.bound is not None}
            | {
                Fraction(c)
                for lit in active
                for c in lit.constants
                if _is_number(c) and c == c and abs(c) != float("inf")
            }
            | {lit.lin[0].const for lit in active if lit.lin is not None}
        )
        assignment: dict[VarKey, Any] = {}
        for group in _components(active):
            keys = sorted({k for lit in group for k in lit.keys}, key=repr)
            if fixed is not None:
                keys = [k for k in keys if k[0] != "state"]
            found = self.search(keys, group, numbers)
            if found is None:
                simple = len(keys) == 1 and all(lit.simple for lit in group)
                return None, simple and not self.exhausted
            assignment.update(found)
        built = _build(assignment)
        if built is None:
            return None, False
        context, states = built
        states = fixed if fixed is not None else states
        if self.accepts(context, states):
            return (context, states), False
        return None, False

    @property
    def exhausted(self) -> bool:
        return self.evaluations >= _MAX_EVALUATIONS

    def search(
        self, keys: list[VarKey], literals: list[_Literal], numbers: Sequence[Fraction]
    ) -> dict[VarKey, Any] | None:
        pools = {k: _candidates(k, literals, numbers) for k in keys}
        # Variables bounded on their own first: the linear literals that tie them to
        # the others then derive the others' values (``_derived``).
        bounded = {k for lit in literals if lit.bound is not None for k in lit.keys}
        keys = sorted(keys, key=lambda k: (k not in bounded, len(pools[k])))
        ready: dict[int, list[_Literal]] = {}
        for lit in literals:
            mine = [keys.index(k) for k in lit.keys if k in keys]
            ready.setdefault(max(mine) if mine else -1, []).append(lit)
        assignment: dict[VarKey, Any] = {}
        states = self.fixed_states
        if ready.get(-1) and not all(
            _holds(lit.compiled(), {}, states or frozenset()) for lit in ready[-1]
        ):
            return None

        def extend(i: int) -> bool:
            if i == len(keys):
                return True
            for value in [*_derived(keys[i], ready.get(i, ()), assignment), *pools[keys[i]]]:
                if self.exhausted:
                    return False
                assignment[keys[i]] = value
                built = _build(assignment)
                if built is not None:
                    context, guessed = built
                    scope_states = states if states is not None else guessed
                    self.evaluations += len(ready.get(i, ()))
                    due = ready.get(i, ())
                    if all(_holds(lit.compiled(), context, scope_states) for lit in due) and extend(
                        i + 1
                    ):
                        return True
                del assignment[keys[i]]
            return False

        return dict(assignment) if extend(0) else None

    # ---------------------------------------------------------------- fallbacks
    def without_negated(self) -> tuple[dict[str, Any], frozenset[str]] | None:
        """Meet the wanted-true constraints; leave out names only the others read."""
        positive = [(e, True) for e, want in self.constraints if want]
        negative = [e for e, want in self.constraints if not want]
        if not negative:
            return None
        if positive:
            solution = _solve_cached(
                tuple((e.source, True) for e, _ in positive), self.fixed_states
            )
            if not solution.sat or solution.context is None:
                return None
            context, states = solution.context, solution.states
        else:
            context, states = {}, frozenset()
        states = self.fixed_states if self.fixed_states is not None else states
        kept = {k for e, _ in positive for k in e.names}
        trimmed = {k: v for k, v in context.items() if k in kept}
        if self.accepts(trimmed, states):
            return trimmed, states
        return None

    def sample(self) -> tuple[dict[str, Any], frozenset[str]] | None:
        rng = random.Random(0)
        keys: set[VarKey] = set()
        literals: list[_Literal] = []
        for e, _want in self.constraints:
            literals += [_classify(n) for n in ast.walk(e._tree) if isinstance(n, ast.Compare)]
            keys |= _reads(e._tree)
        numbers = sorted(
            {Fraction(c) for lit in literals for c in lit.constants if _is_number(c) and c == c}
            | {lit.bound[0] for lit in literals if lit.bound is not None}
        )
        pools = {k: _candidates(k, literals, numbers) for k in keys}
        ordered = sorted(keys, key=repr)
        for _ in range(SAMPLES):
            assignment: dict[VarKey, Any] = {}
            for k in ordered:
                roll = rng.random()
                if k[0] == "seq" and roll < 0.5:
                    assignment[k] = [rng.randint(-20, 20) for _ in range(rng.randint(1, 4))]
                elif k[0] == "path" and roll < 0.3:
                    assignment[k] = rng.randint(-20, 20)
                elif k[0] == "path" and roll < 0.4:
                    assignment[k] = _ABSENT
                else:
                    assignment[k] = rng.choice(pools[k])
            built = _build(assignment)
            if built is None:
                continue
            context, states = built
            states = self.fixed_states if self.fixed_states is not None else states
            if self.accepts(context, states):
                return context, states
        return None


def _derived(
    key: VarKey, literals: Iterable[_Literal], assignment: Mapping[VarKey, Any]
) -> list[Any]:
    """Values for ``key`` that put a linear literal, whose other variables are already
    assigned, on its boundary and either side of it (``x - y == 3`` with ``y = 8``
    asks ``x = 11``): candidates from the constants alone cannot reach them."""
    if key[0] != "path":
        return []
    out: list[Any] = []
    for lit in literals:
        if lit.lin is None or len(lit.keys) < 2:
            continue
        diff, _op = lit.lin
        coefficient = diff.coeffs.get(key)
        if not coefficient:
            continue
        rest = diff.const
        for other, c in diff.coeffs.items():
            if other == key:
                continue
            value: Any = assignment.get(other)
            if not _is_number(value) or value != value or abs(value) == float("inf"):
                break
            rest += c * Fraction(value)
        else:
            boundary = -rest / coefficient
            out += [_number(v) for v in (boundary, boundary + 1, boundary - 1)]
            if boundary.denominator == 1:
                out += [_number(boundary + Fraction(1, 2)), _number(boundary - Fraction(1, 2))]
    return out


def _components(literals: list[_Literal]) -> Iterator[list[_Literal]]:
    """Literals grouped so that no two groups share a variable (a path and its prefixes
    count as one: ``order`` and ``order['qty']`` live in one value)."""
    roots: dict[Any, Any] = {}

    def find(x: Any) -> Any:
        while roots.setdefault(x, x) != x:
            x = roots[x]
        return x

    def root_of(key: VarKey) -> Any:
        return ("state", key[1]) if key[0] == "state" else ("name", key[1][0])

    for lit in literals:
        names = [root_of(k) for k in lit.keys]
        for a, b in itertools.pairwise(names):
            roots[find(a)] = find(b)
    groups: dict[Any, list[_Literal]] = {}
    for lit in literals:
        first = next(iter(lit.keys))
        groups.setdefault(find(root_of(first)), []).append(lit)
    yield from groups.values()
