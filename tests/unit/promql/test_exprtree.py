"""The reducer's expression trees: text -> tree -> text keeps the meaning, precedence included."""

from __future__ import annotations

from pathlib import Path

import promql_parser
import pytest

from fixtures.promql.exprtree import (
    ExprError,
    Selector,
    from_text,
    literal_texts,
    render,
    replace_at,
    selectors,
)
from fixtures.promql.replay import collect_cases

ROOT = Path(__file__).parents[3]
TRICKY = [
    'sum by (a) (rate(x{a="b",c=~"d|e"}[5m] offset 1h)) / on (a) group_left (z) max(y) > bool 3',
    "a / ignoring(b) group_right(c) b", "x offset -5m", "x @ start()", "rate(x[5m] offset 1h @ 100)",
    "max_over_time(rate(x[5m])[30m:1m] offset 10m)", "max_over_time(rate(x[5m])[30m:])",
    'topk by (a) (3, x)', 'count_values("v", x)', "-x", "-(a + b)", "(a + b) * c", "a + b * c",
    '{__name__=~"a|b", c="d\\"e\\\\f"}', "x > bool on() group_left 3", 'label_join(x, "a", ",", "b", "c")',
    "vector(1)", "time()", "1 + 2", "(x)[5m:]", "histogram_quantile(0.9, x)", "sum(x) by (a)", "0.5",
    "1e-3 * x", "a and on(b) c", "a unless b or c", "2 ^ 3 ^ 2", "(2 ^ 3) ^ 2",
]


def _roundtrips(expr: str) -> None:
    tree = from_text(expr)
    text = render(tree)
    assert from_text(text) == tree, f"{expr!r} rendered as {text!r}"
    # prettify normalises spacing; extra parentheses are the only allowed difference
    strip = str.maketrans("", "", "() \n")
    assert promql_parser.parse(text).prettify().translate(strip) == \
        promql_parser.parse(expr).prettify().translate(strip)


@pytest.mark.parametrize("expr", TRICKY)
def test_tricky_expressions_roundtrip(expr: str) -> None:
    _roundtrips(expr)


def test_every_dashboard_template_roundtrips() -> None:
    templates = {c.target.expr for c in collect_cases(ROOT / "manifests")}
    assert templates
    for expr in sorted(templates):
        try:
            promql_parser.parse(expr)
        except ValueError:
            continue  # still templated ($var in a duration): expanded ones are covered by the replay
        _roundtrips(expr)


def test_precedence_survives_a_rewrite() -> None:
    tree = from_text("(a - b) * c")
    assert render(tree) == "(a - b) * c"
    assert render(from_text("a - (b * c)")) == "a - (b * c)"
    assert render(from_text("2 ^ 3 ^ 2")) == "2 ^ (3 ^ 2)"


def test_replace_at_swaps_one_node_and_keeps_the_rest() -> None:
    tree = from_text('sum(rate(x{a="1"}[5m])) / sum(rate(y[5m]))')
    first = selectors(tree)[0]
    assert isinstance(first, Selector) and first.name == "x"
    new = replace_at(tree, (0, 0, 0, 0), Selector("z"))
    assert render(new) == "sum(rate(z[5m])) / sum(rate(y[5m]))"


def test_unparsable_text_is_an_expr_error() -> None:
    with pytest.raises(ExprError):
        from_text("sum(")


def test_number_literals_keep_how_they_were_written() -> None:
    # a server may reject 1e9 and accept 1000000000: the repro must send what the case sent
    for expr in ("sin(x / 1e9)", "x * -1e9", "x / 0x1F", "topk(5, x) / .5", "clamp(x, 210563072.0, 3)"):
        assert render(from_text(expr)) == expr
    assert render(from_text("x / 1000000000")) == "x / 1000000000"


def test_only_literals_are_scanned_not_strings_ranges_offsets_or_names() -> None:
    texts = literal_texts('rate(x2{le="1e5"}[1h30m] offset 5m) @ 1609746000 > 1e3')
    assert texts == {1000.0: "1e3", -1000.0: "-1e3"}
    assert literal_texts("x * 1e9 + 1000000000") == {}  # one value written two ways: canonical
