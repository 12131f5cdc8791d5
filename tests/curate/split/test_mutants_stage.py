"""curate.split.stage on the cases mutation testing found unchecked (docs/testing.md): the option and
ratio checks at their boundaries, pin files (aliases, comments, composite lines), the refusal messages,
group keys of rows without a group, ties by ``dup_group`` and ``derived_from``, an existing split column
(normalised, leaking, against a pin), the report's figures, lines and JSON, and its warnings. Tiny
manifests (a few rows), so each test is milliseconds; expected figures are counted by hand from the
module docstring's rules."""

from __future__ import annotations

import itertools
import locale
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import manifests
from curate.split import SplitOptions, assign_splits, parse_ratios, read_pins
from curate.split.stage import (
    SEP,
    SplitReport,
    check_grouping,
    group_columns_of,
    group_keys,
    join_items,
)
from manifests import InputError, UsageError, schema
from manifests.groups import ATTR

STREET = "street"


def frame_of(rows: list[dict]) -> pd.DataFrame:
    for i, row in enumerate(rows):
        row.setdefault(schema.SHA256, f"{i:064x}")
        row.setdefault(schema.STATUS, schema.OK)
        row.setdefault(schema.PATH, f"{i}.png")
    return manifests.from_records(rows)


def split_of(out: pd.DataFrame, column: str, value: str) -> set[str]:
    return set(out.loc[out[column] == value, schema.SPLIT])


# -- options and ratios ---------------------------------------------------------------------------------

@pytest.mark.parametrize("ratios", [(0.5, 0.5), (0.7, 0.15, 0.15), (0.5, 0.5009), (0.3, 0.3, 0.3991)])
def test_ratios_within_a_thousandth_of_one_are_taken(ratios: tuple[float, ...]) -> None:
    assert SplitOptions(ratios=ratios).ratios == ratios
    assert parse_ratios(",".join(map(str, ratios))) == ratios


@pytest.mark.parametrize("ratios", [(1.0,), (0.25,) * 4, (0.5, 0.502), (0.5, 0.498), (1.0, 0.0),
                                    (1.1, -0.1), (0.6, 0.6, -0.2)])
def test_bad_ratios_are_refused_naming_them(ratios: tuple[float, ...]) -> None:
    text = ",".join(map(str, ratios))
    with pytest.raises(UsageError) as exc:
        SplitOptions(ratios=ratios)
    assert str(exc.value) == f"--ratios takes two or three positive numbers summing to 1 (got {text})"
    with pytest.raises(UsageError) as exc:
        parse_ratios(text)
    assert str(exc.value) == f"--ratios takes two or three positive numbers summing to 1 (got {text!r})"


def test_parse_ratios_skips_blanks_and_names_what_is_not_a_number() -> None:
    assert parse_ratios(" 0.8, 0.2 ,") == (0.8, 0.2)
    with pytest.raises(UsageError) as exc:
        parse_ratios("0.7,x,0.15")
    assert str(exc.value) == "--ratios takes numbers like 0.7,0.15,0.15 (got '0.7,x,0.15')"


def test_option_refusals() -> None:
    with pytest.raises(UsageError) as exc:
        SplitOptions(group_by=(STREET,), random=True)
    assert str(exc.value) == "--random splits rows one by one; it cannot be combined with --group-by"
    with pytest.raises(UsageError) as exc:
        SplitOptions(ratios=(0.8, 0.2), pins=(("test", ("a",)),))
    assert str(exc.value) == "--pin test=... but --ratios gives only train/val"
    assert SplitOptions(ratios=(0.8, 0.2), pins=(("val", ("a",)),)).pins == (("val", ("a",)),)
    assert SplitOptions(restarts=1).restarts == 1
    with pytest.raises(UsageError) as exc:
        SplitOptions(restarts=0)
    assert str(exc.value) == "restarts must be at least 1, not 0"
    assert SplitOptions(group_by=(STREET,)).random is False and SplitOptions().force is False


# -- pin files ------------------------------------------------------------------------------------------

