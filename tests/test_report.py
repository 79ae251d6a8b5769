"""The results report: runs beside references, figures, missing inputs, experiments."""

import json
import re
import runpy
import subprocess
from pathlib import Path

import pytest
import yaml
from helpers import stage_argv

from hw2.core.errors import DataError
from hw2.pipeline import dvc, runs
from hw2.pipeline.report import build_experiments_report, build_report
from hw2.pipeline.runs import (
    CNN_COLUMNS,
    CNN_REFERENCES,
    Column,
    Run,
    parse_exp_show,
    runs_table,
)

ROOT = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

PARAMS = {
    "lr": 0.001,
    "decoder": "lstm",
    "data": {"images": {"source": "sample"}, "speech": {"source": "sample"}},
    "cnn": {"maxpool": False},
    "asr": {"attention": "mclaurin", "cross_attention": "softmax"},
}


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def tsv(name: str, values: list[float]) -> str:
    return f"step\t{name}\n" + "".join(f"{i}\t{v}\n" for i, v in enumerate(values))


def write_params(root: Path, **changes) -> None:
    write(root / "params.yaml", yaml.safe_dump({**PARAMS, **changes}))


def make_project(root: Path) -> Path:
    """Every input of the report, tiny."""
    write_params(root)
    m = root / "metrics"
    cnn = {
        "val_acc": 0.61234,
        "test_acc": 0.59876,
        "test_acc_std": 0.012,
        "test_acc_ci95": [0.571, 0.6254],
    }
    write(m / "cnn.json", json.dumps(cnn))
    details = {
        "test_acc_per_class": {"CNV": 0.5, "DME": 0.75, "drusen": 0.25, "normal": 1.0},
        "train_loss": 0.9,
        "n_params": 224892,
        "seeds": 3,
    }
    write(m / "cnn_details.json", json.dumps(details))
    pairs = ["CNV,CNV", "DME,CNV", "drusen,normal", "normal,normal", "CNV,DME"]
    write(m / "cnn_confusion.csv", "actual,predicted\n" + "\n".join(pairs) + "\n")
    write(m / "train_cnn/plots/metrics/train/loss.tsv", tsv("loss", [1.3, 1.1, 0.9]))
    write(m / "train_cnn/plots/metrics/val/acc.tsv", tsv("acc", [0.4, 0.5, 0.61]))
    asr = {
        "loss": 1.5,
        "jaccard": 0.55,
        "cosine": 0.66,
        "damerau_levenshtein": 0.44,
        "cer": 0.33,
        "wer": 0.77,
    }
    write(m / "asr.json", json.dumps(asr))
    rows = [f"LJ{i:03d}\tsaid number {i}\tsad nmber {i}" for i in range(7)]
    rows[1] = "LJ001\ta | pipe\ta pipe"
    write(m / "asr_transcripts.tsv", "id\treference\thypothesis\n" + "\n".join(rows))
    plots = m / "train_asr/plots/metrics"
    write(plots / "train/loss.tsv", tsv("loss", [3.0, 2.0]))
    write(plots / "val/loss.tsv", tsv("loss", [3.2, 2.5]))
    write(plots / "val/cer.tsv", tsv("cer", [0.9, 0.6]))
    attention = {"head_dim": 16, "lengths": [256, 512, 1024, 2048, 4096], "ok": True}
    write(m / "attention_details.json", json.dumps(attention))
    (m / "attention_time.png").write_bytes(PNG_MAGIC)
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path)


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    """The report of a complete project, built once for the tests that only read."""
    return build_report(make_project(tmp_path_factory.mktemp("report")))


def image_targets(page: Path) -> list[Path]:
    return [
        page.parent / t for t in re.findall(r"!\[[^]]*\]\(([^)]+)\)", page.read_text())
    ]


