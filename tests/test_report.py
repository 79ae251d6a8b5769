"""The results report: runs beside references, figures, missing inputs, experiments."""

import json
import re
import runpy
import shutil
import subprocess
from pathlib import Path

import asr_seed_runs
import pytest
import yaml
from helpers import squeezed, stage_argv

from hw2.core.errors import DataError, Hw2Error
from hw2.pipeline import catalog, experiments, report
from hw2.pipeline.experiments import (
    Verdict,
    build_experiments_report,
    render_experiments,
    summary,
)
from hw2.pipeline.report import build_report
from hw2.pipeline.runs import CNN, get, runs_frame, value, varied
from hw2.pipeline.seed_record import seed_groups

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
    """params.yaml, in a DVC project with this one's plots (the report's charts)."""
    write(root / "params.yaml", yaml.safe_dump({**PARAMS, **changes}))
    if not (root / ".dvc").exists():
        subprocess.run(["dvc", "init", "--no-scm", "-q"], cwd=root, check=True)
        shutil.copytree(ROOT / ".dvc/plots", root / ".dvc/plots")
        shutil.copy(ROOT / "dvc.yaml", root)


def make_project(root: Path) -> Path:
    """Every input of the report, tiny."""
    write_params(root)
    m = root / "metrics"
    cnn = {
        "val_acc": 0.61234,
        "test_acc": 0.59876,
        "test_acc_per_class": {"CNV": 0.5, "DME": 0.75, "drusen": 0.25, "normal": 1.0},
        "train_loss": 0.9,
        "n_params": 224892,
        "seeds": 3,
        "test_acc_std": 0.012,
        "test_acc_ci95": [0.571, 0.6254],
    }
    write(m / "cnn.json", json.dumps(cnn))
    pairs = ["CNV,CNV", "DME,CNV", "drusen,normal", "normal,normal", "CNV,DME"]
    write(m / "cnn_confusion.csv", "actual,predicted\n" + "\n".join(pairs) + "\n")
    for name, values in (
        ("train/loss", [1.3, 1.1, 0.9]),
        ("val/acc", [0.4, 0.5, 0.61]),
    ):
        for suffix, change in (("", 0), ("_min", -0.1), ("_max", 0.1)):
            field = name.split("/")[1] + suffix
            curve = tsv(field, [v + change for v in values])
            write(m / f"train_cnn/plots/metrics/{name}{suffix}.tsv", curve)
    asr = {
        "loss": 1.5,
        "jaccard": 0.55,
        "cosine": 0.66,
        "damerau_levenshtein": 0.44,
        "cer": 0.33,
        "wer": 0.77,
        "n_params": 1000,
        "decoder": "lstm",
        "attention": "mclaurin",
    }
    write(m / "asr.json", json.dumps(asr))
    rows = [f"LJ{i:03d}\tsaid number {i}\tsad nmber {i}" for i in range(7)]
    rows[1] = "LJ001\ta | pipe\ta pipe"
    rows[2] = f"LJ002\t{'a long reference ' * 5}end\t{'a long hypothesis ' * 5}end"
    write(m / "asr_transcripts.tsv", "id\treference\thypothesis\n" + "\n".join(rows))
    plots = m / "train_asr/plots/metrics"
    write(plots / "train/loss.tsv", tsv("loss", [3.0, 2.0]))
    write(plots / "val/loss.tsv", tsv("loss", [3.2, 2.5]))
    write(plots / "val/cer.tsv", tsv("cer", [0.9, 0.6]))
    write(plots / "val/similarity.tsv", tsv("similarity", [0.3, 0.5]))
    attention = {
        "speedup_at_max_len": 12.5,
        "speedup_at_max_len_causal": 4.25,
        "crossover_len": 1024,
        "rel_error": {"1": 0.8, "3": 0.4},
        "rel_error_causal": {"1": 0.7, "3": 0.3},
        "settings": {"head_dim": 16, "threads": 1},
    }
    write(m / "attention.json", json.dumps(attention))
    rows = ["256,softmax,0.0001", "256,mclaurin,0.0002"]
    rows += ["4096,softmax,0.02", "4096,mclaurin,0.0016"]
    write(m / "attention_time.csv", "length,method,seconds\n" + "\n".join(rows))
    write(m / "attention_memory.csv", "length,method,peak_bytes\n4096,softmax,2097152")
    rows = ["1,mclaurin,0.8", "3,mclaurin,0.4"]
    write(m / "attention_error.csv", "terms,method,rel_error\n" + "\n".join(rows))
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


