"""curate.split.partition on the cases mutation testing found unchecked (docs/testing.md): the objective
on hand-counted assignments, the water-filling of single-row items, empty items, fixed items, restarts
and seeds, and what each step of the search adds, against a brute-force optimum (every assignment of
a few items) as the outside oracle. Small instances: the whole file is well under a second."""

from __future__ import annotations

import functools
import itertools
import warnings

import numpy as np
import pytest

from curate.split.partition import PartitionOptions, objective, partition, waterfill


def brute_force(counts: np.ndarray, ratios: np.ndarray) -> float:
    """The lowest objective over every assignment of the items (the module docstring's formula)."""
    n, s = len(counts), len(ratios)
    every = np.array(list(itertools.product(range(s), repeat=n)))
    onehot = (every[:, :, None] == np.arange(s)).astype(float)
    achieved = np.einsum("ais,ic->asc", onehot, counts)
    totals = counts.sum(axis=0)
    err = (achieved - ratios[None, :, None] * totals) / np.maximum(totals, 1)
    return float((err * err).sum(axis=(1, 2)).min())


@functools.cache
def instances() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    out = []
    for _ in range(40):
        n, k, s = int(rng.integers(3, 8)), int(rng.integers(1, 4)), int(rng.integers(2, 4))
        counts = rng.integers(0, 6, (n, k)).astype(float)
        out.append((counts, np.array([0.5, 0.5]) if s == 2 else np.array([0.6, 0.2, 0.2])))
    return out


@functools.cache
def optima() -> list[float]:
    return [brute_force(c, r) for c, r in instances()]


def optimal(options: PartitionOptions) -> int:
    """On how many of the instances ``partition`` reaches the brute-force optimum."""
    return sum(objective(c, partition(c, r, options=options), r) <= best + 1e-9
               for (c, r), best in zip(instances(), optima(), strict=True))


def test_objective_is_the_sum_of_squared_relative_deviations() -> None:
    counts = np.array([[2.0, 0.0], [0.0, 4.0]])
    ratios = np.array([0.5, 0.5])
    # class 0: 2 rows, wanted 1/1, got 2/0; class 1: 4 rows, wanted 2/2, got 0/4: (1/2)**2 * 2 + (2/4)**2 * 2
    assert objective(counts, np.array([0, 1]), ratios) == pytest.approx(1.0)
    assert objective(counts, np.array([0, 0]), ratios) == pytest.approx(1.0)
    assert objective(np.array([[1.0, 1.0]]), np.array([1]), np.array([0.75, 0.25])) == pytest.approx(
        2 * (0.75 ** 2 + 0.75 ** 2))
    # an unplaced item (-1) counts in no split but in its class's total
    assert objective(counts, np.array([0, -1]), ratios) == pytest.approx(0.25 * 2 + (2 / 4) ** 2 * 2)
    # a class of one row weighs 1 (not 1/4): 0.5**2 * 2
    assert objective(np.array([[1.0]]), np.array([0]), ratios) == pytest.approx(0.5)
    # a class with no rows at all adds nothing
    assert objective(np.array([[1.0, 0.0]]), np.array([0]), ratios) == pytest.approx(0.5)


def test_the_docstring_example_and_a_hand_solved_split() -> None:
    example = partition(np.array([[5, 0], [0, 5], [3, 2], [1, 1]]), np.array([0.5, 0.5]))
    assert example.tolist() == [0, 0, 1, 1]
    # one class, items 3 3 2 2 2: greedy alone gives 7/5, only a swap (a 3 for a 2) reaches 6/6
    counts = np.array([[3], [3], [2], [2], [2]])
    greedy = partition(counts, np.array([0.5, 0.5]), options=PartitionOptions(restarts=1, max_steps=0))
    assert sorted(np.bincount(greedy, weights=counts[:, 0], minlength=2)) == [5, 7]
    best = partition(counts, np.array([0.5, 0.5]), options=PartitionOptions(restarts=1))
    assert np.bincount(best, weights=counts[:, 0]).tolist() == [6, 6]
    moves = partition(counts, np.array([0.5, 0.5]), options=PartitionOptions(restarts=1, swap_sample=0))
    assert sorted(np.bincount(moves, weights=counts[:, 0], minlength=2)) == [5, 7]
    # the same items around a val that holds only a fixed item: the swap is between train and test, so
    # val having nothing to swap must not stop the search there (6/3/6, not 7/3/5)
    counts = np.array([[3], [3], [3], [2], [2], [2]])
    fixed = np.array([1, -1, -1, -1, -1, -1])
    best = partition(counts, np.array([0.4, 0.2, 0.4]), fixed, PartitionOptions(restarts=1))
    assert np.bincount(best, weights=counts[:, 0]).tolist() == [6, 3, 6]


