"""The noise rule of metric changes and number formats."""

import json
import math
import statistics

import pytest
from asr_seed_runs import lock
from helpers import Files

from hw2.pipeline import catalog
from hw2.pipeline.catalog import describe, human, scale_for, seed_std, short
from hw2.pipeline.compare import (
    BEYOND,
    NO_INTERVAL,
    ONE_SEED,
    OTHER_DATA,
    WITHIN,
    Change,
    Value,
    diff_changes,
    metric_values,
    split_headlines,
)
from hw2.pipeline.seed_record import Match, fingerprint, match


def change(old, new, other_data=False):
    return Change("m.json", "x", old, new, other_data)


def seeds(value, low, high):
    """A mean over 5 seeds with its interval."""
    return Value(value, low, high, std=0.01, seeds=5)


@pytest.mark.parametrize(
    ("old", "new", "verdict"),
    [
        (seeds(0.70, 0.67, 0.73), seeds(0.72, 0.69, 0.75), WITHIN),
        (seeds(0.70, 0.67, 0.73), seeds(0.80, 0.77, 0.83), BEYOND),
        # the intervals overlap, yet |Δ| = 0.04 > √(0.025² + 0.025²) = 0.035
        (seeds(0.70, 0.675, 0.725), seeds(0.74, 0.715, 0.765), BEYOND),
        (seeds(0.70, 0.675, 0.725), seeds(0.73, 0.705, 0.755), WITHIN),
        # the same widths, but the side facing the other value counts
        (seeds(0.50, 0.49, 0.60), seeds(0.53, 0.52, 0.54), WITHIN),
        (seeds(0.50, 0.40, 0.51), seeds(0.53, 0.52, 0.54), BEYOND),
        # one seed's interval (over test items) cannot call a change real ...
        (Value(0.70, 0.67, 0.73), Value(0.80, 0.77, 0.83), ONE_SEED),
        (seeds(0.70, 0.67, 0.73), Value(0.80, 0.77, 0.83), ONE_SEED),
        # ... but a change inside even that interval is noise
        (Value(0.70, 0.67, 0.73), Value(0.72, 0.69, 0.75), WITHIN),
        # one side without an interval borrows the other's half-width
        (Value(0.70), seeds(0.72, 0.69, 0.75), WITHIN),
        (Value(0.70), Value(0.80), NO_INTERVAL),
        (None, Value(0.80), "new"),
        (Value(0.80), None, "removed"),
        (Value(0.9476169284), Value(0.9476170001), "unchanged"),
    ],
)
def test_verdict(old, new, verdict):
    assert change(old, new).verdict == verdict


def test_other_data_overrides_the_noise_rule():
    moved = change(seeds(0.70, 0.67, 0.73), seeds(0.80, 0.77, 0.83), other_data=True)
    assert moved.verdict == OTHER_DATA
    assert change(Value(0.5), Value(0.5), other_data=True).verdict == "unchanged"


def test_direction_from_the_catalogue():
    cer = Change(catalog.ASR_JSON, "cer", Value(0.3), Value(0.2))
    acc = Change(catalog.CNN_JSON, "test_acc", Value(0.3), Value(0.2))
    count = Change(catalog.ASR_JSON, "n_params", Value(10.0), Value(12.0))
    assert (cer.direction, acc.direction, count.direction) == ("better", "worse", "")
    assert describe("m.json", "peak_bytes_at_max_len.softmax").better == "lower"
    assert describe("m.json", "speedup_at_max_len_causal").unit == "x"
    assert describe("m.json", "mystery").better is None


def test_numbers_for_people():
    assert human(224892.0) == "224,892" and human(0.94761692) == "0.9476"
    assert human(0.31340789, "s") == "313.4 ms" and human(8.6838e-05, "s") == "86.84 µs"
    assert human(1656832, "B") == "1.580 MiB" and human(45.821, "x") == "45.82×"
    assert (
        short(0.01) == "0.01" and short(1400) == "1,400" and short(1.29314) == "1.293"
    )
    scale = scale_for([0.12344, 0.12346])
    assert scale.delta(0.12344, 0.12346) == "+0.0001"  # never +0 for a shown change
    assert change(Value(224892.0), Value(224893.0)).changed
    assert not change(Value(0.12344), Value(0.12341)).changed


