"""The pull-request comment (and `make diff`): a temporary git + DVC repository with
two commits whose metrics differ inside and outside their noise, and plots whose
files share a column name."""

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hw2.core.errors import Hw2Error
from hw2.pipeline import runs
from hw2.pipeline.compare import HEADLINES, metric_paths
from hw2.pipeline.plots import Curve, PlotData, PlotSpec
from hw2.pipeline.pr_comment import (
    MARKER,
    MAX_CURVE_ROWS,
    actions_run_url,
    build_comment,
    diff_table,
    plots_section,
    sparkline,
)

ROOT = Path(__file__).resolve().parents[1]
LIVE = "metrics/train/plots/metrics"

DVC_YAML = f"""\
stages:
  evaluate:
    cmd: "true"
    params:
      - lr
    metrics:
      - metrics/cnn.json:
          cache: false
      - metrics/asr.json:
          cache: false
    plots:
      - {LIVE}:
          cache: false
          x: step
      - metrics/confusion.csv:
          cache: false
          template: confusion
          x: actual
          y: predicted
plots:
  - Loss:
      x: step
      y:
        {LIVE}/train/loss.tsv: loss
        {LIVE}/val/loss.tsv: loss
  - Validation scores:
      x: step
      y:
        {LIVE}/val/similarity.tsv: similarity
        {LIVE}/val/cer.tsv: cer
"""


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    proc = subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    )
    return proc.stdout


def tsv(name: str, values: list[float]) -> str:
    return f"step\t{name}\n" + "".join(f"{i}\t{v}\n" for i, v in enumerate(values))


BASE = {
    "lr": 0.1,
    "cnn": {
        "test_acc": 0.70,
        "test_acc_ci95": [0.67, 0.73],
        "val_acc": 0.70,
        "val_acc_std": 0.01,
        "val_acc_per_seed": [0.69, 0.70, 0.71],
        "n_params": 10,
    },
    "asr": {
        "loss": 0.9476169284427138,
        "cer": 0.30,
        "cer_ci95": [0.28, 0.32],
        "wer": 0.50,
        "decoder": "transformer",
    },
    "curves": {"train/loss": [1.2, 1.0, 0.9], "val/loss": [1.3, 1.2, 1.1]},
}
HEAD = {
    "lr": 0.01,
    "cnn": {  # test_acc moves inside its noise, val_acc beyond it (3 seeds)
        "test_acc": 0.72,
        "test_acc_ci95": [0.69, 0.75],
        "val_acc": 0.8125,
        "val_acc_std": 0.01,
        "val_acc_per_seed": [0.80, 0.81, 0.82],
        "n_params": 10,
    },
    "asr": {  # loss moves in the 7th digit; CER beyond noise; WER has no interval
        "loss": 0.9476170001,
        "cer": 0.20,
        "cer_ci95": [0.18, 0.22],
        "wer": 0.60,
        "decoder": "transformer",
    },
    "curves": {"train/loss": [1.2, 0.8, 0.5], "val/loss": [1.3, 1.0, 0.7]},
}


def commit_results(repo: Path, results: dict) -> None:
    (repo / "params.yaml").write_text(f"lr: {results['lr']}\n")
    (repo / "metrics/cnn.json").write_text(json.dumps(results["cnn"]))
    (repo / "metrics/asr.json").write_text(json.dumps(results["asr"]))
    for name, values in results["curves"].items():
        path = repo / LIVE / f"{name}.tsv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(tsv("loss", values))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"lr {results['lr']}")