def test_pin_files_take_aliases_comments_and_composite_lines(tmp_path: Path) -> None:
    pins = tmp_path / "pins.txt"
    pins.write_text("# chosen by hand\n\n  ttc  \nscene 1 , creator a, b\n")
    assert read_pins([f" Validation ={pins}"], (STREET,)) == (("val", ("ttc", "scene 1 , creator a, b")),)
    # two group columns: a line splits into the two values at its first comma only
    assert read_pins([f"testing={pins}", f"train={pins}"], ("scene", "creator")) == (
        ("test", ("ttc", f"scene 1{SEP}creator a, b")), ("train", ("ttc", f"scene 1{SEP}creator a, b")))
    assert read_pins([f"val={pins}"], ("scene", "creator", "post_id"))[0][1][1] == \
        f"scene 1{SEP}creator a{SEP}b"


def test_pin_files_are_utf8_whatever_the_locale_and_may_have_an_equals_sign(tmp_path: Path) -> None:
    pins = tmp_path / "scenes=val.txt"
    pins.write_text("Amélie:0001\n千と千尋:0002\n", encoding="utf-8")
    before = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")  # a container's POSIX locale: ASCII by default
    try:
        assert read_pins([f"val={pins}"], ("scene",)) == (("val", ("Amélie:0001", "千と千尋:0002")),)
    finally:
        locale.setlocale(locale.LC_CTYPE, before)


def test_bad_pin_options_say_what_is_wrong(tmp_path: Path) -> None:
    for spec in ("holdout=x.txt", "val", "valx.txt"):
        with pytest.raises(UsageError) as exc:
            read_pins([spec], ())
        assert str(exc.value) == f"--pin takes SPLIT=FILE, e.g. val=groups.txt (got {spec!r})"
    missing = tmp_path / "missing.txt"
    with pytest.raises(InputError) as exc:
        read_pins([f"val={missing}"], ())
    assert str(exc.value) == f"--pin file {missing} does not exist"
    with pytest.raises(InputError) as exc:
        read_pins([f"val={tmp_path}"], ())
    assert str(exc.value) == f"--pin file {tmp_path} does not exist"
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing yet\n\n   \n")
    with pytest.raises(InputError) as exc:
        read_pins([f"val={empty}"], ())
    assert str(exc.value) == f"--pin file {empty} lists no groups"


# -- refusals on the manifest ---------------------------------------------------------------------------

def test_a_missing_column_is_named_with_the_columns_there_are() -> None:
    frame = frame_of([{schema.LABEL: "a", schema.SCENE: "s"}])
    columns = ", ".join(map(str, frame.columns))
    for options, name in ((SplitOptions(group_by=("scene|painter",)), "painter"),
                          (SplitOptions(stratify="suit"), "suit")):
        with pytest.raises(InputError) as exc:
            check_grouping(frame, options)
        assert str(exc.value) == f"no column {name!r} in the manifest (columns: {columns})"
    check_grouping(frame, SplitOptions(stratify=None, random=True))


def test_the_random_split_refusal_counts_ok_rows_and_names_every_group_column() -> None:
    frame = frame_of([{schema.LABEL: "a", schema.SCENE: f"s{i % 3}", schema.CREATOR: f"c{i % 2}",
                       schema.DUP_CLUSTER: f"d{i}"} for i in range(6)]
                     + [{schema.LABEL: "a", schema.SCENE: "s9", schema.STATUS: "corrupt"}])
    with pytest.raises(UsageError) as exc:
        check_grouping(frame, SplitOptions())
    assert str(exc.value) == (
        "the manifest has a 'scene' column (3 values): a random split would put rows of one scene in "
        "both train and val and the validation score would be inflated. Use --group-by scene "
        "(or --group-by scene,creator), or --random to split rows anyway")
    one = frame.drop(columns=[schema.CREATOR])
    with pytest.raises(UsageError, match=r"Use --group-by scene, or --random"):
        check_grouping(one, SplitOptions())
    # values only on failed rows, or only a dup_cluster: nothing would leak
    failed_only = frame_of([{schema.LABEL: "a", schema.DUP_CLUSTER: "d"},
                            {schema.LABEL: "a", schema.SCENE: "s", schema.STATUS: "corrupt"}])
    check_grouping(failed_only, SplitOptions())
    check_grouping(frame, SplitOptions(random=True))


def test_no_ok_rows_is_an_input_error() -> None:
    frame = frame_of([{schema.LABEL: "a", schema.STATUS: "corrupt"}])
    with pytest.raises(InputError) as exc:
        assign_splits(frame, SplitOptions())
    assert str(exc.value) == "the manifest has no status=ok rows to split"


