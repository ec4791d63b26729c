"""ECMAScript expressions as pystator expressions, and back.

SCXML documents (the W3C tests among them) write ``cond`` and ``expr`` in
ECMAScript. pystator's datamodel is its own sandboxed expression language, so the
reader translates the simple forms: literals (numbers, strings, ``true``, ``false``,
``null``, ``undefined``, arrays), names, ``a.b`` and ``a['b']`` (mapping keys),
``a.length``, ``== === != !==``, ``< <= > >=``, ``in``, ``&& || !``, ``+ - * / %``,
``In('s')``, ``Math.pow/min/max/abs/floor``, and ``typeof x === 'undefined'`` (read
as "x is None": a declared variable without a value). Anything else (functions,
objects, ``new``, regular expressions, assignments inside expressions) is a
``TranslationError`` with its column.

``to_python`` parses into Python's own syntax tree and writes it with
``ast.unparse``, so the result is in one canonical spelling; ``to_ecmascript``
writes a pystator expression back with enough parentheses that ``to_python`` reads
the same tree again (what the SCXML round trip relies on).
"""

from __future__ import annotations

import ast
import json
import keyword
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["TranslationError", "to_ecmascript", "to_python"]


class TranslationError(ValueError):
    """An expression has no pystator form (or no ECMAScript form); ``column`` is 1-based."""

    def __init__(self, message: str, column: int | None = None) -> None:
        where = f" (column {column})" if column is not None else ""
        super().__init__(f"{message}{where}")
        self.message = message
        self.column = column


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # num, str, name, op, end
    text: str
    value: object
    column: int


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<num>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
  | (?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<op>===|!==|==|!=|<=|>=|&&|\|\||\+\+|--|[-+*/%<>!()\[\].,])
    """,
    re.VERBOSE,
)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}


def _unquote(text: str) -> str:
    body = text[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", body[i + 2 : i + 6]):
            out.append(chr(int(body[i + 2 : i + 6], 16)))
            i += 6
            continue
        out.append(_ESCAPES.get(nxt, nxt))
        i += 2
    return "".join(out)


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise TranslationError(f"unexpected {text[pos]!r}", pos + 1)
        kind = match.lastgroup or ""
        word = match.group()
        if kind == "num":
            number = float(word)
            value: object = int(word) if re.fullmatch(r"\d+", word) else number
            out.append(_Token(kind, word, value, pos + 1))
        elif kind == "str":
            out.append(_Token(kind, word, _unquote(word), pos + 1))
        elif word in ("++", "--"):
            raise TranslationError(f"{word} changes a variable: use <assign>", pos + 1)
        elif kind != "space":
            out.append(_Token(kind, word, word, pos + 1))
        pos = match.end()
    out.append(_Token("end", "", None, len(text) + 1))
    return out


_TYPEOF = "__typeof__"
_MATH = {"min": "min", "max": "max", "abs": "abs"}
_OWN_FUNCTIONS = {"In", "len", "min", "max", "abs", "sum"}
_EQUALITY = {"==": ast.Eq, "===": ast.Eq, "!=": ast.NotEq, "!==": ast.NotEq}
_RELATION = {"<": ast.Lt, "<=": ast.LtE, ">": ast.Gt, ">=": ast.GtE}
_ARITH = {"+": ast.Add, "-": ast.Sub, "*": ast.Mult, "/": ast.Div, "%": ast.Mod}


class _Parser:
    """Precedence climbing over the tokens, building Python's ``ast`` nodes."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.pos = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.pos]

    def take(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def accept(self, *ops: str) -> _Token | None:
        token = self.token
        if token.kind in ("op", "name") and token.text in ops:
            self.pos += 1
            return token
        return None

    def expect(self, op: str) -> None:
        if self.accept(op) is None:
            found = self.token.text or "the end"
            raise TranslationError(f"expected {op!r}, found {found!r}", self.token.column)

    def parse(self) -> ast.expr:
        node = self.logical_or()
        if self.token.kind != "end":
            raise TranslationError(f"unexpected {self.token.text!r}", self.token.column)
        return node

    def logical_or(self) -> ast.expr:
        values = [self.logical_and()]
        while self.accept("||"):
            values.append(self.logical_and())
        return values[0] if len(values) == 1 else ast.BoolOp(ast.Or(), values)

    def logical_and(self) -> ast.expr:
        values = [self.equality()]
        while self.accept("&&"):
            values.append(self.equality())
        return values[0] if len(values) == 1 else ast.BoolOp(ast.And(), values)

    def equality(self) -> ast.expr:
        left = self.relation()
        while (token := self.accept(*_EQUALITY)) is not None:
            right = self.relation()
            left = _equality(left, token, right)
        _no_typeof(left)
        return left

    def relation(self) -> ast.expr:
        left = self.additive()
        while (token := self.accept(*_RELATION, "in")) is not None:
            right = self.additive()
            _no_typeof(left, token)
            _no_typeof(right, token)
            op = ast.In() if token.text == "in" else _RELATION[token.text]()
            left = ast.Compare(left, [op], [right])
        return left

    def additive(self) -> ast.expr:
        left = self.multiplicative()
        while (token := self.accept("+", "-")) is not None:
            right = self.multiplicative()
            left = ast.BinOp(left, _ARITH[token.text](), right)
        return left

    def multiplicative(self) -> ast.expr:
        left = self.unary()
        while (token := self.accept("*", "/", "%")) is not None:
            right = self.unary()
            left = ast.BinOp(left, _ARITH[token.text](), right)
        return left

    def unary(self) -> ast.expr:
        token = self.accept("!", "-", "+", "typeof")
        if token is None:
            return self.postfix()
        operand = self.unary()
        if token.text == "typeof":
            return ast.Call(ast.Name(_TYPEOF), [operand], [])
        op: ast.unaryop = {"!": ast.Not, "-": ast.USub, "+": ast.UAdd}[token.text]()
        return ast.UnaryOp(op, operand)

    def postfix(self) -> ast.expr:
        start = self.token
        node = self.primary()
        while True:
            if self.accept("."):
                name = self.take()
                if name.kind != "name":
                    raise TranslationError("expected a name after '.'", name.column)
                if name.text == "length":
                    node = ast.Call(ast.Name("len"), [node], [])
                else:
                    node = ast.Subscript(node, ast.Constant(name.text))
            elif self.accept("["):
                index = self.logical_or()
                self.expect("]")
                node = ast.Subscript(node, index)
            elif self.token.text == "(" and self.token.kind == "op":
                self.take()
                args = self.arguments()
                node = _call(node, args, start.column)
            else:
                return node

    def arguments(self) -> list[ast.expr]:
        args: list[ast.expr] = []
        if self.accept(")"):
            return args
        while True:
            args.append(self.logical_or())
            if self.accept(")"):
                return args
            self.expect(",")

    def primary(self) -> ast.expr:
        token = self.take()
        if token.kind in ("num", "str"):
            assert isinstance(token.value, (int, float, str))
            return ast.Constant(token.value)
        if token.kind == "name":
            literal = {"true": True, "false": False, "null": None, "undefined": None}
            if token.text in literal:
                return ast.Constant(literal[token.text])
            if token.text in ("new", "function", "this", "var", "return", "void", "delete"):
                raise TranslationError(f"{token.text!r} has no pystator form", token.column)
            if keyword.iskeyword(token.text) or "$" in token.text:
                raise TranslationError(f"the name {token.text!r} is not allowed", token.column)
            return ast.Name(token.text)
        if token.text == "(":
            node = self.logical_or()
            self.expect(")")
            return node
        if token.text == "[":
            items: list[ast.expr] = []
            if not self.accept("]"):
                while True:
                    items.append(self.logical_or())
                    if self.accept("]"):
                        break
                    self.expect(",")
            return ast.List(items)
        found = token.text or "the end"
        raise TranslationError(f"unexpected {found!r}", token.column)


def _is_typeof(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and (node.func.id == _TYPEOF)
    )


def _no_typeof(node: ast.expr, token: _Token | None = None) -> None:
    if _is_typeof(node):
        column = token.column if token is not None else None
        raise TranslationError("typeof is supported only as typeof x === 'undefined'", column)


def _equality(left: ast.expr, token: _Token, right: ast.expr) -> ast.expr:
    negate = token.text in ("!=", "!==")
    strict = token.text in ("===", "!==")
    for subject, other in ((left, right), (right, left)):
        if _is_typeof(subject):
            assert isinstance(subject, ast.Call)
            if not (isinstance(other, ast.Constant) and other.value == "undefined"):
                raise TranslationError(
                    "typeof is supported only as typeof x === 'undefined'", token.column
                )
            op: ast.cmpop = ast.IsNot() if negate else ast.Is()
            return ast.Compare(subject.args[0], [op], [ast.Constant(None)])
    if strict and isinstance(right, ast.Constant) and right.value is None:
        return ast.Compare(left, [ast.IsNot() if negate else ast.Is()], [right])
    return ast.Compare(left, [ast.NotEq() if negate else ast.Eq()], [right])


def _call(func: ast.expr, args: list[ast.expr], column: int) -> ast.expr:
    if isinstance(func, ast.Name) and func.id in _OWN_FUNCTIONS:
        return ast.Call(ast.Name(func.id), args, [])
    if (
        isinstance(func, ast.Subscript)
        and isinstance(func.value, ast.Name)
        and func.value.id == "Math"
        and isinstance(func.slice, ast.Constant)
    ):
        name = func.slice.value
        if name in _MATH:
            return ast.Call(ast.Name(_MATH[str(name)]), args, [])
        if name == "pow" and len(args) == 2:
            return ast.BinOp(args[0], ast.Pow(), args[1])
        if (
            name == "floor"
            and len(args) == 1
            and isinstance(args[0], ast.BinOp)
            and isinstance(args[0].op, ast.Div)
        ):
            return ast.BinOp(args[0].left, ast.FloorDiv(), args[0].right)
    raise TranslationError(
        "only In(), Math.pow/min/max/abs and Math.floor(a / b) can be called", column
    )


def to_python(text: str) -> str:
    """The pystator expression for an ECMAScript one, in canonical spelling."""
    tree = _Parser(text).parse()
    return ast.unparse(ast.fix_missing_locations(ast.Expression(tree)))


# --------------------------------------------------------------------------- back

_BIN_JS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Mod: "%"}
_CMP_JS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}