def test_report_shows_runs_beside_references(page):
    text = page.read_text()
    assert page.relative_to(page.parents[1]) == Path("reports/results.md")
    assert "| workspace | sample | 0.001 | false | 0.6123 | 0.5988 |" in text
    assert "| *reference (full data)* | *full* | *0.01* | *true* | *0.8719* |" in text
    assert (
        "| workspace | sample | lstm | mclaurin | softmax | 1.5000 | 0.5500 | 0.6600 |"
        in text
    )
    assert (
        "*transformer* | *softmax* | *softmax* | *1.1604* | *0.7657* | *0.8661* | "
        "*0.6344*" in text
    )
    assert "`data.images.source: sample`" in text and "not comparable" in text
    assert "CNV 0.5000, DME 0.7500, drusen 0.2500, normal 1.0000" in text
    assert "over 3 seeds: 0.5988 (std 0.0120, 95 % interval 0.5710–0.6254" in text
    # Only the attention error PNG is missing.
    assert text.count("Not run yet") == 1
    assert "_Not run yet: metrics/attention_error.png is missing" in text


def test_report_figures_and_links_resolve(page):
    figures = sorted(p.name for p in (page.parent / "figures").iterdir())
    assert figures == ["asr_curves.png", "cnn_confusion.png", "cnn_curves.png"]
    for png in (page.parent / "figures").iterdir():
        assert png.read_bytes().startswith(PNG_MAGIC)
    targets = image_targets(page)
    assert len(targets) == 4  # three figures and the attention time plot
    assert all(t.is_file() for t in targets)


def test_report_figures_are_reproducible(page):
    # cache: false outputs live in git: equal inputs must not make a new PNG.
    first = (page.parent / "figures/cnn_curves.png").read_bytes()
    build_report(page.parents[1])
    assert (page.parent / "figures/cnn_curves.png").read_bytes() == first


def test_report_transcripts_first_five_escaped(page):
    text = page.read_text()
    assert "| `LJ001` | a \\| pipe | a pipe |" in text
    assert "`LJ004`" in text and "`LJ005`" not in text


def test_report_attention_numbers(page):
    text = page.read_text()
    assert "| `attention.head_dim` |" not in text  # keys are the file's own
    assert "| `head_dim` | 16 |" in text
    assert "| `lengths` | [256, 512, 1024, 2048, …] (5) |" in text


def test_report_with_nothing_run_says_so(tmp_path):
    write_params(tmp_path)
    text = build_report(tmp_path).read_text()
    for name in [
        "cnn.json",
        "asr.json",
        "asr_transcripts.tsv",
        "attention_details.json",
    ]:
        assert f"_Not run yet: metrics/{name} is missing" in text
    assert "*reference (full data)*" in text
    assert "| workspace |" not in text
    assert list((tmp_path / "reports/figures").iterdir()) == []


def test_report_full_data_note(tmp_path):
    write_params(
        tmp_path, data={"images": {"source": "full"}, "speech": {"source": "full"}}
    )
    text = build_report(tmp_path).read_text()
    assert "`data.speech.source: full`, the real OCTMNIST" in text


def test_report_bad_curve_names_file_and_line(project):
    bad = project / "metrics/train_cnn/plots/metrics/val/acc.tsv"
    write(bad, "step\tacc\n0\t0.1\n1\toops\n")
    with pytest.raises(DataError, match=r"acc\.tsv: line 3"):
        build_report(project)
    assert not (project / "reports/results.md").exists()


def test_report_bad_json_names_file(project):
    write(project / "metrics/asr.json", "{not json")
    with pytest.raises(DataError, match=r"asr\.json"):
        build_report(project)


def test_stage_script_writes_report_and_fails_in_one_line(
    tmp_path, monkeypatch, capsys
):
    write_params(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.argv", ["report.py", *stage_argv("report")])
    runpy.run_path(str(ROOT / "stages/report.py"), run_name="__main__")
    assert (tmp_path / "reports/results.md").is_file()
    write(tmp_path / "metrics/cnn.json", "[]")
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(ROOT / "stages/report.py"), run_name="__main__")
    assert exit_info.value.code == 2
    assert (
        capsys.readouterr().err == "error: metrics/cnn.json: expected a JSON object\n"
    )


def exp_record(rev, name, lr, val_acc=None, experiments=None):
    metrics = {}
    if val_acc is not None:
        metrics = {"metrics/cnn.json": {"data": {"val_acc": val_acc, "test_acc": 0.5}}}
    params = {"params.yaml": {"data": {"lr": lr, "cnn": {"maxpool": True}}}}
    data = {"rev": rev, "params": params, "metrics": metrics}
    return {"rev": rev, "name": name, "data": data, "experiments": experiments}


