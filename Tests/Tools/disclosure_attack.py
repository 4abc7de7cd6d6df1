#!/usr/bin/env python3
"""Independent disclosure attacker for published, disclosure-controlled tables.

The project's tests use this script to check that tables of figures published
under disclosure control do not give back a hidden small count.  It is written
from a description of the publication conventions only, not from the project's
own code, so that it can catch mistakes the project makes consistently.

Attacker model
--------------
The attacker sees every published cell: its labels (release, period, metric,
statistic, dimension, category), the shown number or the symbol that replaced
it, and the base the number was rounded to.  From the labels alone the
attacker writes linear equations that published figures must satisfy:

1. parts add up, per period: total = sum of the audience rows; an audience
   row G = sum of the rows of dimension G; total = sum of the rows of any other
   breakdown dimension.  A category absent in a period counts as 0;
2. periods add up, per (dimension, category): a quarter, academic year
   (Sep-Aug), financial year (Apr-Mar) or strategy period (e.g. 2024-2029 =
   academic years 2024/25 .. 2028/29) is the sum of its months.  A month that
   does not appear in the release (for that metric and statistic) counts as 0;
3. across releases: the same figure in two releases is equal when its true
   value did not change (the attacker is assumed to know which figures did not
   change between releases - a conservative, i.e. strong, assumption);
4. any extra equations given in the input (e.g. hours = 60 * pupils).

Each cell gives bounds: a shown exact value is fixed; a value shown rounded to
base r (half away from zero) lies in [v - floor(r/2), v + ceil(r/2) - 1] and is
>= 0 (in a release that uses "*", a shown 0 is exactly 0); "c" and "x" only
say x >= 0; "*" says 1 <= x <= 7.  Every figure is an integer.

For every hidden cell whose true value is small (1-5, or 1-7 for "*") the
attacker computes the integer minimum and maximum of the cell subject to all
equations and bounds (mixed-integer programs solved by HiGHS through
scipy.optimize.milp).  A cell whose minimum equals its maximum is *determined*:
the published tables give it back.  True values are used only to choose which
hidden cells are small and to write the cross-release equalities (3), never
as constraints.

Speed: an equation in which only one unknown is not fixed fixes it (repeated
until nothing changes: plain differencing, a sound deduction); the equations
are split into connected components; every integer solution the solver finds
is kept, and a cell is proven undetermined as soon as two known solutions
differ on it, so most cells need no solve of their own.  Components without
any shown cell are NOT skipped: that shortcut is unsound (e.g. seven "*"
cells adding up to a "*" cell are all forced to 1).

Choices the description left open: a breakdown whose parent row is not
published gets a free unknown for the parent (so the parent still links
periods); a composite period is split into months, or, when the group has no
months at all, into quarters (financial year) or academic years (strategy
period); a dimension is an audience breakdown when its name is a category of
dimension "audience" anywhere in the input; a figure published twice in one
release is one unknown.

Usage
-----
    python disclosure_attack.py FILE.json     (or - for standard input)
    python disclosure_attack.py --self-test

Output (stdout): {"hidden_small": N, "determined": [...], "equations": M,
"unknowns": K}.  Exit status 0 when nothing is determined, 1 when something
is, 2 on bad input or when the published tables contradict themselves.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse.csgraph import connected_components

INF = math.inf
SMALL_LIMIT = {"c": 5, "x": 5, "*": 7}
STAR_RANGE = (1.0, 7.0)
SOLVER_OPTIONS = {"disp": False, "presolve": True, "mip_rel_gap": 0.0, "time_limit": 300.0}
DELETION_FILTER_LIMIT = 150
TOLERANCE = 1e-6


class InputError(Exception):
    """The input document is malformed (exit status 2)."""


class AttackError(Exception):
    """The tables contradict themselves or the solver failed (exit status 2)."""


# --------------------------------------------------------------------------
# Periods
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    """A period as an inclusive range of month indexes (year * 12 + month - 1)."""

    level: str  # month | quarter | academic_year | financial_year | strategy
    start: int
    end: int


MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
QUARTER_RE = re.compile(r"^(\d{4})-Q([1-4])$")
ACADEMIC_RE = re.compile(r"^(\d{4})/(\d{2})$")
FINANCIAL_RE = re.compile(r"^FY(\d{4})/(\d{2})$")
STRATEGY_RE = re.compile(r"^(\d{4})-(\d{4})$")

# Levels a composite period may be split into, finest first.  The finest level
# that occurs in the (release, metric, statistic) group is used.
CHILD_LEVELS = {
    "quarter": ("month",),
    "academic_year": ("month",),
    "financial_year": ("month", "quarter"),
    "strategy": ("month", "academic_year"),
}
LEVEL_SHAPE = {"quarter": (3, 0), "academic_year": (12, 8)}  # width, start phase


def month_index(year: int, month: int) -> int:
    return year * 12 + month - 1


def _year_span(match: re.Match[str], label: str) -> int:
    first, second = int(match[1]), int(match[2])
    if second != (first + 1) % 100:
        raise InputError(f"period {label!r}: the years must be consecutive")
    return first


def parse_period(label: str) -> Period:
    """Parse a period label; raise InputError for an unknown format."""
    if m := MONTH_RE.match(label):
        if 1 <= int(m[2]) <= 12:
            index = month_index(int(m[1]), int(m[2]))
            return Period("month", index, index)
    elif m := QUARTER_RE.match(label):
        start = month_index(int(m[1]), 3 * int(m[2]) - 2)
        return Period("quarter", start, start + 2)
    elif m := ACADEMIC_RE.match(label):
        start = month_index(_year_span(m, label), 9)
        return Period("academic_year", start, start + 11)
    elif m := FINANCIAL_RE.match(label):
        start = month_index(_year_span(m, label), 4)
        return Period("financial_year", start, start + 11)
    elif m := STRATEGY_RE.match(label):
        first, last = int(m[1]), int(m[2])
        if first < last:
            return Period("strategy", month_index(first, 9), month_index(last, 8))
    raise InputError(
        f"unrecognised period label {label!r} (expected YYYY-MM, YYYY-Qn, "
        "YYYY/YY, FYYYYY/YY or YYYY-YYYY)")


def partition(parent: Period, level: str) -> list[Period]:
    """The periods of `level` that exactly cover `parent` ([] if they cannot)."""
    if level == "month":
        return [Period("month", i, i) for i in range(parent.start, parent.end + 1)]
    width, phase = LEVEL_SHAPE[level]
    if parent.start % width != phase or (parent.end + 1 - parent.start) % width:
        return []
    return [Period(level, s, s + width - 1)
            for s in range(parent.start, parent.end + 1, width)]


def child_periods(parent: Period, levels_present: set[str]) -> list[Period]:
    for level in CHILD_LEVELS.get(parent.level, ()):
        if level in levels_present:
            return partition(parent, level)
    return []


# --------------------------------------------------------------------------
# Input
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Cell:
    index: int
    release: str
    period_label: str
    period: Period
    metric: str
    statistic: str
    dimension: str
    category: str
    value: float | None
    symbol: str | None
    rounding: int
    truth: int | None

    @property
    def name(self) -> str:
        return "/".join((self.release, self.metric, self.statistic,
                         self.period_label, self.dimension, self.category))

    def is_small_hidden(self) -> bool:
        limit = SMALL_LIMIT.get(self.symbol or "", 0)
        return self.truth is not None and 1 <= self.truth <= limit


def _text(raw: dict[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise InputError(f"{where}: {key!r} must be a non-empty string")
    return value


def _number(value: Any, key: str, where: str, integral: bool = False) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value):
        raise InputError(f"{where}: {key!r} must be a number or null")
    if integral and not float(value).is_integer():
        raise InputError(f"{where}: {key!r} must be a whole number")
    return value


def parse_cell(index: int, raw: Any) -> Cell:
    where = f"cell {index}"
    if not isinstance(raw, dict):
        raise InputError(f"{where}: must be an object")
    symbol = raw.get("symbol")
    if symbol not in (None, "c", "*", "x"):
        raise InputError(f"{where}: unknown symbol {symbol!r} (null, 'c', '*' or 'x')")
    value = _number(raw.get("value"), "value", where)
    if symbol is None and value is None:
        raise InputError(f"{where}: a shown cell (symbol null) needs a value")
    rounding = _number(raw.get("rounding", 1), "rounding", where, integral=True)
    if rounding is None or rounding < 1:
        raise InputError(f"{where}: 'rounding' must be a whole number >= 1")
    if symbol is None and rounding > 1 and value < 0:
        raise InputError(f"{where}: a rounded count cannot be negative")
    truth = _number(raw.get("truth"), "truth", where, integral=True)
    dimension, category = _text(raw, "dimension", where), _text(raw, "category", where)
    if (dimension == "total") != (category == "total"):
        raise InputError(f"{where}: the total row is dimension 'total', category 'total'")
    label = _text(raw, "period", where)
    return Cell(index, _text(raw, "release", where), label, parse_period(label),
                _text(raw, "metric", where), _text(raw, "statistic", where),
                dimension, category, None if symbol else value, symbol,
                int(rounding), None if truth is None else int(truth))


def parse_cells(document: Any) -> list[Cell]:
    if not isinstance(document, dict) or not isinstance(document.get("cells"), list):
        raise InputError("the input must be a JSON object with a 'cells' list")
    return [parse_cell(i, raw) for i, raw in enumerate(document["cells"])]


def parse_extra_equations(document: dict[str, Any], cell_count: int) -> list[Equation]:
    raw_list = document.get("equations") or []
    if not isinstance(raw_list, list):
        raise InputError("'equations' must be a list")
    equations = []
    for k, raw in enumerate(raw_list):
        where = f"equation {k}"
        if not isinstance(raw, dict) or not isinstance(raw.get("terms"), list):
            raise InputError(f"{where}: must be an object with a 'terms' list")
        terms = []
        for term in raw["terms"]:
            if not (isinstance(term, list) and len(term) == 2
                    and isinstance(term[0], int) and not isinstance(term[0], bool)
                    and 0 <= term[0] < cell_count):
                raise InputError(f"{where}: each term must be [cell index, coefficient]")
            terms.append((term[0], float(_number(term[1], "coefficient", where) or 0.0)))
        constant = _number(raw.get("constant", 0.0), "constant", where) or 0.0
        equations.append(Equation(terms, float(constant), f"extra equation {k}"))
    return equations


# --------------------------------------------------------------------------
# The attacker's model: integer unknowns, bounds and linear equations
# --------------------------------------------------------------------------

@dataclass
class Equation:
    terms: list[tuple[int, float]]  # (variable, coefficient); sum = constant
    constant: float
    origin: str


@dataclass
class Model:
    names: list[str] = field(default_factory=list)
    lower: list[float] = field(default_factory=list)
    upper: list[float] = field(default_factory=list)
    integer: list[bool] = field(default_factory=list)
    equations: list[Equation] = field(default_factory=list)

    def add_variable(self, name: str, lower: float, upper: float,
                     integer: bool = True) -> int:
        self.names.append(name)
        self.lower.append(lower)
        self.upper.append(upper)
        self.integer.append(integer)
        return len(self.names) - 1

    def add_equation(self, terms: Iterable[tuple[int, float]], constant: float,
                     origin: str) -> None:
        merged: dict[int, float] = defaultdict(float)
        for variable, coefficient in terms:
            merged[variable] += coefficient
        kept = [(v, c) for v, c in merged.items() if c != 0.0]
        if kept:
            self.equations.append(Equation(kept, constant, origin))
        elif abs(constant) > TOLERANCE:
            raise AttackError(f"{origin} has no unknowns but a constant of {constant:g}")


def cell_bounds(cell: Cell, star_release: bool) -> tuple[float, float, bool]:
    """(lower, upper, integer) of a cell's true value given what is shown."""
    if cell.symbol == "*":
        return STAR_RANGE[0], STAR_RANGE[1], True
    if cell.symbol is not None:
        return 0.0, INF, True
    value, base = float(cell.value), cell.rounding
    if base == 1:
        return value, value, value.is_integer()
    if value == 0 and star_release:
        return 0.0, 0.0, True
    lower = max(0.0, math.ceil(value - base // 2))
    upper = float(math.floor(value + (base + 1) // 2 - 1))
    return lower, upper, True


@dataclass
class Group:
    """Cells of one (release, metric, statistic), indexed for equation writing."""

    key: tuple[str, str, str]
    table: dict[Period, dict[str, dict[str, int]]] = field(default_factory=dict)
    labels: dict[Period, str] = field(default_factory=dict)
    dimensions: set[str] = field(default_factory=set)

    def lookup(self, period: Period, dimension: str, category: str) -> int | None:
        return self.table.get(period, {}).get(dimension, {}).get(category)

    def describe(self, period: Period) -> str:
        return "/".join(self.key) + "/" + self.labels[period]


def build_groups(model: Model, cells: list[Cell]) -> dict[tuple[str, str, str], Group]:
    groups: dict[tuple[str, str, str], Group] = {}
    for cell in cells:
        key = (cell.release, cell.metric, cell.statistic)
        group = groups.setdefault(key, Group(key))
        group.labels.setdefault(cell.period, cell.period_label)
        group.dimensions.add(cell.dimension)
        row = group.table.setdefault(cell.period, {}).setdefault(cell.dimension, {})
        first = row.setdefault(cell.category, cell.index)
        if first != cell.index:  # the same figure published twice
            model.add_equation([(first, 1.0), (cell.index, -1.0)], 0.0,
                               f"{cell.name}: duplicate cell")
    return groups


def add_breakdown(model: Model, group: Group, period: Period,
                  parent_key: tuple[str, str], child_dimension: str) -> None:
    """parent = sum of the cells of child_dimension in `period`."""
    rows = group.table[period]
    children = list(rows.get(child_dimension, {}).values())
    parent = group.lookup(period, *parent_key)
    if parent is None:
        if not children:
            return
        # An unpublished parent: a free unknown that still links periods.
        parent = model.add_variable(
            f"{group.describe(period)}/{'/'.join(parent_key)} (unpublished)", 0.0, INF)
        rows.setdefault(parent_key[0], {})[parent_key[1]] = parent
    model.add_equation([(parent, 1.0)] + [(c, -1.0) for c in children], 0.0,
                       f"{group.describe(period)}: {'/'.join(parent_key)} = "
                       f"sum of dimension {child_dimension!r}")


def add_part_equations(model: Model, group: Group, audience_categories: set[str]) -> None:
    """Rule 1: parts add up, per period."""
    sub_audiences = sorted(d for d in group.dimensions if d in audience_categories)
    total_breakdowns = sorted(d for d in group.dimensions
                              if d != "total" and d not in audience_categories)
    for period in sorted(group.table, key=lambda p: (p.start, p.end, p.level)):
        for dimension in sub_audiences:  # first: may create audience rows
            add_breakdown(model, group, period, ("audience", dimension), dimension)
        for dimension in total_breakdowns:
            add_breakdown(model, group, period, ("total", "total"), dimension)


def add_period_equations(model: Model, group: Group) -> None:
    """Rule 2: a composite period is the sum of its months (absent = 0)."""
    levels_present = {p.level for p in group.table}
    for period, rows in group.table.items():
        children = child_periods(period, levels_present)
        if not children:
            continue
        for dimension, categories in rows.items():
            for category, parent in categories.items():
                terms = [(parent, 1.0)]
                for child in children:
                    variable = group.lookup(child, dimension, category)
                    if variable is not None:
                        terms.append((variable, -1.0))
                model.add_equation(terms, 0.0,
                                   f"{group.describe(period)}/{dimension}/{category}"
                                   " = sum of its sub-periods")


def add_release_links(model: Model, cells: list[Cell]) -> None:
    """Rule 3: the same figure in two releases with equal truth is equal."""
    buckets: dict[tuple[Any, ...], dict[str, int]] = defaultdict(dict)
    for cell in cells:
        if cell.truth is not None:
            key = (cell.metric, cell.statistic, cell.period, cell.dimension,
                   cell.category, cell.truth)
            buckets[key].setdefault(cell.release, cell.index)
    for members in buckets.values():
        indexes = list(members.values())
        for a, b in zip(indexes, indexes[1:]):
            model.add_equation([(a, 1.0), (b, -1.0)], 0.0,
                               f"{model.names[a]} = {model.names[b]} (unchanged between releases)")


def build_model(cells: list[Cell], extra: list[Equation]) -> Model:
    model = Model()
    star_releases = {c.release for c in cells if c.symbol == "*"}
    for cell in cells:
        lower, upper, integer = cell_bounds(cell, cell.release in star_releases)
        model.add_variable(cell.name, lower, upper, integer)
    audience_categories = {c.category for c in cells if c.dimension == "audience"}
    for group in build_groups(model, cells).values():
        add_part_equations(model, group, audience_categories)
        add_period_equations(model, group)
    add_release_links(model, cells)
    for equation in extra:
        model.add_equation(equation.terms, equation.constant, equation.origin)
    return model


# --------------------------------------------------------------------------
# Solving
# --------------------------------------------------------------------------

@dataclass
class System:
    """All equations (matrix . x = rhs) and the bounds of every unknown."""

    matrix: sparse.csr_matrix
    rhs: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    integer: np.ndarray

    @classmethod
    def from_model(cls, model: Model) -> System:
        rows, cols, data = [], [], []
        for r, equation in enumerate(model.equations):
            for variable, coefficient in equation.terms:
                rows.append(r)
                cols.append(variable)
                data.append(coefficient)
        shape = (len(model.equations), len(model.names))
        matrix = sparse.csr_matrix((data, (rows, cols)), shape=shape, dtype=float)
        return cls(matrix, np.array([e.constant for e in model.equations], dtype=float),
                   np.asarray(model.lower, dtype=float), np.asarray(model.upper, dtype=float),
                   np.asarray(model.integer, dtype=bool))


def _solve_singleton(system: System, row: int, fixed: np.ndarray) -> tuple[int, float] | None:
    """The value an equation with one unfixed unknown forces (None if not usable)."""
    start, stop = system.matrix.indptr[row], system.matrix.indptr[row + 1]
    cols, coefs = system.matrix.indices[start:stop], system.matrix.data[start:stop]
    free = cols[~fixed[cols]]
    if len(free) != 1:
        return None
    known = fixed[cols]
    j = int(free[0])
    value = (system.rhs[row] - float(coefs[known] @ system.lower[cols[known]])) \
        / float(coefs[cols == j][0])
    if system.integer[j]:
        if abs(value - round(value)) > TOLERANCE:
            return None  # a contradiction: left for the solver to report
        value = float(round(value))
    if not system.lower[j] - TOLERANCE <= value <= system.upper[j] + TOLERANCE:
        return None
    return j, value


def propagate_fixed(system: System) -> System:
    """Fix every unknown that an equation with one unfixed unknown forces.

    Sound deduction (it holds in every solution); it saves two solves for
    each cell that plain differencing gives back."""
    result = System(system.matrix, system.rhs, system.lower.copy(),
                    system.upper.copy(), system.integer)
    fixed = result.lower == result.upper
    by_column = system.matrix.tocsc()
    pattern = system.matrix.copy()
    pattern.data[:] = 1.0
    free_count = np.rint(pattern @ (~fixed).astype(float)).astype(int)
    queue = list(np.flatnonzero(free_count == 1))
    while queue:
        row = int(queue.pop())
        forced = _solve_singleton(result, row, fixed)
        if forced is None:
            continue
        j, value = forced
        result.lower[j] = result.upper[j] = value
        fixed[j] = True
        for other in by_column.indices[by_column.indptr[j]:by_column.indptr[j + 1]]:
            free_count[other] -= 1
            if free_count[other] == 1:
                queue.append(other)
    return result


def _group_by_label(labels: np.ndarray, count: int) -> list[np.ndarray]:
    order = np.argsort(labels, kind="stable")
    edges = np.searchsorted(labels[order], np.arange(count + 1))
    return [order[edges[k]:edges[k + 1]] for k in range(count)]


def split_components(matrix: sparse.csr_matrix) -> list[tuple[np.ndarray, np.ndarray]]:
    """(variables, equations) of each connected component of the system."""
    n_eq, n_var = matrix.shape
    coo = matrix.tocoo()
    graph = sparse.coo_matrix((np.ones(coo.nnz), (coo.col, n_var + coo.row)),
                              shape=(n_var + n_eq, n_var + n_eq))
    count, labels = connected_components(graph, directed=False)
    variables = _group_by_label(labels[:n_var], count)
    equations = _group_by_label(labels[n_var:], count)
    return list(zip(variables, equations))


class SubSystem:
    """The equations `rows` over the unknowns `columns`, ready for milp."""

    def __init__(self, system: System, columns: np.ndarray, rows: np.ndarray) -> None:
        self.columns = columns
        self.matrix = system.matrix[rows][:, columns]
        self.rhs = system.rhs[rows]
        self.lower = system.lower[columns]
        self.upper = system.upper[columns]
        self.integrality = system.integer[columns].astype(int)
        # A finite upper bound for heuristic solves only (any point found under
        # it is still a solution of the real system).
        self.cap = float(np.abs(self.lower).sum() + np.abs(self.rhs).sum()
                         + np.abs(self.upper[np.isfinite(self.upper)]).sum()) + 100.0

    def solve(self, objective: np.ndarray, capped: bool = False) -> tuple[str, np.ndarray | None]:
        """Minimise objective.x; returns (optimal|infeasible|unbounded, x)."""
        upper = np.minimum(self.upper, self.cap) if capped else self.upper
        constraints = []
        if self.matrix.shape[0]:
            constraints = [LinearConstraint(self.matrix, self.rhs, self.rhs)]
        result = milp(objective, integrality=self.integrality,
                      bounds=Bounds(self.lower, upper), constraints=constraints,
                      options=SOLVER_OPTIONS)
        if result.status == 0:
            return "optimal", result.x
        if result.status == 2:
            return "infeasible", None
        if result.status == 3 or (result.status == 4 and "unbounded" in result.message.lower()):
            return "unbounded", None  # callers know whether infeasible is possible
        raise AttackError(f"the solver stopped early: {result.message}")


class SeenValues:
    """Smallest and largest value of each target over known integer solutions."""

    def __init__(self, targets: np.ndarray) -> None:
        self.targets = targets
        self.low = np.full(len(targets), INF)
        self.high = np.full(len(targets), -INF)

    def record(self, x: np.ndarray) -> None:
        values = np.round(x[self.targets])
        self.low = np.minimum(self.low, values)
        self.high = np.maximum(self.high, values)

    def varies(self, k: int) -> bool:
        return bool(self.high[k] > self.low[k])


def resolve_target(system: SubSystem, seen: SeenValues, k: int) -> tuple[int, int] | None:
    """(min, max) of target k when they are equal, else None (two solves at most)."""
    if seen.varies(k):
        return None
    target = seen.targets[k]
    if system.lower[target] == system.upper[target]:  # fixed by propagation
        return int(system.lower[target]), int(system.upper[target])
    objective = np.zeros(len(system.columns))
    for sign in (-1.0, 1.0):  # maximise, then minimise
        objective[target] = sign
        status, x = system.solve(objective)
        if status == "unbounded":
            return None
        if status != "optimal":
            raise AttackError("a feasible component became infeasible in the solver")
        seen.record(x)
        if seen.varies(k):
            return None
    return int(seen.low[k]), int(seen.high[k])


class _Infeasible(Exception):
    pass


def attack_component(system: SubSystem, local_targets: np.ndarray) -> dict[int, tuple[int, int]]:
    """Check feasibility, then find the determined targets (local positions)."""
    status, x = system.solve(np.ones(len(system.columns)))
    if status != "optimal":  # bounded below, so "unbounded" means infeasible
        raise _Infeasible()
    if not len(local_targets):
        return {}
    seen = SeenValues(local_targets)
    seen.record(x)
    batch = np.zeros(len(system.columns))
    batch[local_targets] = -1.0  # push every target up at once
    status, x = system.solve(batch, capped=True)
    if status == "optimal":
        seen.record(x)
    determined = {}
    for k in range(len(local_targets)):
        bounds = resolve_target(system, seen, k)
        if bounds is not None:
            determined[int(local_targets[k])] = bounds
    return determined


def run_attack(model: Model, targets: list[int]) -> dict[int, tuple[int, int]]:
    """Map each determined target (unknown index) to its (min, max)."""
    original = System.from_model(model)
    system = propagate_fixed(original)
    is_target = np.zeros(len(model.names), dtype=bool)
    is_target[targets] = True
    determined: dict[int, tuple[int, int]] = {}
    for columns, rows in split_components(system.matrix):
        local_targets = np.flatnonzero(is_target[columns])
        if not len(rows) and not len(local_targets):
            if system.lower[columns[0]] > system.upper[columns[0]]:
                raise AttackError(f"{model.names[columns[0]]} has empty bounds")
            continue
        try:
            found = attack_component(SubSystem(system, columns, rows), local_targets)
        except _Infeasible:
            raise AttackError(infeasibility_report(model, original, rows)) from None
        for local, bounds in found.items():
            determined[int(columns[local])] = bounds
    return determined


# --------------------------------------------------------------------------
# Explaining a contradiction
# --------------------------------------------------------------------------

def bound_text(model: Model, variable: int) -> str:
    lower, upper = model.lower[variable], model.upper[variable]
    if lower == upper:
        return f"={lower:g}"
    return f"in [{lower:g}, {upper:g}]" if math.isfinite(upper) else f">={lower:g}"


def equation_text(model: Model, row: int) -> str:
    equation = model.equations[row]
    parts = []
    for variable, coefficient in equation.terms:
        factor = "+" if coefficient == 1 else "-" if coefficient == -1 else f"{coefficient:+g}*"
        parts.append(f"{factor} {model.names[variable]}{{{bound_text(model, variable)}}}")
    return f"[{equation.origin}] {' '.join(parts)} = {equation.constant:g}"


def interval_conflicts(model: Model, rows: Iterable[int]) -> list[int]:
    """Equations that cannot hold even ignoring every other equation."""
    conflicts = []
    for row in rows:
        equation, low, high = model.equations[row], 0.0, 0.0
        for variable, coefficient in equation.terms:
            a, b = coefficient * model.lower[variable], coefficient * model.upper[variable]
            low, high = low + min(a, b), high + max(a, b)
        if not low - TOLERANCE <= equation.constant <= high + TOLERANCE:
            conflicts.append(int(row))
    return conflicts


def rows_feasible(system: System, rows: list[int]) -> bool:
    if not rows:
        return True
    columns = np.unique(system.matrix[rows].indices)
    status, _ = SubSystem(system, columns, np.asarray(rows)).solve(np.zeros(len(columns)))
    return status == "optimal"  # a zero objective cannot be unbounded


def deletion_filter(system: System, rows: list[int]) -> list[int]:
    """An irreducible contradicting subset of `rows` (one solve per row)."""
    kept = list(rows)
    for row in list(rows):
        trial = [r for r in kept if r != row]
        if not rows_feasible(system, trial):
            kept = trial
    return kept


def elastic_culprits(system: System, rows: list[int]) -> list[int]:
    """Equations a least-violation solve must break (one solve, any size)."""
    columns = np.unique(system.matrix[rows].indices)
    m, n = len(rows), len(columns)
    identity = sparse.identity(m, format="csr")
    matrix = sparse.hstack([system.matrix[rows][:, columns], identity, -identity]).tocsr()
    result = milp(np.concatenate([np.zeros(n), np.ones(2 * m)]),
                  integrality=np.concatenate([system.integer[columns], np.zeros(2 * m)]),
                  bounds=Bounds(np.concatenate([system.lower[columns], np.zeros(2 * m)]),
                                np.concatenate([system.upper[columns], np.full(2 * m, INF)])),
                  constraints=LinearConstraint(matrix, system.rhs[rows], system.rhs[rows]),
                  options=SOLVER_OPTIONS)
    if result.status != 0:
        return []
    slack = result.x[n:n + m] + result.x[n + m:]
    return [rows[i] for i in np.flatnonzero(slack > TOLERANCE)]


def infeasibility_report(model: Model, system: System, rows: np.ndarray) -> str:
    rows_list = [int(r) for r in rows]
    head = ("infeasible: the published tables contradict themselves "
            "(given the truths used for the cross-release equalities)")
    culprits = interval_conflicts(model, rows_list)[:5]
    how = "contradicting equations (each impossible within the cells' bounds)"
    if not culprits and len(rows_list) <= DELETION_FILTER_LIMIT:
        culprits = deletion_filter(system, rows_list)[:10]
        how = "contradicting equations (an irreducible set)"
    elif not culprits:
        culprits = elastic_culprits(system, rows_list)[:10]
        how = (f"among {len(rows_list)} connected equations, these cannot all hold "
               "(the fewest violations are here)")
    lines = [equation_text(model, r) for r in (culprits or rows_list[:5])]
    return f"{head}; {how}:\n  " + "\n  ".join(lines)


# --------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------

def analyse(document: Any) -> dict[str, Any]:
    """Run the attack on a parsed input document; returns the output object."""
    cells = parse_cells(document)
    extra = parse_extra_equations(document, len(cells))
    model = build_model(cells, extra)
    targets = [c.index for c in cells if c.is_small_hidden()]
    determined = run_attack(model, targets)
    return {
        "hidden_small": len(targets),
        "determined": [
            {"release": c.release, "period": c.period_label, "metric": c.metric,
             "statistic": c.statistic, "dimension": c.dimension, "category": c.category,
             "truth": c.truth, "min": determined[c.index][0], "max": determined[c.index][1]}
            for c in cells if c.index in determined],
        "equations": len(model.equations),
        "unknowns": len(model.names),
    }


def load_document(path: str) -> Any:
    try:
        if path == "-":
            return json.load(sys.stdin)
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as error:
        raise InputError(f"cannot read {path}: {error}") from None
    except json.JSONDecodeError as error:
        raise InputError(f"{path} is not valid JSON: {error}") from None


def main(argv: list[str]) -> int:
    if argv == ["--self-test"]:
        return self_test()
    if len(argv) != 1 or argv[0].startswith("--") and argv[0] != "-":
        print("usage: disclosure_attack.py FILE.json | - | --self-test", file=sys.stderr)
        return 2
    try:
        result = analyse(load_document(argv[0]))
    except InputError as error:
        print(f"disclosure_attack: bad input: {error}", file=sys.stderr)
        return 2
    except AttackError as error:
        print(f"disclosure_attack: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2))
    return 1 if result["determined"] else 0


# --------------------------------------------------------------------------
# Self-test
# --------------------------------------------------------------------------

def _cell(period: str, dimension: str, category: str, truth: int, symbol: str | None = None,
          shown: float | None = None, rounding: int = 1, release: str = "r1",
          metric: str = "attendances") -> dict[str, Any]:
    value = None if symbol else (truth if shown is None else shown)
    return {"release": release, "period": period, "metric": metric, "statistic": metric,
            "dimension": dimension, "category": category, "value": value,
            "symbol": symbol, "rounding": rounding, "truth": truth}


def _determined(document: dict[str, Any]) -> set[tuple[str, ...]]:
    return {(d["release"], d["metric"], d["period"], d["dimension"], d["category"])
            for d in analyse(document)["determined"]}


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def _test_periods() -> None:
    _check(parse_period("2024-2029") == Period("strategy", month_index(2024, 9),
                                               month_index(2029, 8)), "strategy period")
    _check(len(partition(parse_period("2024-2029"), "month")) == 60, "strategy months")
    _check(partition(parse_period("FY2024/25"), "quarter")[0] == parse_period("2024-Q2"),
           "financial year starts with 2024-Q2")
    _check(partition(parse_period("2024/25"), "month")[0] == parse_period("2024-09"),
           "academic year starts in September")
    _check(partition(parse_period("2024/25"), "quarter") == [], "AY is not made of quarters")
    _check(cell_bounds(parse_cell(0, _cell("2024-10", "total", "total", 12, shown=10,
                                            rounding=10)), False)[:2] == (5.0, 14.0),
           "rounding to 10, half away from zero")


def _test_parts() -> None:
    case_a = [_cell("2024-10", "audience", "pupils", 12),
              _cell("2024-10", "pupils", "ks3", 3, "c"),
              _cell("2024-10", "pupils", "ks4", 9)]
    _check(_determined({"cells": case_a}) == {("r1", "attendances", "2024-10", "pupils", "ks3")},
           "(a) ks3 = pupils - ks4 is determined")
    case_b = case_a[:2] + [_cell("2024-10", "pupils", "ks4", 9, "c")]
    _check(_determined({"cells": case_b}) == set(), "(b) with ks4 hidden too: not determined")


def _test_releases() -> None:
    def case(october_r1: int) -> dict[str, Any]:
        r1 = [_cell("2024-09", "audience", "pupils", 0),
              _cell("2024-10", "audience", "pupils", october_r1),
              _cell("2024/25", "audience", "pupils", october_r1)]
        r2 = [_cell("2024-09", "audience", "pupils", 0, release="r2"),
              _cell("2024-10", "audience", "pupils", 9, "c", release="r2"),
              _cell("2024-11", "audience", "pupils", 2, "c", release="r2"),
              _cell("2024/25", "audience", "pupils", 11, release="r2")]
        return {"cells": r1 + r2}
    _check(_determined(case(9)) == {("r2", "attendances", "2024-11", "audience", "pupils")},
           "(c) November determined through the unchanged October")
    _check(_determined(case(8)) == set(), "(c') without an unchanged October: not determined")


def _test_nhs() -> None:
    cells = [_cell("2024-10", "pupils", "ks3", 1, "*", release="n1"),
             _cell("2024-10", "pupils", "ks4", 8, shown=10, rounding=5, release="n1"),
             _cell("2024-10", "audience", "pupils", 9, shown=10, rounding=5, release="n1"),
             _cell("2024-10", "audience", "pupils", 9, release="n1", metric="pupil_hours")]
    hours = [{"terms": [[3, 1.0], [2, -1.0]], "constant": 0.0}]
    _check(_determined({"cells": cells, "equations": hours})
           == {("n1", "attendances", "2024-10", "pupils", "ks3")},
           "(d) ks3 determined with the exact hours row")
    _check(_determined({"cells": cells[:3]}) == set(), "(d') not determined without hours")
    stars = [_cell("2024-10", "pupils", f"s{k}", 1, "*", release="n1") for k in range(4)]
    rest = [_cell("2024-10", "pupils", "ks4", 8, shown=10, rounding=5, release="n1"),
            _cell("2024-10", "audience", "pupils", 12, shown=10, rounding=5, release="n1")]
    result = analyse({"cells": stars + rest})
    _check(len(result["determined"]) == 4
           and all(d["min"] == d["max"] == 1 for d in result["determined"]),
           "(e) four '*' cells adding up to at most 4 are each 1")


def _year_series(metric: str, shown: set[str]) -> list[dict[str, Any]]:
    """Apr 2024 - Aug 2025; Sep 2024 - Mar 2025 hidden; composite periods in `shown`."""
    truths = [30, 31, 32, 33, 34, 3, 20, 2, 15, 10, 12, 14, 40, 41, 42, 43, 44]
    cells = []
    for k, truth in enumerate(truths):
        year, month = divmod(month_index(2024, 4) + k, 12)
        hidden = "c" if 5 <= k <= 11 else None
        cells.append(_cell(f"{year}-{month + 1:02d}", "total", "total", truth, hidden,
                           metric=metric))
    composites = {"2024-Q4": 37, "2025-Q1": 36, "FY2024/25": sum(truths[:12]),
                  "2024/25": sum(truths[5:]), "2024-2029": sum(truths[5:])}
    for label, truth in composites.items():
        cells.append(_cell(label, "total", "total", truth, None if label in shown else "c",
                           metric=metric))
    return cells


def _test_years() -> None:
    quarters = {"2024-Q4", "2025-Q1"}
    document = {"cells": _year_series("m_fy", quarters | {"FY2024/25"})
                + _year_series("m_ay", quarters | {"2024/25"})
                + _year_series("m_st", quarters | {"2024-2029"})}
    result = analyse(document)
    found = {(d["metric"], d["period"], d["min"]) for d in result["determined"]}
    _check(found == {("m_fy", "2024-09", 3), ("m_ay", "2024-09", 3), ("m_st", "2024-09", 3)},
           f"(f) September isolated by FY, AY and strategy differencing, got {found}")
    _check(result["hidden_small"] == 6, "(f) Sep and Nov are the small hidden cells")


def _test_contradiction() -> None:
    cells = [_cell("2024-10", "total", "total", 10), _cell("2024-10", "audience", "pupils", 3),
             _cell("2024-10", "audience", "staff", 4)]
    try:
        analyse({"cells": cells})
    except AttackError as error:
        _check("total/total = sum of dimension 'audience'" in str(error),
               "(g) the contradiction names the equation")
        return
    raise AssertionError("(g) contradictory tables must be reported")


def self_test() -> int:
    for test in (_test_periods, _test_parts, _test_releases, _test_nhs,
                 _test_years, _test_contradiction):
        try:
            test()
        except (AssertionError, InputError, AttackError) as error:
            print(f"self-test FAILED in {test.__name__}: {error}", file=sys.stderr)
            return 1
    print("self-test ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