def test_each_step_of_the_search_reaches_more_optima() -> None:
    # 40 random instances of 3-7 items: greedy alone, + moves, + swaps, + restarts
    assert optimal(PartitionOptions(restarts=1, max_steps=0)) == 24
    assert optimal(PartitionOptions(max_steps=0)) == 33  # greedy alone, from 8 perturbed starts
    assert optimal(PartitionOptions(restarts=1, swap_sample=0)) == 26
    assert optimal(PartitionOptions(restarts=1)) == 35
    assert optimal(PartitionOptions()) == 39
    assert optimal(PartitionOptions(restarts=0)) == 35  # at least one start


def test_swaps_drawn_from_small_samples_reach_fewer_optima() -> None:
    # each step samples each pair of splits once (one ordered pair, never a split with itself): with
    # one or two items drawn per split the swaps reach fewer of the 40 optima than all swaps (35)
    assert optimal(PartitionOptions(restarts=1, swap_sample=1)) == 27
    assert optimal(PartitionOptions(restarts=1, swap_sample=2)) == 31


def test_single_row_items_are_shared_out_exactly() -> None:
    counts = np.zeros((20, 2))
    counts[:10, 0] = 1  # ten single rows of class 0, ten of class 1
    counts[10:, 1] = 1
    for seed in range(3):
        assign = partition(counts, np.array([0.7, 0.3]), options=PartitionOptions(seed=seed, restarts=1))
        assert np.bincount(assign[:10], minlength=2).tolist() == [7, 3]
        assert np.bincount(assign[10:], minlength=2).tolist() == [7, 3]
    three = partition(counts[:10], np.array([0.6, 0.2, 0.2]), options=PartitionOptions(restarts=1))
    assert np.bincount(three, minlength=3).tolist() == [6, 2, 2]
    # which rows go where depends on the seed; the counts do not
    draws = {tuple(partition(counts, np.array([0.5, 0.5]), options=PartitionOptions(seed=s, restarts=1)))
             for s in range(4)}
    assert len(draws) > 1


def test_single_rows_fill_what_the_groups_left() -> None:
    # a fixed group of 6 class-0 rows in split 0, then 4 single rows of class 0: 0.5/0.5 of 10 is 5/5
    counts = np.array([[6.0]] + [[1.0]] * 4)
    assign = partition(counts, np.array([0.5, 0.5]), np.array([0, -1, -1, -1, -1]),
                       PartitionOptions(restarts=1, max_steps=0))
    assert assign.tolist() == [0, 1, 1, 1, 1]
    # a free group of 3 goes first (largest first), the singles then even out: 3 + 1 / 4
    counts = np.array([[1.0], [3.0], [1.0], [1.0], [1.0], [1.0]])
    assign = partition(counts, np.array([0.5, 0.5]), options=PartitionOptions(restarts=1, max_steps=0))
    assert np.bincount(assign, weights=counts[:, 0]).tolist() == [4, 4]


def test_a_tie_between_two_swaps_goes_to_the_earlier_split() -> None:
    # one class, 17 rows at 0.6/0.2/0.2 (10.2/3.4/3.4): greedy gives 11/3/3; swapping the train 4 for
    # the val 3 or for the test 3 gains the same, and as in water-filling the earlier split, val,
    # takes the extra row: 10/4/3
    counts = np.array([[5], [3], [2], [4], [3]])
    ratios = np.array([0.6, 0.2, 0.2])
    greedy = partition(counts, ratios, options=PartitionOptions(restarts=1, max_steps=0))
    assert np.bincount(greedy, weights=counts[:, 0]).tolist() == [11, 3, 3]
    assert np.bincount(partition(counts, ratios), weights=counts[:, 0]).tolist() == [10, 4, 3]


