import pytest
import yaml
from helpers import ROOT, run_stage, with_params, write_params

from hw2.core.errors import ParamError
from hw2.core.params import KEYS, Params, load_params


@pytest.fixture
def p():
    return Params(
        {
            "lr": 0.01,
            "neg": -1,
            "flag": True,
            "word": "maybe",
            "n": 3,
            "big": 1e999,
            "sec": {"choice": "lstm", "list": [1, 2]},
        }
    )


def test_dotted_get_and_missing_key(p):
    assert p.get("sec.choice") == "lstm"
    with pytest.raises(ParamError, match="missing key 'sec.nope'"):
        p.get("sec.nope")


def test_number_bounds_name_the_key(p):
    assert p.number("lr", low=0, low_open=True) == 0.01
    with pytest.raises(ParamError, match=r"neg must be a number > 0, got -1"):
        p.number("neg", low=0, low_open=True)
    with pytest.raises(ParamError, match="big must be a number"):
        p.number("big")
    with pytest.raises(ParamError, match="flag must be a number"):
        p.number("flag")  # bool is an int in Python; refused here


def test_boolean_refuses_words_and_ints(p):
    assert p.boolean("flag") is True
    with pytest.raises(ParamError, match="word must be true or false, got 'maybe'"):
        p.boolean("word")
    with pytest.raises(ParamError, match="n must be true or false"):
        p.boolean("n")


def test_choice_integer_and_lists(p):
    assert p.choice("sec.choice", ["transformer", "lstm"]) == "lstm"
    with pytest.raises(ParamError, match=r"sec.choice must be one of a \| b"):
        p.choice("sec.choice", ["a", "b"])
    assert p.integer("n", low=1) == 3
    with pytest.raises(ParamError, match="n must be an integer >= 4"):
        p.integer("n", low=4)
    with pytest.raises(ParamError, match="lr must be an integer"):
        p.integer("lr")
    assert p.int_list("sec.list", low=1) == [1, 2]
    with pytest.raises(ParamError, match="sec.list must be a non-empty list"):
        p.int_list("sec.list", low=2)


def test_override_sets_and_removes_dotted_keys_on_a_copy(p):
    q = p.override({"sec.choice": "gru", "sec.new.deep": 1, "n": 4}, remove=["lr"])
    assert (q.get("sec.choice"), q.get("sec.new.deep"), q.get("n")) == ("gru", 1, 4)
    assert "lr" not in q.data and q.source == p.source
    assert p.get("sec.choice") == "lstm" and p.get("lr") == 0.01  # untouched
    with pytest.raises(ParamError, match="cannot set 'n.x': 'n' is a value"):
        p.override({"n.x": 1})


def test_override_keeps_the_schema(tmp_path):
    base = load_params(ROOT / "params.yaml")
    changed = base.override({"asr.lr": 0.5})
    assert changed.number("asr.lr") == 0.5 and changed.known is base.known
    typo = base.override({"asr.lrr": 0.5})
    with pytest.raises(ParamError, match=r"unknown key 'asr.lrr' \(did you mean"):
        typo.number("asr.lr")


def test_load_params_reports_yaml_line(tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text("lr: 0.1\ncnn:\n  maxpool: [true\n")
    with pytest.raises(ParamError, match=r"params.yaml: line \d+ is not valid YAML"):
        load_params(bad)
    with pytest.raises(ParamError, match="cannot read"):
        load_params(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(ParamError, match="expected a mapping"):
        load_params(tmp_path / "list.yaml")


# --- typos: unknown and repeated keys --------------------------------------------


def _flatten(tree, prefix=""):
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def test_schema_lists_exactly_the_keys_of_params_yaml():
    tree = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert sorted(_flatten(tree)) == sorted(KEYS)


def test_unknown_key_in_a_section_read_is_refused_with_a_suggestion(tmp_path):
    tree = with_params(
        yaml.safe_load((ROOT / "params.yaml").read_text()), **{"cnn.epoch": 1}
    )
    p = load_params(write_params(tmp_path, tree))
    with pytest.raises(
        ParamError, match=r"unknown key 'cnn.epoch' \(did you mean 'cnn.epochs'\?\)"
    ):
        p.integer("cnn.epochs")
    assert p.integer("asr.seed") == 42  # a stage reading other sections is not hit


def test_unknown_key_with_no_close_name_and_at_top_level(tmp_path):
    base = yaml.safe_load((ROOT / "params.yaml").read_text())
    p = load_params(write_params(tmp_path, with_params(base, **{"asr.zzz": 1})))
    with pytest.raises(ParamError, match=r"unknown key 'asr.zzz'$"):
        p.integer("asr.seed")
    p = load_params(write_params(tmp_path, with_params(base, **{"lrr": 1})))
    with pytest.raises(ParamError, match=r"unknown key 'lrr' \(did you mean 'lr'\?\)"):
        p.choice("device", ["auto"])


def test_key_written_twice_is_refused_naming_both_lines(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("lr: 0.1\ncnn:\n  epochs: 2\n  seed: 1\n  epochs: 3\n")
    with pytest.raises(ParamError, match=r"'epochs' written twice \(lines 3 and 5\)"):
        load_params(path)
    path.write_text("lr: 0.1\ncnn:\n  epochs: 2\nlr: 0.2\n")
    with pytest.raises(ParamError, match=r"'lr' written twice \(lines 1 and 4\)"):
        load_params(path)


def test_stage_refuses_a_typo_before_work(tmp_path):
    base = yaml.safe_load((ROOT / "params.yaml").read_text())
    write_params(tmp_path, with_params(base, **{"asr.max_frame": 9}))
    done = run_stage("preprocess_speech", tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: params.yaml: unknown key 'asr.max_frame' "
        "(did you mean 'asr.max_frames'?)"
    ]