def table_after(text: str, heading: str) -> list[str]:
    """The table rows under a heading, as lines."""
    part = text.split(heading, 1)[1].split("\n\n", 2)[1]
    return [line for line in part.splitlines() if line.startswith("|")]


def test_report_groups_the_workspace_with_the_references(page):
    text = squeezed(page.read_text())
    assert page.relative_to(page.parents[1]) == Path("reports/results.md")
    cnn = text.split("## CNN", 1)[1].split("## Speech", 1)[0]
    assert table_after(cnn, "### Varying `lr`") == [
        "| run | data | lr | seeds | val acc | ± std | test acc | ± std "
        "| 95 % interval |",
        "|---|---|---|---|---|---|---|---|---|",
        "| workspace | sample | 0.001 | 3 | 0.6123 | – | 0.5988 | 0.0120 | "
        "[0.5710, 0.6254] |",
        "| *homework report (full data)* | *full* | *0.1* | – | *0.7322* | – | "
        "*0.7013* | – | – |",
        "| *homework report (full data)* | *full* | *0.01* | – | *0.8719* | – | "
        "*0.8280* | – | – |",
        "| *homework report (full data)* | *full* | *0.001* | – | *0.7649* | – | "
        "*0.7505* | – | – |",
    ]
    assert "### Varying `cnn.maxpool`" in cnn and "| *full* | *false* |" in cnn
    asr = text.split("## Speech", 1)[1]
    (row,) = [r for r in table_after(asr, "### Varying `decoder`") if "workspace" in r]
    assert row == (
        "| workspace | sample | lstm | 1 | 0.3300 | – | – | 0.7700 | 0.5500 | 0.6600 "
        "| 0.4400 | 1.500 |"
    )
    assert "`data.images.source: sample`" in text and "not comparable" in text
    assert "| drusen | 0.2500 |" in text
    assert "± is the standard deviation over training seeds" in text
    assert "Not run yet" not in text


CHARTS = {  # dvc.yaml's plots by the report's section
    "CNN": ["CNN training loss", "CNN validation accuracy", "CNN test confusion"],
    "Speech": ["ASR loss", "ASR validation CER", "ASR validation similarity"],
    "Linear attention": [
        "Attention forward time",
        "Attention peak memory",
        "Attention approximation error",
    ],
}


def test_report_draws_each_chart_of_dvc_yaml_in_its_study(page):
    text = page.read_text()
    sections = {s.split("\n", 1)[0]: s for s in text.split("\n## ")[1:]}
    for heading, names in CHARTS.items():
        (section,) = [s for h, s in sections.items() if h.startswith(heading)]
        assert re.findall(r"!\[([^]]*)\]", section) == names
    figures = sorted(p.name for p in (page.parent / "figures").iterdir())
    assert figures == sorted(
        f"{report.slug(n)}.png" for names in CHARTS.values() for n in names
    )
    for png in (page.parent / "figures").iterdir():
        assert png.read_bytes().startswith(PNG_MAGIC)
    targets = image_targets(page)
    assert len(targets) == 9 and all(t.is_file() for t in targets)


def test_report_figures_are_reproducible(page):
    # cache: false outputs live in git: equal inputs must not make a new PNG.
    first = (page.parent / "figures/cnn-training-loss.png").read_bytes()
    build_report(page.parents[1])
    assert (page.parent / "figures/cnn-training-loss.png").read_bytes() == first


def test_a_chart_missing_a_file_is_not_run_yet(project):
    (project / "metrics/train_cnn/plots/metrics/val/acc_min.tsv").unlink()
    text = build_report(project).read_text()
    missing = "metrics/train_cnn/plots/metrics/val/acc_min.tsv"
    assert f"*Not run yet: {missing} is missing.*" in text
    assert "![CNN validation accuracy]" not in text and "![CNN training loss]" in text
    assert not (project / "reports/figures/cnn-validation-accuracy.png").exists()


def test_report_transcripts_first_five_escaped(page):
    text = squeezed(page.read_text())
    assert "| `LJ001` | a \\| pipe | a pipe |" in text
    # transcripts are shown whole, not cut at a cell's usual 60 characters
    assert f"| {'a long reference ' * 5}end | {'a long hypothesis ' * 5}end |" in text
    assert "`LJ004`" in text and "`LJ005`" not in text