def test_metric_values_read_noise_from_one_convention():
    tree = {
        "test_acc": 0.8,
        "test_acc_ci95": [0.77, 0.83],
        "test_acc_std": 0.02,  # the interval wins over the seed spread
        "test_acc_per_seed": [0.78, 0.8, 0.82],
        "val_acc": 0.8,
        "val_acc_std": 0.05,
        "val_acc_per_seed": [0.75, 0.8, 0.85, 0.8],
        "train_loss": 0.3,
        "train_loss_std": 0.01,  # no per-seed list: the file's seed count
        "seeds": 4,
        "cer": 0.5,
        "cer_ci95": [0.45, 0.55],  # one seed: an interval over test items
        "lone_std": 0.1,  # no `lone`: a metric of its own
        "decoder": "lstm",
        "ok": True,
        "lengths": [1, 2],
    }
    values = metric_values(tree)
    assert set(values) == {"test_acc", "val_acc", "train_loss", "cer", "lone_std"}
    assert values["test_acc"] == Value(0.8, 0.77, 0.83, 0.02, 3)
    low, high = values["val_acc"].low, values["val_acc"].high
    assert (high - low) / 2 == pytest.approx(1.96 * 0.05 / 2)  # 4 seeds
    assert values["train_loss"].seeds == 4
    assert values["cer"] == Value(0.5, 0.45, 0.55)  # one seed, no spread


def test_a_seed_spread_is_the_std_of_the_per_seed_values_where_no_std_is_written():
    """metrics/cnn.json keeps the spread as the per-seed list alone (a std would be
    one more column of `dvc exp show`); earlier files and the seed record write
    `_std`, which is read as written."""
    per_seed = [0.727, 0.737, 0.711, 0.758, 0.715]  # the committed run's test accs
    tree = {"test_acc": 0.7296, "test_acc_per_seed": per_seed}
    values = metric_values(tree)
    assert values["test_acc"].seeds == 5
    assert values["test_acc"].std == pytest.approx(statistics.stdev(per_seed))
    half = 1.96 * statistics.stdev(per_seed) / 5**0.5
    assert values["test_acc"].high == pytest.approx(0.7296 + half)
    assert seed_std({**tree, "test_acc_std": 0.5}.get, "test_acc") == 0.5
    assert seed_std({"x_per_seed": [0.5]}.get, "x") is None  # one seed
    assert seed_std({"x_per_seed": [0.5, "a"]}.get, "x") is None


def test_asr_seeds_plug_in_with_the_cnns_keys():
    """When the ASR writes per-seed keys, its changes are judged like the CNN's."""
    one = {"cer": 0.30, "cer_ci95": [0.29, 0.31]}
    base = metric_values(one)["cer"]
    new = metric_values({"cer": 0.25, "cer_ci95": [0.24, 0.26]})["cer"]
    assert change(base, new).verdict == ONE_SEED
    seeded = {
        "cer": 0.30,
        "cer_std": 0.028,
        "cer_per_seed": [0.28, 0.30, 0.32],
        "cer_ci95": [0.26, 0.34],
    }
    old = metric_values(seeded)["cer"]
    new = metric_values({**seeded, "cer": 0.25, "cer_ci95": [0.21, 0.29]})["cer"]
    assert change(old, new).verdict == WITHIN
    far = metric_values({**seeded, "cer": 0.15, "cer_ci95": [0.11, 0.19]})["cer"]
    assert change(old, far).verdict == BEYOND


def test_dvc_metrics_diff_rows_and_headlines_in_catalogue_order():
    diff = {
        "a.json": {
            "y": {"old": 2.0, "new": 3.0},
            "z": {"old": None, "new": 4.0},
            "x": {"old": 1.0, "new": None},
        },
        "b.json": {"w": {"old": None, "new": 5.0}},
    }
    base = Files({"a.json": json.dumps({"x": 1.0, "y": 2.0})})
    head = Files({"a.json": json.dumps({"y": 3.0, "z": 4.0}), "b.json": '{"w": 5}'})
    changes = diff_changes(diff, [base, head], [{}, {}], other_data={"b.json"})
    # the files by path, whichever order DVC's JSON gave them in
    reversed_diff = dict(reversed(diff.items()))
    assert diff_changes(reversed_diff, [base, head], [{}, {}], {"b.json"}) == changes
    assert [(c.path, c.key, c.verdict) for c in changes] == [
        ("a.json", "y", NO_INTERVAL),
        ("a.json", "z", "new"),
        ("a.json", "x", "removed"),
        ("b.json", "w", "new"),
    ]
    heads, rest = split_headlines(
        changes,
        [
            catalog.Metric("b.json", "w", "W"),
            catalog.Metric("c.json", "q", "gone"),
            catalog.Metric("a.json", "y", "Y"),
        ],
    )
    assert [c.key for c in heads] == ["w", "y"]
    assert [c.key for c in rest] == ["z", "x"]