def untracked(repo: Path) -> set[str]:
    """Files git does not track, ignored ones included (DVC's own .dvc/ aside)."""
    out = git(repo, "status", "--porcelain", "--ignored", "--untracked-files=all")
    return {line[3:] for line in out.splitlines() if not line[3:].startswith(".dvc/")}


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A git + DVC repo: two commits of metrics, params and curves."""
    repo = tmp_path_factory.mktemp("pr") / "repo"
    (repo / "metrics").mkdir(parents=True)
    git(repo, "init", "-q")
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "DVC_NO_ANALYTICS": "1",
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
    }
    subprocess.run(["dvc", "init", "-q"], cwd=repo, env=env, check=True)
    (repo / "dvc.yaml").write_text(DVC_YAML)
    (repo / "metrics/confusion.csv").write_text("actual,predicted\na,a\nb,b\n")
    scores = repo / LIVE / "val"
    scores.mkdir(parents=True)
    (scores / "similarity.tsv").write_text(tsv("similarity", [0.5, 0.6]))
    (scores / "cer.tsv").write_text(tsv("cer", [0.4, 0.3]))
    commit_results(repo, BASE)
    (scores / "cer.tsv").write_text(tsv("cer", [0.4, 0.2]))
    commit_results(repo, HEAD)
    return repo


@pytest.fixture(scope="module")
def comment(repo, tmp_path_factory) -> tuple[str, Path, set[str]]:
    """The CLI run once against the first commit: text, plots folder, new files."""
    out = tmp_path_factory.mktemp("out") / "comment.md"
    before = untracked(repo)
    argv = ["pr_comment.py", "--base", "HEAD~1", "--out", str(out)]
    argv += ["--plots-dir", "plots", "--artifact-url", "https://example.invalid/run/1"]
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(repo)
        mp.setattr("sys.argv", argv)
        runpy.run_path(str(ROOT / "scripts/pr_comment.py"), run_name="__main__")
    return out.read_text(), repo / "plots", untracked(repo) - before


def table_rows(text: str) -> list[list[str]]:
    """The cells of every Markdown table row (spacing ignored)."""
    return [
        [p.strip() for p in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith("|") and not line.startswith("|---")
    ]


def row_of(text: str, *first: str) -> list[str]:
    (row,) = [r for r in table_rows(text) if r[: len(first)] == list(first)]
    return row


def test_headlines_lead_with_noise_labels(comment):
    text, _, _ = comment
    assert text.startswith(MARKER + "\n")
    head = text[: text.index("<details>")]
    assert row_of(head, "CNN test accuracy") == [
        "CNN test accuracy",
        "0.7 ± 0.03",
        "0.72 ± 0.03",
        "+0.02",
        "within noise",
    ]
    assert row_of(head, "ASR test CER")[3:] == ["-0.1", "**beyond noise**"]
    assert row_of(head, "ASR test WER")[3:] == ["+0.1", "no interval"]
    order = [r[0] for r in table_rows(head)[1:]]
    assert order == ["CNN test accuracy", "ASR test CER", "ASR test WER"]


def test_other_metrics_folded_without_noise_keys_or_tiny_changes(comment):
    text, _, _ = comment
    details = text[text.index("<details>") : text.index("</details>")]
    assert "1 other metric changed (1 beyond noise); 2 unchanged" in details
    row = row_of(details, "`metrics/cnn.json`", "val_acc")
    assert row[2:] == ["0.7 ± 0.011", "0.8125 ± 0.011", "+0.1125", "**beyond noise**"]
    # the loss moved in the 7th digit: not a change; interval keys are no rows
    assert "loss" not in details and "-0.0" not in text
    body = text.split("---\n")[0]  # the footer names the conventions
    assert "_ci95" not in body and "_std" not in body and "per_seed" not in body
    assert row_of(text, "params.yaml", "lr")[2:] == ["0.1", "0.01"]


def test_each_curve_once_each_series_its_own(comment):
    text, _, _ = comment
    plot_rows = [r for r in table_rows(text) if len(r) == 7]
    assert [r[:2] for r in plot_rows[1:]] == [
        ["Loss", "train/loss"],
        ["Loss", "val/loss"],
        ["Validation scores", "cer"],
    ]
    assert row_of(text, "Loss", "train/loss")[2:] == [
        "0.9",
        "0.5",
        "-0.4",
        "█▆▅",
        "█▄▁",
    ]
    assert row_of(text, "Loss", "val/loss")[2:5] == ["1.1", "0.7", "-0.4"]
    assert "dvc_inferred_y_value" not in text
    assert f"{LIVE}/" not in text  # no curve again under its file's path
    assert "1 plot unchanged" in text
    assert "`metrics/confusion.csv`" in text


def test_pngs_in_plots_dir_and_nothing_else_written(comment):
    text, plots_dir, new_files = comment
    pngs = sorted(p.name for p in plots_dir.iterdir())
    assert pngs == ["Loss.png", "Validation_scores.png"]
    assert (plots_dir / "Loss.png").read_bytes().startswith(b"\x89PNG")
    assert "(https://example.invalid/run/1)" in text
    assert new_files == {"plots/Loss.png", "plots/Validation_scores.png"}
    assert "beyond noise" in text.split("---")[-1]  # the rule is in the footer


def test_make_diff_prints_the_comment(repo, capsys):
    before = untracked(repo)
    argv = ["pr_comment.py", "--base", "HEAD~1"]
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(repo)
        mp.setattr("sys.argv", argv)
        runpy.run_path(str(ROOT / "scripts/pr_comment.py"), run_name="__main__")
    printed = capsys.readouterr().out
    assert printed.startswith(MARKER) and "CNN test accuracy" in printed
    assert untracked(repo) == before


def test_unknown_base_is_one_clear_error(repo):
    with pytest.raises(
        Hw2Error, match="base revision 'no-such-branch' is not a commit"
    ):
        build_comment("no-such-branch", root=repo)


def test_many_changed_curves_stay_short():
    def plot(i):
        curve = Curve("loss", [(0.0, 1.0)], [(0.0, 0.5)])
        return PlotData(PlotSpec(f"p{i}", ()), "changed", [curve])

    same = [PlotData(PlotSpec(f"s{i}", ()), "unchanged") for i in range(50)]
    lines = plots_section([plot(i) for i in range(40)] + same, "main", None, None)
    shown = "\n".join(lines).split("<details>")[0]
    assert len(table_rows(shown)) == 1 + MAX_CURVE_ROWS
    assert "34 more curves changed" in "\n".join(lines)
    assert "50 plots unchanged" in "\n".join(lines)


def test_headlines_and_report_paths_are_declared_in_dvc_yaml():
    dvc_yaml = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    declared = set(metric_paths(dvc_yaml))
    assert {h.path for h in HEADLINES} <= declared
    assert {runs.CNN_JSON, runs.ASR_JSON, runs.ATTENTION_JSON} <= declared


def test_diff_table_empty_when_header_only():
    header = "| Path | Param | HEAD | workspace |\n|---|---|---|---|\n"
    assert diff_table(header) is None
    assert diff_table("") is None
    row = header + "| params.yaml | lr | 0.1 | 0.2 |\n"
    assert diff_table("\n" + row + "\n") == row.strip()


def test_sparkline_scales_and_shortens():
    assert sparkline([0, 1, 2], 0, 2) == "▁▅█"
    assert sparkline([1, 1], 1, 1) == "▄▄"
    assert sparkline([], 0, 1) == ""
    assert len(sparkline(list(range(100)), 0, 99)) == 24


def test_actions_run_url():
    env = {
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "o/r",
        "GITHUB_RUN_ID": "42",
    }
    assert actions_run_url(env) == "https://github.com/o/r/actions/runs/42"
    assert actions_run_url({}) is None