def to_ecmascript(expr: str) -> str:
    """An ECMAScript spelling of a pystator expression that ``to_python`` reads back."""
    try:
        tree = ast.parse(expr.strip(), mode="eval").body
    except SyntaxError as error:
        raise TranslationError(f"not an expression: {error.msg}", error.offset) from None
    return _js(tree)


def _wrap(node: ast.expr) -> str:
    text = _js(node)
    if isinstance(node, (ast.Constant, ast.Name, ast.List, ast.Tuple, ast.Subscript, ast.Call)):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, (int, float))):
            return text
        if not text.startswith("-"):
            return text
    return f"({text})"


def _js(node: ast.expr) -> str:
    write = _WRITERS.get(type(node))
    text = write(node) if write is not None else None
    if text is None:
        raise TranslationError(f"{ast.unparse(node)!r} has no ECMAScript form")
    return text


def _constant_js(node: ast.Constant) -> str | None:
    value = node.value
    if value is None:
        return "null"
    if isinstance(value, bool):  # before int: a bool is an int
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    return None


def _name_js(node: ast.Name) -> str:
    return node.id


def _array_js(node: ast.List | ast.Tuple | ast.Set) -> str:
    return "[" + ", ".join(_js(e) for e in node.elts) + "]"


def _subscript_js(node: ast.Subscript) -> str:
    return f"{_wrap(node.value)}[{_js(node.slice)}]"