def test_items_without_rows_go_to_the_first_split() -> None:
    counts = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0], [3.0, 3.0]])
    assign = partition(counts, np.array([0.2, 0.8]), options=PartitionOptions(restarts=1, max_steps=0))
    assert assign[[0, 2]].tolist() == [0, 0]


def test_fixed_items_stay_and_free_ones_balance_around_them() -> None:
    counts = np.array([[4.0, 0.0], [0.0, 4.0], [4.0, 0.0], [0.0, 4.0], [2.0, 2.0]])
    fixed = np.array([1, 1, -1, -1, -1])
    assign = partition(counts, np.array([0.5, 0.5]), fixed)
    assert assign[:2].tolist() == [1, 1]
    assert objective(counts, assign, np.array([0.5, 0.5])) == pytest.approx(
        min(objective(counts, np.array([1, 1, *a]), np.array([0.5, 0.5]))
            for a in itertools.product(range(2), repeat=3)))
    everything = partition(counts, np.array([0.5, 0.5]), np.array([0, 1, 1, 0, 1]))
    assert everything.tolist() == [0, 1, 1, 0, 1]
    # fixed to the first split (split 0) counts as fixed too, though moving one would even it out
    both = partition(np.array([[4.0], [4.0], [1.0]]), np.array([0.5, 0.5]), np.array([0, 0, -1]))
    assert both.tolist() == [0, 0, 1]


def test_more_restarts_keep_an_answer_that_was_already_best() -> None:
    # restart 0 already finds the optimum of each of these; later restarts tie at best and lose
    for (counts, ratios), best in list(zip(instances(), optima(), strict=True))[:10]:
        one = partition(counts, ratios, options=PartitionOptions(restarts=1))
        if objective(counts, one, ratios) <= best + 1e-9:
            assert partition(counts, ratios).tolist() == one.tolist()
    same = partition(np.array([[3], [2], [2], [1]]), np.array([0.5, 0.5]), options=PartitionOptions(seed=5))
    assert same.tolist() == partition(np.array([[3], [2], [2], [1]]), np.array([0.5, 0.5]),
                                      options=PartitionOptions(seed=5)).tolist()


@pytest.mark.parametrize(("deficit", "n", "expected"), [
    ([2.4, 0.3, 0.3], 3, [3, 0, 0]),
    ([8.0, 1.0, 1.0], 10, [8, 1, 1]),
    ([5.0, -1.0], 3, [3, 0]),
    ([1.0, 0.5], 5, [3, 2]),
    ([0.2, 0.2, 0.2], 0, [0, 0, 0]),
    ([-3.0, -1.0, -2.4], 2, [0, 2, 0]),
    ([3.5, 3.5, 0.0], 7, [4, 3, 0]),
    ([1.0], 4, [4]),
    # on a tie the earlier split takes the row (in a 50/50 split of one row, train)
    ([0.0, 0.0], 1, [1, 0]),
    ([3.5, 3.5], 1, [1, 0]),
    ([5.0, 5.0, 2.5], 1, [1, 0, 0]),
    ([-1.0, 2.5, 2.5], 1, [0, 1, 0]),
])
def test_waterfill_on_hand_solved_cases(deficit: list[float], n: int, expected: list[int]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy warning (a division by zero) reaches the user
        assert waterfill(np.array(deficit), n).tolist() == expected



def test_moves_repeat_until_none_helps() -> None:
    # classes a, b: items (4,1) (0,5) (2,3) (0,1), 50/50 of 6 a and 10 b. Greedy gives (4,2) / (2,8);
    # moving (0,5) over gives (4,7) / (2,3), and only a second move, (0,1) back, reaches the optimum
    # (4,6) / (2,4)
    counts = np.array([[4.0, 1.0], [0.0, 5.0], [2.0, 3.0], [0.0, 1.0]])
    ratios = np.array([0.5, 0.5])
    greedy = partition(counts, ratios, options=PartitionOptions(restarts=1, max_steps=0))
    assert greedy.tolist() == [0, 1, 1, 0]
    one = partition(counts, ratios, options=PartitionOptions(restarts=1, max_steps=1, swap_sample=0))
    assert one.tolist() == [0, 0, 1, 0]
    moves = partition(counts, ratios, options=PartitionOptions(restarts=1, swap_sample=0))
    assert moves.tolist() == [0, 0, 1, 1]
    assert objective(counts, moves, ratios) == pytest.approx(brute_force(counts, ratios))
