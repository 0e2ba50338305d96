"""Linear constraint strings as Ax takes them ('porosity >= 0.3', 'a + 2 * b <= 3'): their names
and a safe evaluation (an AST walk allowing numbers, names, + - * / only; never eval)."""

from __future__ import annotations

import ast
import operator
from collections.abc import Mapping

_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def constraint_names(constraint: str) -> list[str]:
    """Names an Ax-style linear constraint ('porosity >= 0.3', 'a + 2 * b <= 3') refers to.

    Raises ValueError when the string is not such a constraint.
    """
    lhs, _, rhs = _split(constraint)
    names = _names(lhs)
    if not names:
        raise ValueError(f"constraint {constraint!r} names nothing on its left-hand side")
    zeros = dict.fromkeys(names, 0.0)
    _evaluate(ast.parse(lhs, mode="eval").body, zeros)
    _evaluate(ast.parse(rhs, mode="eval").body, {})
    return names


def satisfies(constraint: str, values: Mapping[str, float]) -> bool:
    """Whether `values` satisfy a linear constraint 'a + 2 * b <= 3' (only + - * / numbers names)."""
    lhs, op, rhs = _split(constraint)
    left = _evaluate(ast.parse(lhs, mode="eval").body, values)
    right = _evaluate(ast.parse(rhs, mode="eval").body, values)
    return left <= right if op == "<=" else left >= right


def linear_form(constraint: str) -> tuple[dict[str, float], float, str]:
    """'a + 2 * b >= 3 - c' -> ({'a': 1, 'b': 2, 'c': 1}, 3.0, '>='): coefficients of the names
    moved to the left, the constant moved to the right, and the operator (the string is linear)."""
    lhs, op, rhs = _split(constraint)
    names = constraint_names(constraint)  # the right-hand side is a constant
    left, right = ast.parse(lhs, mode="eval").body, ast.parse(rhs, mode="eval").body

    def difference(values: Mapping[str, float]) -> float:
        return _evaluate(left, values) - _evaluate(right, values)

    zero = dict.fromkeys(names, 0.0)
    offset = difference(zero)
    coefs = {n: difference({**zero, n: 1.0}) - offset for n in names}
    return coefs, -offset, op


def _names(expression: str) -> list[str]:
    return sorted({n.id for n in ast.walk(ast.parse(expression, mode="eval")) if isinstance(n, ast.Name)})


def _split(constraint: str) -> tuple[str, str, str]:
    ops = [op for op in ("<=", ">=") if op in constraint]
    if len(ops) != 1 or constraint.count(ops[0]) != 1:
        raise ValueError(f"constraint {constraint!r} needs exactly one '<=' or '>='")
    lhs, rhs = constraint.split(ops[0])
    try:
        ast.parse(lhs.strip(), mode="eval"), ast.parse(rhs.strip(), mode="eval")
    except SyntaxError:
        raise ValueError(f"constraint {constraint!r} is not a valid expression") from None
    return lhs.strip(), ops[0], rhs.strip()


def _evaluate(node: ast.AST, values: Mapping[str, float]) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return float(node.value)
    if isinstance(node, ast.Name):
        if node.id not in values:
            raise ValueError(f"unexpected name {node.id!r} in a constraint")
        return float(values[node.id])
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_evaluate(node.operand, values)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_evaluate(node.left, values), _evaluate(node.right, values))
    raise ValueError(f"unsupported term in constraint: {ast.unparse(node)}")