def test_fingerprint_is_the_asr_stages_less_the_seed():
    fp = fingerprint(lock("transformer", 42))
    assert set(fp) == {"train_asr", "evaluate_asr"}  # the CNN's stage left out
    assert "asr.seed" not in fp["train_asr"]["params"]["params.yaml"]
    # the model train_asr hands to evaluate_asr changes with the seed: left out
    assert "data/models/asr.pt" not in fp["evaluate_asr"]["deps"]
    assert fp["train_asr"]["deps"]["src/hw2/asr/model.py"] == "c0"
    assert fingerprint(lock("transformer", 43)) == fp  # another seed: a match
    other = lock("transformer", 42)
    other["stages"]["train_cnn"]["deps"][0]["md5"] = "else"
    assert fingerprint(other) == fp  # the CNN's code is not the ASR's
    assert fingerprint({"stages": {"train_asr": {}}}) is None
    assert fingerprint(None) is None


def test_a_record_goes_stale_when_code_data_or_params_change():
    record = {
        "transformer": {"metrics": {"seeds": 3}, "fingerprint": fingerprint(lock())}
    }
    record["lstm"] = {"metrics": {}, "fingerprint": fingerprint(lock("lstm"))}
    found = match([record], lock("transformer", 44))
    assert (found.name, found.stale, found.label) == (
        "transformer",
        None,
        "make homework, 3 seeds",
    )
    assert match([record], lock("lstm", 7)).name == "lstm"
    code = match([record], lock("transformer", 42, code="c1"))
    assert code.name is None
    assert code.stale == (
        "closest configuration `transformer`: train_asr: src/hw2/asr/model.py changed"
    )
    data = lock()
    for stage in ("train_asr", "evaluate_asr"):
        data["stages"][stage]["deps"][0]["md5"] = "other.dir"
    assert "data/features changed" in match([record], data).stale
    lr = lock()
    lr["stages"]["train_asr"]["params"]["params.yaml"]["asr.lr"] = 0.003
    assert match([record], lr).stale.endswith("train_asr: param asr.lr 0.001 → 0.003")
    assert match([], lock()) == Match()  # no record: nothing to say
    assert match([record], {"stages": {}}) == Match()  # no ASR run here


def test_a_record_holds_a_run_by_its_results_when_only_the_code_moved():
    metrics = {"seeds": 3, "cer_per_seed": [0.28, 0.3, 0.32], "wer_per_seed": [1, 2, 3]}
    record = {
        "transformer": {
            "seeds": [42, 43, 44],
            "metrics": metrics,
            "fingerprint": fingerprint(lock()),
        }
    }
    moved = lock("transformer", 43, code="c1")  # a refactor: the code's md5 moved
    same = {"cer": 0.3, "cer_ci95": [0.2, 0.4], "wer": 2}  # seed 43's numbers
    found = match([record], moved, same)
    assert (found.name, found.stale, found.seeds) == ("transformer", None, 3)
    # a number that moved, another seed, a param or no results: stale as before
    assert match([record], moved, {**same, "wer": 2.0001}).stale
    assert match([record], lock("transformer", 45, code="c1"), same).stale
    assert match([record], moved).stale
    lr = lock("transformer", 43, code="c1")
    lr["stages"]["train_asr"]["params"]["params.yaml"]["asr.lr"] = 0.003
    assert match([record], lr, same).stale


