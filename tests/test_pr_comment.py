"""The pull-request comment: DVC's diffs against a base commit, as Markdown."""

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from hw2.core.errors import Hw2Error
from hw2.pipeline.pr_comment import (
    MARKER,
    PlotDiff,
    actions_run_url,
    build_comment,
    curve_rows,
    diff_table,
    parse_plots_diff,
    sparkline,
)

ROOT = Path(__file__).resolve().parents[1]

DVC_YAML = """\
stages:
  evaluate:
    cmd: "true"
    params:
      - lr
    metrics:
      - metrics/cnn.json:
          cache: false
    plots:
      - metrics/train/plots/metrics:
          cache: false
          x: step
      - metrics/confusion.csv:
          cache: false
          template: confusion
          x: actual
          y: predicted
plots:
  - Training loss:
      x: step
      y:
        metrics/train/plots/metrics/train/loss.tsv: loss
"""


def git(repo: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


def commit_results(repo: Path, lr: float, val_acc: float, losses: list[float]):
    (repo / "params.yaml").write_text(f"lr: {lr}\n")
    metrics = {"val_acc": val_acc, "test_acc": 0.5, "n_params": 10}
    (repo / "metrics/cnn.json").write_text(json.dumps(metrics))
    curve = "step\tloss\n" + "".join(f"{i}\t{v}\n" for i, v in enumerate(losses))
    (repo / "metrics/train/plots/metrics/train/loss.tsv").write_text(curve)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"lr {lr}")


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A git + DVC repo with two commits of metrics, params and a curve."""
    repo = tmp_path_factory.mktemp("pr") / "repo"
    (repo / "metrics/train/plots/metrics/train").mkdir(parents=True)
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
    commit_results(repo, 0.1, 0.7, [1.2, 1.0, 0.9])
    commit_results(repo, 0.01, 0.8125, [1.2, 0.8, 0.5])
    return repo


@pytest.fixture(scope="module")
def comment(repo, tmp_path_factory) -> tuple[str, Path]:
    """The CLI run once against the first commit; its text and plots folder."""
    out = tmp_path_factory.mktemp("out") / "comment.md"
    argv = ["pr_comment.py", "--base", "HEAD~1", "--out", str(out)]
    argv += ["--plots-dir", "plots", "--artifact-url", "https://example.invalid/run/1"]
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(repo)
        mp.setattr("sys.argv", argv)
        runpy.run_path(str(ROOT / "scripts/pr_comment.py"), run_name="__main__")
    return out.read_text(), repo / "plots"


def table_row(text: str, *cells: str) -> bool:
    """Whether a Markdown table row holds these cells in order (spacing ignored)."""
    for line in text.splitlines():
        parts = [p.strip() for p in line.strip().strip("|").split("|")]
        it = iter(parts)
        if line.startswith("|") and all(c in it for c in cells):
            return True
    return False


def test_comment_shows_old_new_and_change(comment):
    text, _ = comment
    assert text.startswith(MARKER + "\n")
    assert table_row(text, "metrics/cnn.json", "val_acc", "0.7", "0.8125", "0.1125")
    assert "test_acc" not in text  # unchanged metrics are left out
    assert table_row(text, "params.yaml", "lr", "0.1", "0.01")


def test_comment_plots_table_and_png(comment):
    text, plots_dir = comment
    assert table_row(text, "loss", "0.9", "0.5", "-0.4")
    assert sum(table_row(line, "loss") for line in text.splitlines()) == 1
    assert "Unchanged: `metrics/confusion.csv`." in text
    pngs = sorted(p.name for p in plots_dir.iterdir())
    assert len(pngs) == 1 and pngs[0] in text
    assert (plots_dir / pngs[0]).read_bytes().startswith(b"\x89PNG")
    assert "(https://example.invalid/run/1)" in text


def test_unknown_base_is_one_clear_error(repo):
    with pytest.raises(
        Hw2Error, match="base revision 'no-such-branch' is not a commit"
    ):
        build_comment("no-such-branch", root=repo)


def test_diff_table_empty_when_header_only():
    header = "| Path | Metric | HEAD | workspace | Change |\n|---|---|---|---|---|\n"
    assert diff_table(header) is None
    assert diff_table("") is None
    row = header + "| m.json | acc | 0.1 | 0.2 | 0.1 |\n"
    assert diff_table("\n" + row + "\n") == row.strip()


def test_sparkline_scales_and_shortens():
    assert sparkline([0, 1, 2], 0, 2) == "▁▅█"
    assert sparkline([1, 1], 1, 1) == "▄▄"
    assert sparkline([], 0, 1) == ""
    assert len(sparkline(list(range(100)), 0, 99)) == 24


def split_entry(rows, x_label="step", kind="vega"):
    anchors = {"<DVC_METRIC_DATA>": rows, "<DVC_METRIC_X_LABEL>": x_label}
    return {"type": kind, "revisions": [], "anchor_definitions": anchors}


def test_parse_plots_diff_status_dedupe_and_x():
    loss = [
        {"step": "0", "loss": "1.0", "rev": "workspace"},
        {"step": "1", "loss": "0.6", "rev": "workspace"},
        {"step": "0", "loss": "1.0", "rev": "main"},
        {"step": "1", "loss": "0.8", "rev": "main"},
    ]
    same = [{"a": "x", "p": "y", "rev": r} for r in ("workspace", "main")]
    new = [{"epoch": "0", "acc": "0.5", "rev": "workspace"}]
    obj = {
        "data": {
            "Training loss": [split_entry(loss)],
            "m/loss.tsv": [split_entry(loss)],  # the same data under its file name
            "m/conf.csv": [split_entry(same, x_label="a")],
            "m/acc.tsv": [split_entry(new, x_label="epoch")],
            "m/picture.png": [{"type": "image", "url": "x.png"}],
            "bad": "not a list",
        }
    }
    plots = parse_plots_diff(obj)
    assert [(p.name, p.x, p.status) for p in plots] == [
        ("Training loss", "step", "changed"),
        ("m/conf.csv", "a", "unchanged"),
        ("m/acc.tsv", "epoch", "new"),
    ]
    rows = curve_rows(plots[0])
    assert rows == [["`Training loss`", "loss", "0.8", "0.6", "-0.2", "█▅", "█▁"]]
    assert curve_rows(plots[1]) == []  # categorical: no curve
    assert curve_rows(plots[2])[0][2:5] == ["–", "0.5", "–"]
    assert parse_plots_diff({"errors": []}) == []


def test_parse_plots_diff_reads_unsplit_vega():
    rows = [{"step": 0, "loss": 2.0, "rev": "HEAD"}]
    entry = {"type": "vega", "content": {"data": {"values": rows}}}
    (plot,) = parse_plots_diff({"data": {"p": [entry]}})
    assert plot == PlotDiff("p", "step", [{"step": 0, "loss": 2.0}], [])
    assert plot.status == "removed"


def test_actions_run_url():
    env = {
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "o/r",
        "GITHUB_RUN_ID": "42",
    }
    assert actions_run_url(env) == "https://github.com/o/r/actions/runs/42"
    assert actions_run_url({}) is None