def _bool_js(node: ast.BoolOp) -> str:
    joiner = " && " if isinstance(node.op, ast.And) else " || "
    return joiner.join(_wrap(v) for v in node.values)


def _unary_js(node: ast.UnaryOp) -> str | None:
    symbol = _UNARY_JS.get(type(node.op))
    return None if symbol is None else f"{symbol}({_js(node.operand)})"


def _binary_js(node: ast.BinOp) -> str | None:
    if isinstance(node.op, ast.Pow):
        return f"Math.pow({_js(node.left)}, {_js(node.right)})"
    if isinstance(node.op, ast.FloorDiv):
        return f"Math.floor({_wrap(node.left)} / {_wrap(node.right)})"
    symbol = _BIN_JS.get(type(node.op))
    return None if symbol is None else f"{_wrap(node.left)} {symbol} {_wrap(node.right)}"


def _call_js(node: ast.Call) -> str | None:
    """The calls ``to_python`` makes: ``len`` (``.length``), ``min max abs`` (``Math.``), ``In``."""
    if not isinstance(node.func, ast.Name):
        return None
    name = node.func.id
    args = ", ".join(_js(a) for a in node.args)
    if name == "len" and len(node.args) == 1:
        return f"{_wrap(node.args[0])}.length"
    if name in ("min", "max", "abs"):
        return f"Math.{name}({args})"
    if name == "In":
        return f"In({args})"
    return None


def _compare(node: ast.Compare) -> str:
    parts: list[str] = []
    left = node.left
    for op, right in zip(node.ops, node.comparators, strict=True):
        if isinstance(op, (ast.Is, ast.IsNot)):
            if not (isinstance(right, ast.Constant) and right.value is None):
                raise TranslationError("'is' compares with None only, in ECMAScript")
            symbol = "===" if isinstance(op, ast.Is) else "!=="
            parts.append(f"{_wrap(left)} {symbol} null")
        elif isinstance(op, ast.In):
            parts.append(f"{_wrap(left)} in {_wrap(right)}")
        elif isinstance(op, ast.NotIn):
            parts.append(f"!({_wrap(left)} in {_wrap(right)})")
        else:
            parts.append(f"{_wrap(left)} {_CMP_JS[type(op)]} {_wrap(right)}")
        left = right
    if len(parts) == 1:
        return parts[0]
    return " && ".join(f"({p})" for p in parts)


_UNARY_JS = {ast.Not: "!", ast.USub: "-", ast.UAdd: "+"}
_WRITERS: dict[type[ast.expr], Callable[[Any], str | None]] = {
    ast.Constant: _constant_js,
    ast.Name: _name_js,
    ast.List: _array_js,
    ast.Tuple: _array_js,
    ast.Set: _array_js,
    ast.Subscript: _subscript_js,
    ast.BoolOp: _bool_js,
    ast.UnaryOp: _unary_js,
    ast.BinOp: _binary_js,
    ast.Compare: _compare,
    ast.Call: _call_js,
}
"""How each kind of node is written in ECMAScript (``None``: this one has no form);
a kind not listed has none at all."""