RECORD = {
    "cer": 0.30,
    "cer_std": 0.02,
    "cer_per_seed": [0.28, 0.30, 0.32],
    "cer_ci95": [0.27, 0.33],
    "loss": 1.5,
    "loss_std": 0.1,
    "seeds": 3,
}
MATCHED = Match("transformer", RECORD, 3)
STALE = Match(stale="closest configuration `transformer`: x changed")


def asr(cer, record, half=0.01):
    """A one-seed metrics/asr.json's CER as read with the record's verdict."""
    tree = {"cer": cer, "cer_ci95": [cer - half, cer + half], "loss": 1.5}
    return metric_values(tree, record)


def test_a_one_seed_value_takes_the_matching_records_seed_spread():
    value = asr(0.30, MATCHED)["cer"]
    half = math.hypot(0.01, 1.96 * 0.02)  # the clips' and the seeds' spread
    assert (value.low, value.high) == pytest.approx((0.30 - half, 0.30 + half))
    assert value.std is None and value.seeds == 1
    assert value.spread == "seed spread: make homework, 3 seeds"
    loss = asr(0.30, MATCHED)["loss"]  # no interval of its own: the seeds' alone
    assert (loss.low, loss.high) == pytest.approx((1.5 - 0.196, 1.5 + 0.196))
    for record in (STALE, Match()):
        plain = asr(0.30, record)["cer"]
        assert (plain.low, plain.high) == (0.29, 0.31) and not plain.spread
        assert plain.hint == "run make homework to measure the seed spread"
    # a value over several seeds has its own spread: the record is not used
    seeded = metric_values(RECORD, MATCHED)["cer"]
    assert seeded == Value(0.30, 0.27, 0.33, 0.02, 3)


@pytest.mark.parametrize(
    ("old", "new", "label"),
    [
        # inside the seed spread (|Δ| ≤ √2 · √(0.01² + 0.0392²) = 0.057)
        (MATCHED, MATCHED, "within noise (seed spread: make homework, 3 seeds)"),
        # one side matches: its spread and the other's clips (0.042) still cover
        (MATCHED, STALE, "within noise (seed spread: make homework, 3 seeds)"),
        # no record: larger than the clips' interval, seed noise unknown
        (
            STALE,
            STALE,
            "noise unknown: one seed; run make homework to measure the seed spread",
        ),
        (
            Match(),
            Match(),
            "noise unknown: one seed; run make homework to measure the seed spread",
        ),
    ],
)
def test_a_change_inside_the_seed_spread_is_noise(old, new, label):
    change = Change(
        catalog.ASR_JSON, "cer", asr(0.30, old)["cer"], asr(0.34, new)["cer"]
    )
    assert change.label == label


def test_beyond_the_seed_spread_only_when_both_sides_match():
    far = asr(0.45, MATCHED)["cer"]
    both = Change(catalog.ASR_JSON, "cer", asr(0.30, MATCHED)["cer"], far)
    assert both.verdict == BEYOND
    assert both.label == "beyond noise (seed spread: make homework, 3 seeds)"
    stale = Change(
        catalog.ASR_JSON, "cer", asr(0.30, MATCHED)["cer"], asr(0.45, STALE)["cer"]
    )
    assert stale.verdict == ONE_SEED
    assert stale.label.endswith("; run make homework to measure the seed spread")


def test_dvc_metrics_diff_takes_its_noise_from_the_files():
    """`dvc metrics diff --json --all` leaves the intervals out (they are lists) and
    lists the std as a metric: the files at both revisions give the noise."""
    diff = {
        "m.json": {
            "acc": {"old": 0.7, "new": 0.8, "diff": 0.1},
            "acc_std": {"old": 0.01, "new": 0.01, "diff": 0.0},
            "n": {"old": 5, "new": None},
        }
    }
    seeds = {"acc_std": 0.01, "acc_per_seed": [0.69, 0.7, 0.71]}
    base = Files({"m.json": json.dumps({"acc": 0.7, "n": 5, **seeds})})
    head = Files({"m.json": json.dumps({"acc": 0.8, **seeds})}, rev=None)
    acc, n = diff_changes(diff, [base, head], [{}, {}])
    assert (acc.key, acc.verdict, acc.old.std, acc.new.seeds) == (
        "acc",
        BEYOND,
        0.01,
        3,
    )
    assert (n.key, n.verdict) == ("n", "removed")