# -- groups, keys and items -----------------------------------------------------------------------------

def test_group_columns_of_splits_alternatives_and_drops_repeats() -> None:
    assert group_columns_of(("scene | creator", " video", "scene", "a||")) == (
        "scene", "creator", "video", "a")
    assert group_columns_of(()) == ()


def test_group_keys_prefix_columns_and_fall_back_to_the_rows_own_key() -> None:
    frame = frame_of([{schema.SCENE: "x"}, {schema.CREATOR: "x"}, {},
                      {schema.SHA256: None, schema.PATH: "p.png", schema.STATUS: schema.OK}])
    keys, ungrouped = group_keys(frame, ("scene", "creator"))
    assert keys.tolist() == [f"scene{SEP}x", f"creator{SEP}x", "\0row:" + f"{2:064x}", "\0row:p.png"]
    assert ungrouped == 2
    keys, ungrouped = group_keys(frame, ("scene",))
    assert keys.tolist()[:2] == ["x", "\0row:" + f"{1:064x}"] and ungrouped == 3
    keys, ungrouped = group_keys(frame, ())
    assert keys.tolist()[0] == "\0row:" + f"{0:064x}" and ungrouped == 4
    # an alternative takes the first column a row has
    keys, _ = group_keys(frame, ("scene|creator",))
    assert keys.tolist()[:2] == ["x", "x"]


def test_join_items_numbers_components_in_key_order() -> None:
    keys = pd.Series(["b", "a", "c", "d", "a"])
    tie = pd.Series([None, None, "t", "t", None])
    assert join_items(keys).tolist() == [1, 0, 2, 3, 0]
    assert join_items(keys, tie).tolist() == [1, 0, 2, 2, 0]
    assert join_items(pd.Series([], dtype=object)).tolist() == []


def test_dup_groups_and_augmented_copies_share_their_originals_split() -> None:
    rows = [{schema.LABEL: "a", STREET: f"s{i}"} for i in range(40)]
    rows[1][schema.DUP_GROUP] = rows[30][schema.DUP_GROUP] = "g"
    rows[2][schema.DERIVED_FROM] = f"{25:064x}"  # an augmented copy of row 25
    rows[3][schema.DERIVED_FROM] = f"{26:064x}"
    frame = frame_of(rows)
    for seed in range(4):
        out, report = assign_splits(frame, SplitOptions(group_by=(STREET,), seed=seed, restarts=1))
        split = out[schema.SPLIT].tolist()
        assert split[1] == split[30] and split[2] == split[25] and split[3] == split[26]
        assert report.groups == 40 and report.items == 37


# -- an existing split column ---------------------------------------------------------------------------

def test_existing_splits_are_normalised_kept_and_counted() -> None:
    rows = [{schema.LABEL: "a", STREET: f"s{i}"} for i in range(20)]
    for i, value in enumerate([" Training", "VALID ", "testing", "val"]):
        rows[i][schema.SPLIT] = value
    frame = frame_of(rows)
    out, report = assign_splits(frame, SplitOptions(group_by=(STREET,)))
    assert out[schema.SPLIT].tolist()[:4] == ["train", "val", "test", "val"]
    assert (report.kept, report.assigned) == (4, 16)
    assert report.lines()[1] == ("16 rows assigned, 4 kept from the existing split column "
                                 "(--force to redo them)")
    _, report = assign_splits(frame, SplitOptions(group_by=(STREET,), force=True))
    assert (report.kept, report.assigned) == (0, 20)
    assert report.lines()[1] == "20 rows assigned, 0 kept from the existing split column"
    with pytest.raises(UsageError) as exc:
        assign_splits(frame, SplitOptions(group_by=(STREET,), ratios=(0.8, 0.2)))
    assert str(exc.value) == ("the manifest's split column holds 'test', which --ratios does not give "
                              "(train/val); give three ratios or --force to split again")
    assert set(assign_splits(frame, SplitOptions(group_by=(STREET,), ratios=(0.8, 0.2), force=True))[0]
               [schema.SPLIT]) == {"train", "val"}