def test_report_attention_table_with_units(page):
    text = squeezed(page.read_text())
    assert "| speed-up of McLaurin at the longest length | 12.50× | 4.250× |" in text
    assert "| McLaurin faster from length (measured, tokens) | 1,024 | – |" in text
    assert "Settings: head dim 16, threads 1." in text
    header = (
        "| L (tokens) | softmax (ms) | McLaurin (ms) | speed-up | causal softmax (ms) "
        "| causal McLaurin (ms) | causal speed-up | softmax peak (MiB) | "
        "McLaurin peak (MiB) |"
    )
    assert header in text
    assert "| 4,096 | 20.000 | 1.600 | 12.50× | – | – | – | 2.00 | – |" in text
    assert "| 3 | 0.4 | 0.3 |" in text


def test_report_with_nothing_run_says_so(tmp_path):
    write_params(tmp_path)
    text = squeezed(build_report(tmp_path).read_text())
    for name in ["cnn.json", "asr.json", "asr_transcripts.tsv", "attention.json"]:
        assert f"*Not run yet: metrics/{name} is missing" in text
    assert "*Not run yet: metrics/cnn_confusion.csv is missing.*" in text
    assert "*homework report (full data)*" in text
    assert "| workspace |" not in text
    assert list((tmp_path / "reports/figures").iterdir()) == []


def test_report_full_data_note(tmp_path):
    write_params(
        tmp_path, data={"images": {"source": "full"}, "speech": {"source": "full"}}
    )
    text = squeezed(build_report(tmp_path).read_text())
    assert "`data.speech.source: full`, the real OCTMNIST" in text


def test_report_unreadable_curve_names_its_file(project):
    bad = project / "metrics/train_cnn/plots/metrics/val/acc.tsv"
    bad.write_bytes(b"step\tacc\n0\t\xff\n")
    with pytest.raises(DataError, match=r"val/acc\.tsv: .*not valid utf8"):
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


def dvc_row(name, rev, typ, lr, state=None, val_acc=None):
    """A row of DVC's experiment table as `dvc.api.exp_show()` gives it: text."""
    row = {"Experiment": name, "rev": rev, "typ": typ, "State": state}
    row |= {"val_acc": val_acc, "test_acc": "0.5" if val_acc else None}
    return row | {"lr": lr, "cnn.maxpool": "True"}


# the workspace, the commit, a finished experiment, a queued one and a failed
# one: DVC shows the failed and queued runs with their baseline's numbers
ROWS = [
    dvc_row("", "workspace", "baseline", "0.01", val_acc="0.8"),
    dvc_row("", "main", "baseline", "0.01", val_acc="0.8"),
    dvc_row("exp-fast", "bbbbbbb", "branch_commit", "0.1", "Success", "0.7"),
    dvc_row("", "ccccccc", "branch_base", "0.001", "Queued", "0.8"),
    dvc_row("broken", "ddddddd", "branch_base", "-1", "Failed", "0.8"),
]
FRAME = runs_frame(ROWS, ["val_acc", "test_acc"])


def test_runs_frame_one_row_per_run_failed_and_queued_without_numbers():
    assert FRAME["name"].tolist() == [
        "workspace",
        "main",
        "exp-fast",
        "ccccccc",
        "broken",
    ]
    assert FRAME["state"].tolist() == ["success"] * 3 + ["queued", "failed"]
    assert FRAME.loc[2, "lr"] == 0.1 and FRAME.loc[2, "cnn.maxpool"] is True
    assert FRAME["val_acc"].tolist()[:3] == [0.8, 0.8, 0.7]
    assert FRAME["val_acc"].iloc[3:].isna().all()
    assert FRAME["test_acc"].iloc[3:].isna().all()


def test_runs_grouped_by_what_they_varied():
    assert (
        varied(FRAME, FRAME.loc[1], CNN).tolist() == [(), (), ("lr",)] + [("lr",)] * 2
    )


def test_experiments_report_shows_a_failed_run_as_failed_without_numbers(
    project, monkeypatch
):
    monkeypatch.setattr(experiments, "exp_frame", lambda root, rev: FRAME)
    text = squeezed(build_experiments_report(project).read_text())
    lr_table = text.split("### Varying `lr`", 1)[1].split("###", 1)[0]
    assert "| main | – | 0.01 | 1 | 0.8000 | – | 0.5000 |" in lr_table
    assert "| exp-fast | – | 0.1 | 1 | 0.7000 | – | 0.5000 |" in lr_table
    assert "| broken (failed) | – | -1 | – | – | – | – | – | – |" in lr_table
    assert "| ccccccc (queued) | – | 0.001 | – | – | – | – | – | – |" in lr_table
    assert "*homework report (full data)*" in lr_table
    assert "No experiments listed" not in text
    assert text.count("*No run has these results yet.*") == 1  # no ASR metrics