EXP_SHOW = [
    exp_record("workspace", None, 0.01, 0.8),
    exp_record(
        "a" * 40,
        "main",
        0.01,
        0.8,
        experiments=[
            {"revs": [exp_record("b" * 40, "exp-fast", 0.1, 0.7)], "name": "exp-fast"},
            {
                "revs": [exp_record("c" * 40, None, 0.001)],
                "executor": {"state": "queued"},
                "name": None,
            },
            {
                "revs": [exp_record("d" * 40, "broken", 0.5, 0.1)],
                "executor": {"state": "failed"},
            },
            {"revs": []},
            "junk",
        ],
    ),
    {"rev": "e" * 40, "name": None, "error": {"msg": "x"}, "data": None},
]


def test_parse_exp_show():
    runs = parse_exp_show(EXP_SHOW)
    names = [r.name for r in runs]
    assert names == [
        "workspace",
        "main",
        "exp-fast",
        "ccccccc (queued)",
        "broken (failed)",
    ]
    assert runs[2].params == {"lr": 0.1, "cnn.maxpool": True}
    assert runs[2].metrics["metrics/cnn.json"]["val_acc"] == 0.7
    assert parse_exp_show({"not": "a list"}) == []


def test_runs_table_merges_equal_rows_and_skips_runs_without_results():
    text = runs_table(parse_exp_show(EXP_SHOW), CNN_COLUMNS, CNN_REFERENCES)
    assert "| workspace, main | – | 0.01 | true | 0.8000 | 0.5000 |" in text
    assert "| exp-fast | – | 0.1 | true | 0.7000 |" in text
    assert "queued" not in text  # no results yet
    assert text.count("*reference (full data)*") == 4


def fake_dvc(monkeypatch, returncode=0, stdout="", stderr="", error=None):
    calls = []

    def run(args, **kwargs):
        calls.append((args, kwargs))
        if error is not None:
            raise error
        return subprocess.CompletedProcess(args, returncode, stdout, stderr)

    monkeypatch.setattr(dvc.subprocess, "run", run)
    return calls


def test_experiments_report_lists_runs(project, monkeypatch):
    calls = fake_dvc(monkeypatch, stdout=json.dumps(EXP_SHOW))
    text = build_experiments_report(project).read_text()
    assert calls[0][0] == ["dvc", "exp", "show", "--json"]
    assert calls[0][1]["env"]["DVC_NO_ANALYTICS"] == "1"
    assert "| exp-fast | – | 0.1 | true | 0.7000 |" in text
    assert "No experiments listed" not in text
    assert text.count("_No run has these results yet._") == 1  # no ASR metrics


def test_experiments_report_of_another_commit(project, monkeypatch):
    calls = fake_dvc(monkeypatch, stdout=json.dumps(EXP_SHOW))
    build_experiments_report(project, rev="abc1234")
    assert calls[0][0] == ["dvc", "exp", "show", "--json", "--rev", "abc1234"]


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"error": FileNotFoundError("dvc")}, "could not run"),
        ({"returncode": 1, "stderr": "ERROR: not a git repo\n"}, "not a git repo"),
        ({"stdout": "Nothing"}, "printed no JSON"),
    ],
)
def test_experiments_report_falls_back_to_workspace(
    project, monkeypatch, kwargs, reason
):
    fake_dvc(monkeypatch, **kwargs)
    text = build_experiments_report(project).read_text()
    assert "_No experiments listed: `dvc exp show --json`" in text and reason in text
    assert "| workspace | sample | 0.001 | false | 0.6123 | 0.5988 |" in text


def test_run_value_reads_nested_metrics():
    run = Run("r", {"lr": 0.1}, {"m.json": {"a": {"b": 2}}})
    assert run.value(Column("", "m.json", "a.b")) == 2
    assert run.value(Column("", "m.json", "a.c")) is None
    assert run.value(Column("", "other.json", "a")) is None


def test_report_stage_deps_hold_the_files_it_reads():
    deps = set(
        yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["report"]["deps"]
    )
    read = {
        runs.CNN_JSON,
        runs.CNN_DETAILS,
        runs.CNN_CONFUSION,
        runs.CNN_PLOTS,
        runs.ASR_JSON,
        runs.ASR_TRANSCRIPTS,
        runs.ASR_PLOTS,
        runs.ATTENTION_DETAILS,
    }
    assert read <= deps