def test_a_split_value_that_is_no_split_is_refused_not_silently_reassigned() -> None:
    rows = [{schema.LABEL: "a", STREET: f"s{i}"} for i in range(10)]
    rows[3][schema.SPLIT] = " Holdout"
    with pytest.raises(UsageError) as exc:
        assign_splits(frame_of(rows), SplitOptions(group_by=(STREET,)))
    assert str(exc.value) == ("the manifest's split column holds 'holdout', which --ratios does not "
                              "give (train/val/test); give three ratios or --force to split again")
    out, _ = assign_splits(frame_of(rows), SplitOptions(group_by=(STREET,), force=True))
    assert set(out[schema.SPLIT]) <= {"train", "val", "test"}


def test_a_group_split_across_two_sides_takes_its_majority_and_warns() -> None:
    rows = [{schema.LABEL: "a", STREET: "leaky"} for _ in range(3)]
    rows += [{schema.LABEL: "a", STREET: f"s{i}"} for i in range(20)]
    rows[0][schema.SPLIT] = rows[1][schema.SPLIT] = "test"
    rows[2][schema.SPLIT] = "train"
    rows[5][schema.SPLIT] = "val"
    out, report = assign_splits(frame_of(rows), SplitOptions(group_by=(STREET,)))
    assert out[schema.SPLIT].tolist()[:3] == ["test", "test", "train"]  # kept as they were
    assert out[schema.SPLIT].iloc[5] == "val"
    assert report.kept == 4
    assert report.warnings == ["the existing split column puts 1 groups in two splits (a leak); "
                               "--force to split again"]


def test_an_existing_split_beats_a_pin_with_a_warning(tmp_path: Path) -> None:
    rows = [{schema.LABEL: "a", STREET: f"s{i}"} for i in range(20)]
    rows[0][schema.SPLIT] = "train"
    rows[1][schema.SPLIT] = "val"
    out, report = assign_splits(frame_of(rows), SplitOptions(group_by=(STREET,),
                                                             pins=(("test", ("s0", "s1")),)))
    assert out[schema.SPLIT].tolist()[:2] == ["train", "val"]
    assert report.pinned == {"test": 2}
    assert report.warnings == ["a pinned group is already in train (existing split kept; --force)",
                               "a pinned group is already in val (existing split kept; --force)"]


# -- pins on the manifest -------------------------------------------------------------------------------

def test_pins_count_per_split_and_unknown_ones_are_listed() -> None:
    rows = [{schema.LABEL: "a", STREET: f"s{i}"} for i in range(30)]
    unknown = tuple(f"u{i}" for i in range(7))
    options = SplitOptions(group_by=(STREET,), pins=(("val", ("s1", "s2", *unknown)), ("test", ("s3",)),
                                                      ("val", ("s4",))))
    out, report = assign_splits(frame_of(rows), options)
    assert report.pinned == {"val": 3, "test": 1}
    assert out[schema.SPLIT].tolist()[1:5] == ["val", "val", "test", "val"]
    assert report.warnings == ["7 pinned groups are not in the manifest: u0, u1, u2, u3, u4"]
    assert "pinned: 3 groups in val" in report.lines() and "pinned: 1 group in test" in report.lines()


def test_pins_with_several_group_columns_take_any_value_or_the_composite_line() -> None:
    # (scene, creator): s0/c0 and s1/c1 are joined by a row holding s1 and c0
    rows = [{schema.LABEL: "a", schema.SCENE: "s0", schema.CREATOR: "c0"},
            {schema.LABEL: "a", schema.SCENE: "s1", schema.CREATOR: "c1"},
            {schema.LABEL: "a", schema.SCENE: "s1", schema.CREATOR: "c0"},
            {schema.LABEL: "a", schema.SCENE: "s2"},
            {schema.LABEL: "a", schema.CREATOR: "c3"}]
    rows += [{schema.LABEL: "a", schema.SCENE: f"t{i}", schema.CREATOR: f"k{i}"} for i in range(20)]
    frame = frame_of(rows)
    by = ("scene", "creator")
    for pin, where in (("c1", [0, 1, 2]), (f"s2{SEP}", [3]), (f"{SEP}c3", [4]), (f"t5{SEP}k5", [10])):
        out, report = assign_splits(frame, SplitOptions(group_by=by, pins=(("test", (pin,)),)))
        assert set(out[schema.SPLIT].iloc[where]) == {"test"}, pin
        assert report.pinned == {"test": 1} and report.warnings == [], pin
    # a composite line of values in two different groups names neither
    out, report = assign_splits(frame, SplitOptions(group_by=by, pins=(("test", (f"s2{SEP}c3",)),)))
    assert report.pinned == {} and report.warnings == ["1 pinned groups are not in the manifest: s2,c3"]


