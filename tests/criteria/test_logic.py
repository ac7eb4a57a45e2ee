"""Every cell of the three-valued truth tables."""

from __future__ import annotations

import pytest

from spinecare.criteria.logic import and_, any_of, at_least, at_most, not_, or_

T, F, U = True, False, None

AND = {(T, T): T, (T, F): F, (T, U): U, (F, T): F, (F, F): F, (F, U): F,
       (U, T): U, (U, F): F, (U, U): U}
OR = {(T, T): T, (T, F): T, (T, U): T, (F, T): T, (F, F): F, (F, U): U,
      (U, T): T, (U, F): U, (U, U): U}


@pytest.mark.parametrize(("a", "b"), list(AND))
def test_and_truth_table(a: bool | None, b: bool | None) -> None:
    assert and_(a, b) is AND[a, b]


@pytest.mark.parametrize(("a", "b"), list(OR))
def test_or_truth_table(a: bool | None, b: bool | None) -> None:
    assert or_(a, b) is OR[a, b]


@pytest.mark.parametrize(("a", "expected"), [(T, F), (F, T), (U, U)])
def test_not_truth_table(a: bool | None, expected: bool | None) -> None:
    assert not_(a) is expected


def test_empty_conjunction_is_true_and_empty_disjunction_is_false() -> None:
    assert and_() is True
    assert or_() is False


@pytest.mark.parametrize(("values", "k", "expected"), [
    ([T, T, F], 2, T), ([T, F, F], 2, F), ([T, U, F], 2, U), ([U, U, U], 0, T),
    ([F, F, U], 2, F), ([T, T, U], 3, U), ([T, T, T], 3, T),
])
def test_at_least_decides_only_when_the_known_items_decide(values: list, k: int,
                                                            expected: bool | None) -> None:
    assert at_least(k, values) is expected


@pytest.mark.parametrize(("values", "k", "expected"), [
    ([F, F, F], 0, T), ([T, F, F], 1, T), ([T, T, F], 1, F), ([T, U, F], 1, U),
    ([U, U, F], 2, T), ([T, U, U], 1, U),
])
def test_at_most_decides_only_when_the_known_items_decide(values: list, k: int,
                                                          expected: bool | None) -> None:
    assert at_most(k, values) is expected


def test_any_of_nothing_is_unknown() -> None:
    assert any_of([]) is None
    assert any_of([F, U]) is None
    assert any_of([F, T]) is True
    assert any_of([F, F]) is False


@pytest.mark.parametrize(("values", "expected"), [
    ([T, T, T, F, F], (3, 0, "rule_in")),
    ([T, T, U, U, F], (2, 2, "incomplete")),
    ([F, F, F, F, F], (0, 0, "rule_out")),
    ([T, F, F, F, F], (1, 0, "rule_out")),
    ([T, T, F, F, F], (2, 0, "neither")),
    ([T, U, F, F, F], (1, 1, "incomplete")),
    ([U, U, U, U, U], (0, 5, "incomplete")),
])
def test_a_counting_rule_decides_only_what_its_known_items_decide(values: list,
                                                                   expected: tuple) -> None:
    from spinecare.criteria.logic import count_rule

    # Cook 2010 thresholds: rule in at 3 or more of 5, rule out at 1 or fewer
    assert count_rule(values, 3, 1) == expected