def test_experiments_report_falls_back_to_workspace(project, monkeypatch):
    def fail(root, rev):
        raise Hw2Error("`dvc exp show` failed: not a git repository")

    monkeypatch.setattr(experiments, "exp_frame", fail)
    text = squeezed(build_experiments_report(project).read_text())
    assert "*No experiments listed: &#96;dvc exp show&#96; failed: not a" in text
    assert "| workspace | sample | 0.001 | 3 | 0.6123 | – | 0.5988 |" in text


def test_values_read_by_file_then_alone():
    run = {"metrics/m.json:a": 2, "b": 3, "seeds": 4}
    assert get(run, "a", "metrics/m.json") == 2 and get(run, "b", "x.json") == 3
    assert get(run, "c", "metrics/m.json") is None
    assert value(run, "metrics/m.json", "a", "seeds") == 4


def test_report_stage_deps_hold_the_files_it_reads():
    deps = set(
        yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["report"]["deps"]
    )
    # a details file another layout of the metrics does not have is not read
    present = {p for p in report.INPUTS if (ROOT / p).exists()}
    assert {catalog.CNN_JSON, catalog.ASR_JSON, catalog.ATTENTION_TIME} <= present
    assert present <= deps


def test_report_reads_the_details_files_where_they_exist(project):
    """Per-class accuracy and the seed count from cnn_details.json, the benchmark's
    record from attention_details.json, when the evaluations write them apart."""
    cnn = json.loads((project / "metrics/cnn.json").read_text())
    details = {k: cnn.pop(k) for k in ("test_acc_per_class", "seeds", "n_params")}
    details["test_acc_per_class"]["drusen"] = 0.125
    write(project / "metrics/cnn.json", json.dumps(cnn))
    write(project / "metrics/cnn_details.json", json.dumps(details))
    bench = json.loads((project / "metrics/attention.json").read_text())
    write(project / "metrics/attention_details.json", json.dumps(bench))
    write(project / "metrics/attention.json", json.dumps({"speedup": 12.5}))
    text = squeezed(build_report(project).read_text())
    assert "| drusen | 0.1250 |" in text and "(mean of 3 seeds;" in text
    assert "| speed-up of McLaurin at the longest length | 12.50× | 4.250× |" in text


# reports/experiments.md with ASR seeds: one row per configuration, the answer.


@pytest.fixture(scope="module")
def seeds_repo(tmp_path_factory):
    """The homework's ASR runs (3 configurations x 3 seeds) as commits."""
    repo = asr_seed_runs.init(tmp_path_factory.mktemp("seeds") / "repo")
    return repo, asr_seed_runs.homework_runs(repo)


def test_seed_groups_hold_runs_that_differ_in_the_seed_alone(seeds_repo):
    repo, runs = seeds_repo
    groups = seed_groups(runs, repo)
    assert [(g.runs["name"].tolist(), g.seeds) for g in groups] == [
        (
            [
                "asr-transformer-seed-42",
                "asr-transformer-seed-43",
                "asr-transformer-seed-44",
            ],
            [42, 43, 44],
        ),
        (["asr-lstm-seed-42", "asr-lstm-seed-43", "asr-lstm-seed-44"], [42, 43, 44]),
        (
            ["asr-mclaurin-seed-42", "asr-mclaurin-seed-43", "asr-mclaurin-seed-44"],
            [42, 43, 44],
        ),
    ]
    # the commit ran the transformer with seed 42: the same run, listed once
    assert groups[0].same[:2] == ["main", "asr-transformer-seed-42"]
    metrics = groups[1].metrics
    lstm = groups[1].runs
    assert metrics["cer_per_seed"] == lstm[f"{catalog.ASR_JSON}:cer"].tolist()
    assert metrics["loss_per_seed"] == lstm[f"{catalog.ASR_JSON}:loss"].tolist()
    assert metrics["seeds"] == 3 and len(groups[1].clip_ids) == 12


def test_a_cnn_run_that_kept_the_asr_params_is_not_named_for_the_asr(tmp_path):
    # `dvc exp show` lists the newest first: the grid's CNN runs, which kept the
    # baseline's ASR (transformer, seed 42), come before asr-transformer-seed-42
    repo = asr_seed_runs.init(tmp_path / "repo")
    runs = [
        asr_seed_runs.commit_run(repo, "main", "transformer", 42, kind="baseline"),
        asr_seed_runs.commit_run(repo, "cnn-nopool-lr-0.01", "transformer", 42),
        asr_seed_runs.commit_run(repo, "asr-transformer-seed-42", "transformer", 42),
        asr_seed_runs.commit_run(repo, "asr-transformer-seed-43", "transformer", 43),
    ]
    (group,) = seed_groups(asr_seed_runs.frame(runs), repo)
    assert group.runs["name"].tolist() == [
        "asr-transformer-seed-42",
        "asr-transformer-seed-43",
    ]
    assert len(group.same) == 4  # the commit and the CNN run: the same ASR run