def test_two_pins_on_one_item_conflict_by_name() -> None:
    rows = [{schema.LABEL: "a", STREET: f"s{i}", schema.DUP_CLUSTER: "d" if i < 2 else None}
            for i in range(10)]
    options = SplitOptions(group_by=(STREET,), pins=(("val", ("s0",)), ("test", ("s1",))))
    with pytest.raises(InputError) as exc:
        assign_splits(frame_of(rows), options)
    assert str(exc.value) == ("group 's1' is pinned to test but shares rows or near-duplicates with a "
                              "group pinned to val")
    same = SplitOptions(group_by=(STREET,), pins=(("val", ("s0", "s1")),))
    out, report = assign_splits(frame_of(rows), same)
    assert set(out[schema.SPLIT].iloc[:2]) == {"val"} and report.pinned == {"val": 2}


# -- the report -----------------------------------------------------------------------------------------

def test_report_figures_lines_and_json_on_a_hand_counted_split() -> None:
    # 20 streets of one row each, all class a, ratios 0.5/0.5: 10 and 10, no deviation
    rows = [{schema.LABEL: "a", STREET: f"s{i}"} for i in range(20)]
    rows += [{schema.LABEL: "a", STREET: "s0", schema.STATUS: "corrupt"}]
    out, report = assign_splits(frame_of(rows), SplitOptions(group_by=(STREET,), ratios=(0.5, 0.5)))
    assert report.counts == {"a": {"train": 10, "val": 10}}
    assert report.deviation == 0.0 and report.groups == 20 and report.items == 20
    assert report.worst == ("a", "train")
    assert pd.isna(out[schema.SPLIT].iloc[20])
    assert report.data() == {"splits": ["train", "val"], "ratios": [0.5, 0.5],
                             "counts": {"a": {"train": 10, "val": 10}}, "max_deviation": 0.0,
                             "worst": ["a", "train"], "groups": 20, "items": 20, "assigned": 20, "kept": 0,
                             "pinned": {}, "warnings": []}
    assert report.lines() == ["largest deviation from the ratios: 0.00% (a in train)",
                              "20 rows assigned, 0 kept from the existing split column"]


def test_report_lines_of_a_dry_run_with_pins_and_warnings() -> None:
    report = SplitReport(splits=("train", "val"), ratios=(0.5, 0.5), counts={}, deviation=0.123456789,
                         worst=None, groups=0, items=0, assigned=3, kept=1, pinned={"val": 1, "train": 2},
                         warnings=["w1"])
    report.record({"added": 0}, dry_run=True)
    assert report.lines() == ["largest deviation from the ratios: 12.35%",
                              "3 rows assigned, 1 kept from the existing split column (--force to redo them)",
                              "pinned: 1 group in val", "pinned: 2 groups in train", "warning: w1",
                              "dry run: nothing written"]
    data = report.to_dict()
    assert data["max_deviation"] == 0.123457 and data["worst"] is None and data["dry_run"] is True


def test_deviation_and_worst_name_the_class_and_split_furthest_off() -> None:
    # class a: 4 rows in one street (all to one side); class b: 4 single-row streets (2 and 2)
    rows = [{schema.LABEL: "a", STREET: "big"} for _ in range(4)]
    rows += [{schema.LABEL: "b", STREET: f"s{i}"} for i in range(4)]
    out, report = assign_splits(frame_of(rows), SplitOptions(group_by=(STREET,), ratios=(0.5, 0.5)))
    side = out[schema.SPLIT].iloc[0]
    assert report.counts["a"] == {"train": 4 * (side == "train"), "val": 4 * (side == "val")}
    assert report.counts["b"] == {"train": 2, "val": 2}
    assert report.deviation == 0.5 and report.worst == ("a", "train")
    assert report.warnings == ["class 'a' has 1 group: too few to appear in all of train, val"]


