"""Linear constraint strings as Ax takes them ('porosity >= 0.3', 'a + 2 * b <= 3'): their linear
form, names and a safe evaluation (an AST walk allowing numbers, names, + - * /; never eval).

A constraint is refused (ValueError, one line) unless it is `expression <= expression` (or `>=`)
whose two sides are linear in the names: a product needs a numeric factor, a division a non-zero
numeric divisor, booleans are not numbers, every coefficient is finite and at least one is not
zero. Strings longer than MAX_LENGTH characters are refused before they are parsed.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping

MAX_LENGTH = 400  # characters; a campaign's constraints hold a handful of terms

Linear = tuple[dict[str, float], float]  # coefficient per name, constant term


def constraint_names(constraint: str) -> list[str]:
    """Names a linear constraint ('porosity >= 0.3', 'a + 2 * b <= 3') refers to, sorted.

    Raises ValueError when the string is not such a constraint.
    """
    return sorted(linear_form(constraint)[0])


def linear_form(constraint: str) -> tuple[dict[str, float], float, str]:
    """'a + 2 * b >= 3 - c' -> ({'a': 1, 'b': 2, 'c': 1}, 3.0, '>='): coefficients of the names
    moved to the left, the constant moved to the right, and the operator."""
    lhs, op, rhs = _split(constraint)
    try:
        (left, left_const), (right, right_const) = _linear(lhs), _linear(rhs)
    except RecursionError:
        raise ValueError(f"constraint {_short(constraint)} is nested too deeply") from None
    except ValueError as exc:
        raise ValueError(f"constraint {_short(constraint)}: {exc}") from None
    coefs = dict(left)
    for name, coef in right.items():
        coefs[name] = coefs.get(name, 0.0) - coef
    constant = right_const - left_const
    if not all(math.isfinite(v) for v in [*coefs.values(), constant]):
        raise ValueError(f"constraint {_short(constraint)} has a coefficient too large to be a number")
    if not any(coefs.values()):
        raise ValueError(
            f"constraint {_short(constraint)} has no name with a non-zero coefficient: it constrains nothing"
        )
    return coefs, constant, op


def satisfies(constraint: str, values: Mapping[str, float]) -> bool:
    """Whether `values` satisfy the linear constraint (ValueError when a name has no value)."""
    coefs, constant, op = linear_form(constraint)
    missing = [n for n in coefs if n not in values]
    if missing:
        raise ValueError(f"unexpected name {missing[0]!r} in a constraint")
    left = sum(coef * float(values[name]) for name, coef in coefs.items())
    return left <= constant if op == "<=" else left >= constant


def divides_names(constraint: str) -> bool:
    """Whether a name is divided by a number somewhere ('a / 2'), which Ax's parameter constraints
    do not read (write 0.5 * a)."""
    lhs, _, rhs = _split(constraint)
    return any(
        isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and _names_in(node.left)
        for side in (lhs, rhs)
        for node in ast.walk(_parse(side, constraint))
    )


def _short(constraint: str, limit: int = 80) -> str:
    return repr(constraint if len(constraint) <= limit else constraint[:limit] + "...")


def _split(constraint: str) -> tuple[str, str, str]:
    if len(constraint) > MAX_LENGTH:
        raise ValueError(
            f"constraint {_short(constraint)} is {len(constraint)} characters long (at most {MAX_LENGTH})"
        )
    ops = [op for op in ("<=", ">=") if op in constraint]
    if len(ops) != 1 or constraint.count(ops[0]) != 1:
        raise ValueError(f"constraint {_short(constraint)} needs exactly one '<=' or '>='")
    lhs, rhs = (side.strip() for side in constraint.split(ops[0]))
    _parse(lhs, constraint), _parse(rhs, constraint)
    return lhs, ops[0], rhs


def _parse(expression: str, constraint: str) -> ast.expr:
    try:
        return ast.parse(expression, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ValueError(f"constraint {_short(constraint)} is not a valid expression") from None


def _names_in(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Name) for n in ast.walk(node))


def _linear(expression: str) -> Linear:
    return _linear_node(ast.parse(expression, mode="eval").body)


def _linear_node(node: ast.AST) -> Linear:
    """The linear form of an expression node; ValueError for anything else."""
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise ValueError(f"{ast.unparse(node)} is not a number")
        return {}, float(node.value)
    if isinstance(node, ast.Name):
        return {node.id: 1.0}, 0.0
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        coefs, constant = _linear_node(node.operand)
        sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
        return {n: sign * c for n, c in coefs.items()}, sign * constant
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        (a, a0), (b, b0) = _linear_node(node.left), _linear_node(node.right)
        sign = 1.0 if isinstance(node.op, ast.Add) else -1.0
        coefs = dict(a)
        for name, coef in b.items():
            coefs[name] = coefs.get(name, 0.0) + sign * coef
        return coefs, a0 + sign * b0
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        (a, a0), (b, b0) = _linear_node(node.left), _linear_node(node.right)
        if a and b:
            raise ValueError(f"{ast.unparse(node)} is not linear (a product of names)")
        factor, (coefs, constant) = (b0, (a, a0)) if a else (a0, (b, b0))
        return {n: factor * c for n, c in coefs.items()}, factor * constant
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        (a, a0), (b, b0) = _linear_node(node.left), _linear_node(node.right)
        if b:
            raise ValueError(f"{ast.unparse(node)} is not linear (a division by a name)")
        if b0 == 0:
            raise ValueError(f"{ast.unparse(node)} divides by zero")
        return {n: c / b0 for n, c in a.items()}, a0 / b0
    raise ValueError(f"unsupported term {ast.unparse(node)} (use numbers, names, + - * /)")


def first_infeasible(constraints: list[str], bounds: Mapping[str, tuple[float, float]]) -> int | None:
    """Index of the first constraint after which no point of the box `bounds` (name -> (low, high))
    satisfies the constraints with room to spare, None when they leave room; each constraint is
    linear in names of `bounds`.

    Room: the largest ball (in box coordinates scaled to [0, 1]) inside the box and every
    half-space must have a radius of at least 1e-6, i.e. a sampler can draw recipes there; an
    equality in disguise ('a <= 0.5' with 'a >= 0.5') or a point-sized corner is refused too.
    """
    from scipy.optimize import linprog  # imported here: validating a campaign without constraints stays light

    names = list(bounds)
    low = [bounds[n][0] for n in names]
    width = [bounds[n][1] - bounds[n][0] for n in names]
    rows: list[list[float]] = []
    rhs: list[float] = []
    for index, constraint in enumerate(constraints):
        coefs, constant, op = linear_form(constraint)
        sign = 1.0 if op == "<=" else -1.0
        row = [sign * coefs.get(n, 0.0) * w for n, w in zip(names, width, strict=True)]
        norm = math.sqrt(sum(v * v for v in row))
        rows.append([*row, norm])
        rhs.append(sign * (constant - sum(coefs.get(n, 0.0) * lo for n, lo in zip(names, low, strict=True))))
        # x in [0, 1]^d with radius r: x_i - r >= 0 and x_i + r <= 1; maximize r
        box = [[-1.0 if j == i else 0.0 for j in range(len(names))] + [1.0] for i in range(len(names))]
        box += [[1.0 if j == i else 0.0 for j in range(len(names))] + [1.0] for i in range(len(names))]
        result = linprog(
            c=[0.0] * len(names) + [-1.0],
            A_ub=rows + box,
            b_ub=rhs + [0.0] * len(names) + [1.0] * len(names),
            bounds=[(0.0, 1.0)] * len(names) + [(0.0, 0.5)],
            method="highs",
        )
        if result.status != 0 or -result.fun < 1e-6:
            return index
    return None