def test_code_changed_between_seeds_makes_two_groups(tmp_path):
    repo = asr_seed_runs.init(tmp_path / "repo")
    runs = [
        asr_seed_runs.commit_run(repo, "a", "lstm", 42),
        asr_seed_runs.commit_run(repo, "b", "lstm", 43, code="c1"),
        asr_seed_runs.commit_run(repo, "c", "lstm", 44, code="c1"),
    ]
    groups = seed_groups(asr_seed_runs.frame(runs), repo)
    assert [g.seeds for g in groups] == [[42], [43, 44]]


def test_experiments_report_shows_seeds_as_one_row_and_answers(seeds_repo):
    repo, runs = seeds_repo
    text = squeezed(render_experiments(runs, None, seed_groups(runs, repo)))
    asr = text.split("## Speech recognition", 1)[1].split("## The homework", 1)[0]
    decoder = table_after(asr, "### Varying `decoder`")
    assert [r.split(" | ")[0] for r in decoder] == [
        "| run",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        "| asr-transformer (seeds 42, 43, 44)",
        "| asr-lstm (seeds 42, 43, 44)",
        "| *homework report (full data)*",
        "| *homework report (full data)*",
    ]
    # three seeds each, the mean over seeds with its std and interval
    assert decoder[3].split(" | ")[3] == "3" and "asr.seed" not in asr
    assert "Varying `asr.seed`" not in asr
    answer = text.split("## The homework's answer", 1)[1]
    decoders, mclaurin = answer.split("### Does McLaurin")
    cer = table_after(decoders, "the same code and data.")[2]
    assert cer.startswith("| CER | ") and "| Transformer better | – |" in cer
    assert "**Yes.** Against the homework report (full data: Jaccard 0.7149" in decoders
    assert "these runs agree on Jaccard, cosine, D-L." in decoders
    # McLaurin errs about as often as softmax: a difference inside the seeds' spread
    assert "**Not beyond seed noise.**" in mclaurin
    assert "homework report" not in mclaurin  # it did not compare these


def test_the_answer_waits_for_runs_of_both_configurations(seeds_repo):
    repo, runs = seeds_repo
    lstm_only = runs[runs["name"].str.contains("lstm")]
    text = squeezed(render_experiments(lstm_only, None, seed_groups(lstm_only, repo)))
    assert text.count("yet: run `make homework`.*") == 2


def test_one_seed_each_never_calls_a_win(tmp_path):
    repo = asr_seed_runs.init(tmp_path / "repo")
    runs = asr_seed_runs.homework_runs(repo, ("transformer", "lstm"), seeds=(42,))
    text = squeezed(render_experiments(runs, None, seed_groups(runs, repo)))
    answer = text.split("### Does the Transformer", 1)[1].split("###", 1)[0]
    assert "| noise unknown: one seed |" in answer
    assert "Transformer better" not in answer.split("|---|")[1].split("**")[0]
    assert "**Cannot tell from one seed.**" in answer


def test_the_answer_is_computed_from_the_intervals():
    better = Verdict("cer", -0.10, -0.15, -0.05, 3)  # fewer errors, beyond noise
    inside = Verdict("wer", 0.02, -0.01, 0.05, 3)
    worse = Verdict("jaccard", -0.05, -0.08, -0.02, 3)
    assert summary([better, inside], {}) == "**Yes, on CER.**"
    assert summary([better, worse], {}) == "**Mixed.**"
    # McLaurin's question is whether it is worse: more errors say yes
    assert summary([Verdict("cer", 0.1, 0.05, 0.15, 3)], {}, "worse") == "**Yes.**"
    assert summary([inside], {}, "worse") == "**Not beyond seed noise.**"
    assert summary([Verdict("cer", 0.1, 0.05, 0.15, 1)], {}) == (
        "**Cannot tell from one seed.**"
    )
    # the homework report's direction beside this one's
    ref = {"jaccard": (0.7149, 0.7657)}
    assert summary([worse, inside], ref) == (
        "**No, on Jaccard.** Against the homework report (full data: Jaccard "
        "0.7149 → 0.7657), these runs disagree on Jaccard."
    )