def test_class_warnings_count_groups_and_name_empty_splits() -> None:
    # class x: 3 groups, but one of them holds 30 rows, so test may get none; class y: 2 groups
    rows = [{schema.LABEL: "x", STREET: "x0"} for _ in range(30)]
    rows += [{schema.LABEL: "x", STREET: f"x{i}"} for i in (1, 2)]
    rows += [{schema.LABEL: "y", STREET: f"y{i}"} for i in (0, 1)]
    rows += [{schema.LABEL: None, STREET: f"n{i}"} for i in range(10)]
    out, report = assign_splits(frame_of(rows), SplitOptions(group_by=(STREET,), ratios=(0.8, 0.1, 0.1)))
    table = pd.crosstab(out[schema.LABEL].fillna("(missing)"), out[schema.SPLIT])
    absent = [s for s in ("train", "val", "test") if table.loc["x"].get(s, 0) == 0]
    expected = ["class 'y' has 2 groups: too few to appear in all of train, val, test"]
    if absent:
        expected.insert(0, f"class 'x' has no rows in {', '.join(absent)}")
    assert sorted(report.warnings) == sorted(expected)
    assert set(report.counts) == {"(missing)", "x", "y"}
    assert report.counts["(missing)"] == {"train": 8, "val": 1, "test": 1}


def test_without_stratify_every_row_is_one_class() -> None:
    rows = [{schema.LABEL: "a" if i < 2 else "b"} for i in range(10)]
    out, report = assign_splits(frame_of(rows), SplitOptions(stratify=None, ratios=(0.6, 0.4)))
    assert report.counts == {"(all)": {"train": 6, "val": 4}}
    assert report.deviation == pytest.approx(0.0) and report.worst == ("(all)", "train")
    assert (out[schema.SPLIT] == "train").sum() == 6
    assert np.array_equal(out[schema.SPLIT].notna(), np.ones(10, bool))


def test_a_class_kept_whole_in_train_is_warned_about_the_splits_it_misses(
        caplog: pytest.LogCaptureFixture) -> None:
    # three groups of class x, all already in train: nothing is left to place in val or test
    rows = [{schema.LABEL: "x", STREET: f"x{i}", schema.SPLIT: "train"} for i in range(3)]
    with caplog.at_level("INFO", logger="curate.split.stage"):
        out, report = assign_splits(frame_of(rows), SplitOptions(group_by=(STREET,)))
    assert out[schema.SPLIT].tolist() == ["train"] * 3
    assert report.counts == {"x": {"train": 3, "val": 0, "test": 0}}
    assert report.deviation == pytest.approx(0.3) and report.worst == ("x", "train")
    assert report.warnings == ["class 'x' has no rows in val, test"]
    assert [r.getMessage() for r in caplog.records if r.name == "curate.split.stage"] == report.warnings


def test_a_conflicting_composite_pin_is_named_as_its_file_line() -> None:
    # (scene, creator): the rows s0/c0 and s1/c0 share the creator c0, so they are one item
    rows = [{schema.LABEL: "a", schema.SCENE: "s0", schema.CREATOR: "c0"},
            {schema.LABEL: "a", schema.SCENE: "s1", schema.CREATOR: "c0"}]
    rows += [{schema.LABEL: "a", schema.SCENE: f"t{i}", schema.CREATOR: f"k{i}"} for i in range(8)]
    options = SplitOptions(group_by=("scene", "creator"),
                           pins=(("val", ("s0",)), ("test", (f"s1{SEP}c0",))))
    with pytest.raises(InputError) as exc:
        assign_splits(frame_of(rows), options)
    assert str(exc.value) == ("group 's1,c0' is pinned to test but shares rows or near-duplicates with a "
                              "group pinned to val")


def test_a_row_without_sha256_path_or_group_value_is_named_by_no_pin() -> None:
    # its own key stands for no group value: no pin line ('nan', '<NA>', blank) reaches it
    rows = [{schema.LABEL: "a", STREET: f"s{i}"} for i in range(8)]
    rows.append({schema.LABEL: "a", schema.SHA256: None, schema.PATH: None})
    pins = ("nan", "<NA>", "None")
    _, report = assign_splits(frame_of(rows), SplitOptions(group_by=(STREET,), pins=(("test", pins),)))
    assert report.pinned == {}
    assert report.warnings == ["1 ok rows have no value in street: each of them is a group of its own",
                               "3 pinned groups are not in the manifest: nan, <NA>, None"]


def test_rows_without_any_of_two_group_columns_are_counted_naming_both() -> None:
    rows = [{schema.LABEL: "a", schema.SCENE: f"s{i}", schema.CREATOR: f"c{i}"} for i in range(6)]
    rows += [{schema.LABEL: "a"}, {schema.LABEL: "a"}]
    _, report = assign_splits(frame_of(rows), SplitOptions(group_by=("scene", "creator")))
    assert report.warnings == ["2 ok rows have no value in scene or creator: each of them is a group of "
                               "its own"]


def test_a_declared_group_column_no_row_fills_is_refused_by_curate_split() -> None:
    frame = frame_of([{schema.LABEL: "a"}, {schema.LABEL: "b"}])
    frame.attrs[ATTR] = ["scene"]
    with pytest.raises(InputError) as exc:
        assign_splits(frame, SplitOptions(random=True))
    assert str(exc.value).startswith("curate split: the manifest declares 'scene' as a group column "
                                     "(.meta.json sidecar) but no row holds a 'scene' value")


def test_the_seed_picks_one_of_the_equally_good_splits() -> None:
    # 20 rows of one class, split row by row: 14/3/3 whatever the seed, but which rows depends on it
    rows = [{schema.LABEL: "a"} for _ in range(20)]
    draws = set()
    for seed in range(4):
        out, report = assign_splits(frame_of(rows), SplitOptions(random=True, seed=seed))
        assert report.counts == {"a": {"train": 14, "val": 3, "test": 3}}
        draws.add(tuple(out[schema.SPLIT]))
    assert len(draws) > 1
    again, _ = assign_splits(frame_of(rows), SplitOptions(random=True, seed=3))
    assert tuple(again[schema.SPLIT]) in draws


def relative_error(out: pd.DataFrame, ratios: tuple[float, ...]) -> float:
    """The partition's objective (curate/split/partition.py's docstring) of a split manifest."""
    table = pd.crosstab(out[schema.LABEL], out[schema.SPLIT]).reindex(
        columns=["train", "val", "test"], fill_value=0)
    totals = table.sum(axis=1).to_numpy()[:, None]
    return float((((table.to_numpy() - np.array(ratios) * totals) / totals) ** 2).sum())


def test_more_restarts_reach_the_best_split_one_start_misses() -> None:
    # four streets (rows of class c0, c1): 3+2, 0+5, 4+0, 4+4; brute force over all 3**4 placements
    per_street = [(3, 2), (0, 5), (4, 0), (4, 4)]
    rows = [{schema.LABEL: f"c{c}", STREET: f"s{i}"}
            for i, n in enumerate(per_street) for c, k in enumerate(n) for _ in range(k)]
    ratios = (0.6, 0.2, 0.2)
    frame = frame_of(rows)
    best = min(relative_error(frame.assign(**{schema.SPLIT: [("train", "val", "test")[a[int(r[1:])]]
                                                             for r in frame[STREET]]}), ratios)
               for a in itertools.product(range(3), repeat=4))
    one, _ = assign_splits(frame, SplitOptions(group_by=(STREET,), ratios=ratios, restarts=1))
    eight, _ = assign_splits(frame, SplitOptions(group_by=(STREET,), ratios=ratios, restarts=8))
    assert relative_error(eight, ratios) == pytest.approx(best)
    assert relative_error(one, ratios) > best + 1e-6


def test_rows_with_neither_hash_nor_path_are_each_their_own_group() -> None:
    # ok rows a manifest holds with no sha256 and no path (a hand-made CSV) are still separate images:
    # one key for all of them would force them all into one split
    rows = [{schema.LABEL: "ab"[i % 2], schema.SHA256: None, schema.PATH: None} for i in range(40)]
    keys, ungrouped = group_keys(frame_of(rows), ())
    assert keys.nunique() == 40 and ungrouped == 40
    # ... also behind rows that are not ok (the ok rows' index then starts at 10, not 0)
    failed = [{schema.LABEL: "a", schema.STATUS: "error"} for _ in range(10)]
    mixed = frame_of(failed + rows)
    keys, _ = group_keys(mixed[mixed[schema.STATUS] == schema.OK], ())
    assert keys.nunique() == 40
    out, _ = assign_splits(frame_of(rows), SplitOptions())
    for label in "ab":
        assert len(split_of(out, schema.LABEL, label)) == 3
