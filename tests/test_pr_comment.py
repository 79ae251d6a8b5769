"""The pull-request comment (and `make diff`): a temporary git + DVC repository with
two commits whose metrics, params, data and plots differ."""

import hashlib
import html
import json
import os
import pty
import re
import runpy
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import vl_convert
import yaml
from asr_seed_runs import lock
from helpers import tool_env
from test_metric_files import declared_metrics

from hw2.core.errors import Hw2Error
from hw2.pipeline import catalog
from hw2.pipeline.pr_comment import MARKER, build_comment
from hw2.pipeline.seed_record import fingerprint

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
      - metrics/speech_preprocess.json:
          cache: false
    outs:
      # dvclive's folder, as in the project's dvc.yaml: its curves are drawn by
      # the top-level plots below, its summary is no metric of its own
      - metrics/train:
          cache: false
    plots:
      - metrics/confusion.csv:
          cache: false
          template: confusion
          x: actual
          y: predicted
      - metrics/attention_time.csv:
          cache: false
          x: length
          y: seconds
plots:
  - Loss:
      x: step
      y_label: loss (nats)
      y:
        {LIVE}/train/loss.tsv: loss
        {LIVE}/val/loss.tsv: loss
  - Accuracy:
      x: step
      y:
        {LIVE}/val/acc.tsv: acc
        {LIVE}/val/acc_min.tsv: acc_min
        {LIVE}/val/acc_max.tsv: acc_max
"""


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=repo, env=tool_env(), check=True, capture_output=True
    )
    return proc.stdout.decode()


def tsv(name: str, values: list[float]) -> str:
    return f"step\t{name}\n" + "".join(f"{i}\t{v}\n" for i, v in enumerate(values))


def attention_csv(softmax: list[float], mclaurin: list[float]) -> str:
    rows = [f"{n},softmax,{s}" for n, s in zip((256, 1024, 4096), softmax, strict=True)]
    rows += [
        f"{n},mclaurin,{s}" for n, s in zip((256, 1024, 4096), mclaurin, strict=True)
    ]
    return "length,method,seconds\n" + "\n".join(rows) + "\n"


BASE = {
    "params": {"lr": 0.1, "data": {"speech": {"sample": {"n_clips": 720}}}},
    "cnn": {  # 3 seeds: a seed-aware interval
        "test_acc": 0.70,
        "test_acc_ci95": [0.67, 0.73],
        "val_acc": 0.70,
        "val_acc_std": 0.01,
        "val_acc_per_seed": [0.69, 0.70, 0.71],
        "n_params": 224892,
        "seeds": 3,
    },
    "asr": {  # one seed: an interval over test clips only
        "loss": 0.9476169284427138,
        "cer": 0.30,
        "cer_ci95": [0.28, 0.32],
        "wer": 0.50,
        "n_params": 1329835,
    },
    "shape": {"n_clips": 720, "audio_hours": 1.2931, "frames_mean": 877.0},
    "curves": {"train/loss": [1.2, 1.0, 0.9], "val/loss": [1.3, 1.2, 1.1]},
    "acc": ([0.5, 0.6, 0.7], [0.45, 0.55, 0.68], [0.55, 0.65, 0.72]),
    "attention": ([1e-4, 1e-3, 2e-2], [2e-4, 5e-4, 1e-3]),
}
HEAD = {
    "params": {"lr": 0.01, "data": {"speech": {"sample": {"n_clips": 1400}}}},
    "cnn": {  # test_acc moves inside its noise, val_acc beyond it
        "test_acc": 0.72,
        "test_acc_ci95": [0.69, 0.75],
        "val_acc": 0.8125,
        "val_acc_std": 0.01,
        "val_acc_per_seed": [0.80, 0.81, 0.82],
        "n_params": 224892,
        "seeds": 3,
    },
    "asr": {  # other data: the ASR rows say so, whatever the intervals
        "loss": 0.9476170001,
        "cer": 0.20,
        "cer_ci95": [0.18, 0.22],
        "wer": 0.60,
        "n_params": 1330035,
    },
    "shape": {"n_clips": 1400, "audio_hours": 2.5206, "frames_mean": 893.75},
    "curves": {"train/loss": [1.2, 0.8, 0.5], "val/loss": [1.3, 1.0, 0.7]},
    "acc": ([0.5, 0.7, 0.8], [0.45, 0.66, 0.78], [0.55, 0.74, 0.83]),
    "attention": ([1e-4, 1.1e-3, 2.1e-2], [1e-4, 3e-4, 6e-4]),
}


def write(repo: Path, path: str, text: str) -> None:
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(text)


def commit_results(repo: Path, results: dict) -> None:
    write(repo, "params.yaml", yaml.safe_dump(results["params"]))
    write(repo, "metrics/cnn.json", json.dumps(results["cnn"]))
    write(repo, "metrics/asr.json", json.dumps(results["asr"]))
    write(repo, "metrics/speech_preprocess.json", json.dumps(results["shape"]))
    # dvclive's summary repeats the curves' last points: never a metric row
    write(repo, "metrics/train/metrics.json", json.dumps({"val": {"acc": 0.1}}))
    for name, values in results["curves"].items():
        write(repo, f"{LIVE}/{name}.tsv", tsv("loss", values))
    for suffix, values in zip(("", "_min", "_max"), results["acc"], strict=True):
        write(repo, f"{LIVE}/val/acc{suffix}.tsv", tsv(f"acc{suffix}", values))
    write(repo, "metrics/attention_time.csv", attention_csv(*results["attention"]))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"lr {results['params']['lr']}")


def untracked(repo: Path) -> set[str]:
    """Files git does not track, ignored ones included (DVC's own .dvc/ aside)."""
    out = git(repo, "status", "--porcelain", "--ignored", "--untracked-files=all")
    return {line[3:] for line in out.splitlines() if not line[3:].startswith(".dvc/")}


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A git + DVC repo: two commits of metrics, params, data shape and curves."""
    repo = tmp_path_factory.mktemp("pr") / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    subprocess.run(["dvc", "init", "-q"], cwd=repo, env=tool_env(), check=True)
    write(repo, "dvc.yaml", DVC_YAML)
    write(repo, "metrics/confusion.csv", "actual,predicted\na,a\nb,b\n")
    commit_results(repo, BASE)
    commit_results(repo, HEAD)
    return repo


def run_script(repo: Path, *args: str) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(repo)
        mp.setattr("sys.argv", ["pr_comment.py", *args])
        runpy.run_path(str(ROOT / "scripts/pr_comment.py"), run_name="__main__")


@pytest.fixture(scope="module")
def comment(repo) -> tuple[str, Path, set[str]]:
    """The CLI run once against the first commit: Markdown, plots folder, new files."""
    before = untracked(repo)
    run_script(repo, "--base", "HEAD~1", "--out", "comment.md", "--plots-dir", "plots")
    return (repo / "comment.md").read_text(), repo / "plots", untracked(repo) - before


def table_rows(text: str) -> list[list[str]]:
    """The cells of every Markdown table row (spacing ignored)."""
    return [
        [p.strip() for p in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith("|") and not re.match(r"\|:?-", line)
    ]


def row_of(text: str, *first: str) -> list[str]:
    (row,) = [r for r in table_rows(text) if r[: len(first)] == list(first)]
    return row


def test_headlines_with_direction_noise_and_one_meaning_of_plus_minus(comment):
    text, _, _ = comment
    assert text.startswith(f"<!-- {MARKER} -->\n")
    head = text[: text.index("<details>")]
    assert row_of(head, "CNN test accuracy") == [
        "CNN test accuracy",
        "0.7000 [0.6700, 0.7300]",
        "0.7200 [0.6900, 0.7500]",
        "+0.0200",
        "better",
        "within noise",
    ]
    # the speech data changed: the ASR's rows say so instead of a noise verdict
    assert row_of(head, "ASR test CER")[3:] == ["-0.1000", "better", "different data"]
    assert row_of(head, "ASR test WER")[3:] == ["+0.1000", "worse", "different data"]
    order = [r[0] for r in table_rows(head)[1:]]
    assert order == ["CNN test accuracy", "ASR test CER", "ASR test WER"]
    assert "± is the standard deviation over training seeds" in text


def test_other_metrics_once_each_with_direction_and_human_numbers(comment):
    text, _, _ = comment
    details = text[text.index("<details>") : text.index("</details>")]
    assert "2 other metrics changed (1 better; " in details
    assert "1 beyond noise" in details and "1 different data" in details
    row = row_of(details, "metrics/cnn.json", "CNN validation accuracy")
    # ± is the std over seeds; the interval 1.96·std/√3 is written [lo, hi]
    assert row[2:] == [
        "0.7000 ± 0.0100 [0.6887, 0.7113]",
        "0.8125 ± 0.0100 [0.8012, 0.8238]",
        "+0.1125",
        "better",
        "**beyond noise**",
    ]
    row = row_of(details, "metrics/asr.json", "n_params")
    assert row[2:5] == ["1,329,835", "1,330,035", "+200"]
    assert row[5] == "–"  # a parameter count is neither better nor worse
    # the loss moved in its 7th digit: no change; noise keys and dvclive's
    # summary and the data's recorded shape are no rows of their own
    assert "loss" not in details and "train/metrics.json" not in details
    assert "speech_preprocess" not in details and "n_clips" not in details
    body = text.split("<sub>")[0]
    assert "_ci95" not in body and "_std" not in body and "per_seed" not in body
    assert not re.search(r"\de[+-]\d", text)  # no exponents
    assert not re.search(r"\| [+-]0(\.0+)? \|", text)  # no change of +0


def test_data_change_warning_names_params_and_shape(comment):
    text, _, _ = comment
    (warning,) = [line for line in text.splitlines() if "data differ" in line]
    assert warning.startswith("> **Warning:** The speech data differ between HEAD~1")
    assert "data.speech.sample.n_clips 720 → 1,400" in warning
    assert "`metrics/speech_preprocess.json`: n_clips 720 → 1,400" in warning
    assert "audio_hours 1.293 → 2.521" in warning and "877 → 893.8" in warning
    assert "The ASR metrics come from other data" in warning
    assert text.index("data differ") < text.index("### Metrics")
    assert row_of(text, "params.yaml", "lr")[2:] == ["0.1", "0.01"]


def test_changed_plots_are_images_in_the_comment(comment):
    text, plots_dir, new_files = comment
    images = re.findall(r"!\[([^]]*)\]\(([^)]+)\)", text)
    assert [alt for alt, _ in images] == [
        f"{name}: HEAD~1 vs workspace"
        for name in ("Loss", "Accuracy", "metrics/attention_time.csv")
    ]  # each curve once: dvclive's files are drawn by the named plots
    assert [t for _, t in images] == ["plots/0.png", "plots/1.png", "plots/2.png"]
    assert "Unchanged: metrics/confusion.csv." in text
    assert new_files == {"comment.md", *(t for _, t in images)}
    for _, target in images:
        assert (plots_dir.parent / target).read_bytes().startswith(b"\x89PNG")


def test_terminal_output_has_no_html(repo):
    """`make diff` on a terminal (a pseudo-terminal here): the Markdown rendered."""
    leader, follower = pty.openpty()
    env = tool_env(PYTHONPATH=str(ROOT / "src"), COLUMNS="200")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts/pr_comment.py"), "--base", "HEAD~1"],
        cwd=repo,
        env=env,
        stdout=follower,
        stderr=subprocess.PIPE,
        timeout=300,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the pseudo-terminal is closed once read to its end
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.returncode == 0, proc.stderr.decode()
    text = b"".join(chunks).decode().replace("\r\n", "\n")
    text = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", text)  # colours and bold
    assert "Warning: The speech data differ" in text
    assert re.search(
        r"CNN test accuracy +0\.7000 \[0\.6700, 0\.7300\] .* within noise", text
    )
    (fold,) = [line for line in text.splitlines() if "other metrics changed" in line]
    assert "2 other metrics changed (1 better; " in fold and "1 beyond noise" in fold
    assert re.search(r"n_params +1,329,835 +1,330,035 +\+200", text)
    assert not re.search(r"<[a-z/!][^>]*>", text)  # no tags, no HTML comment
    assert "**" not in text and "`" not in text
    assert not re.search(r"^\s*\||\s\|\s", text, re.M)  # no table pipes


def test_markdown_when_piped(repo, capsys):
    before = untracked(repo)
    run_script(repo, "--base", "HEAD~1")
    printed = capsys.readouterr().out
    assert printed.startswith(f"<!-- {MARKER} -->") and "<details>" in printed
    assert "![" not in printed  # no --plots-dir: no pictures drawn or linked
    assert "Changed: Loss (changed), Accuracy (changed), metrics/attention_time" in (
        printed
    )
    assert untracked(repo) == before


def test_unknown_base_is_one_clear_error(repo):
    with pytest.raises(
        Hw2Error, match="base revision 'no-such-branch' is not a commit"
    ):
        build_comment("no-such-branch", root=repo)


def test_headlines_and_report_paths_are_declared_in_dvc_yaml():
    dvc_yaml = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    declared = declared_metrics(dvc_yaml)
    assert {m.path for m in catalog.headlines()} <= declared
    assert {catalog.CNN_JSON, catalog.ASR_JSON, catalog.ATTENTION_JSON} <= declared


def test_ci_posts_the_comment_with_its_pictures_through_cml():
    workflow = yaml.safe_load((ROOT / ".github/workflows/pr.yml").read_text())
    steps = workflow["jobs"]["metrics-comment"]["steps"]
    runs = [" ".join(str(s.get("run", "")).split()) for s in steps]
    (build,) = [r for r in runs if "scripts/pr_comment.py" in r]
    assert "--out comment.md --plots-dir pr-plots" in build
    (post,) = [r for r in runs if r.startswith("cml comment")]
    assert "--publish" in post and post.endswith(" comment.md")
    assert any(str(s.get("uses", "")).startswith("iterative/setup-cml@") for s in steps)
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert {"/comment.md", "/pr-plots/"} <= set(ignored)


# The one-seed ASR run judged with the seed spread `make homework` recorded.

SEEDS_DVC_YAML = """\
stages:
  evaluate_asr:
    cmd: "true"
    metrics:
      - metrics/asr.json:
          cache: false
"""


def valid(tree):
    """The test's dvc.lock with real md5s (DVC refuses others), names hashed."""
    if isinstance(tree, dict):
        return {k: md5(v) if k == "md5" else valid(v) for k, v in tree.items()}
    return [valid(v) for v in tree] if isinstance(tree, list) else tree


def md5(name: str) -> str:
    return hashlib.md5(name.encode()).hexdigest() + ".dir" * name.endswith(".dir")


def one_seed_asr(cer: float) -> str:
    return json.dumps({"cer": cer, "cer_ci95": [cer - 0.01, cer + 0.01], "wer": 0.5})


@pytest.fixture
def seeds_repo(tmp_path) -> Path:
    """A commit with a one-seed ASR run, its dvc.lock and a matching seed record."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    subprocess.run(["dvc", "init", "-q"], cwd=repo, env=tool_env(), check=True)
    write(repo, "dvc.yaml", SEEDS_DVC_YAML)
    write(repo, "params.yaml", "lr: 0.01\n")
    write(repo, "dvc.lock", yaml.safe_dump(valid(lock("transformer", 42))))
    write(repo, "metrics/asr.json", one_seed_asr(0.30))
    metrics = {"cer": 0.31, "cer_std": 0.02, "cer_per_seed": [0.29, 0.31, 0.33]}
    metrics |= {"cer_ci95": [0.28, 0.34], "seeds": 3}
    record = {
        "metrics": metrics,
        "fingerprint": fingerprint(valid(lock("transformer"))),
    }
    write(repo, "metrics/asr_seeds.json", json.dumps({"transformer": record}))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "one seed, and the seed record")
    return repo


def cer_noise(repo: Path) -> tuple[str, str]:
    text = build_comment("HEAD", repo)
    head = text[: text.index("### Params")]
    return row_of(head, "ASR test CER")[-1], text


def test_a_change_within_the_recorded_seed_spread_is_noise(seeds_repo):
    # another seed of the same code: 0.03 is three clip half-widths, yet inside
    # √2 · √(0.01² + (1.96 · 0.02)²) = 0.057
    write(seeds_repo, "dvc.lock", yaml.safe_dump(valid(lock("transformer", 43))))
    write(seeds_repo, "metrics/asr.json", one_seed_asr(0.33))
    label, text = cer_noise(seeds_repo)
    assert label == "within noise (seed spread: make homework, 3 seeds)"
    assert "is stale" not in text
    write(seeds_repo, "metrics/asr.json", one_seed_asr(0.40))
    assert cer_noise(seeds_repo)[0] == (
        "**beyond noise (seed spread: make homework, 3 seeds)**"
    )


def test_a_stale_record_is_named_and_leaves_the_noise_unknown(seeds_repo):
    # the ASR's code changed in this branch: the record no longer describes it
    write(
        seeds_repo,
        "dvc.lock",
        yaml.safe_dump(valid(lock("transformer", 42, code="c9"))),
    )
    write(seeds_repo, "metrics/asr.json", one_seed_asr(0.36))
    label, text = cer_noise(seeds_repo)
    assert label == (
        "noise unknown: one seed; run make homework to measure the seed spread"
    )
    (warning,) = [line for line in text.splitlines() if "is stale" in line]
    assert warning.startswith(
        "> **Warning:** `metrics/asr_seeds.json` is stale for this branch "
        "(closest configuration `transformer`: train_asr: src/hw2/asr/model.py "
        "changed)"
    )
    # the base still matches: a change inside its spread and this side's clips
    write(seeds_repo, "metrics/asr.json", one_seed_asr(0.33))
    assert cer_noise(seeds_repo)[0] == (
        "within noise (seed spread: make homework, 3 seeds)"
    )


# Before and after the move to DVC's diffs: tests/fixtures/diff_before holds what
# the hand-made diff printed on these same revisions; the numbers, verdicts and
# warnings must not change (their formatting may).

FIXTURES = ROOT / "tests/fixtures/diff_before"


def plain(text: str) -> str:
    """Markdown without its markup, entities and escapes undone."""
    text = re.sub(r"`([^`]*)`", r"\1", text).replace("**", "").replace("\\|", "|")
    text = re.sub(r"(?<![\w*])\*(\S(?:.*?\S)?)\*(?![\w*])", r"\1", text)
    return html.unescape(text).replace("\u200b", "")


def facts(markdown: str) -> tuple[list[str], list[list[str]]]:
    """Warnings and the Metrics / Params tables' rows, as plain sorted text."""
    body = plain(markdown[: markdown.index("### Plots")])
    warnings = [line for line in body.splitlines() if line.startswith("> Warning:")]
    return sorted(warnings), sorted(table_rows(body))


def seeds_case(repo: Path, seed: int, cer: float, code: str | None) -> None:
    kwargs = {"code": code} if code else {}
    write(repo, "dvc.lock", yaml.safe_dump(valid(lock("transformer", seed, **kwargs))))
    write(repo, "metrics/asr.json", one_seed_asr(cer))


@pytest.mark.e2e
def test_verdicts_numbers_and_warnings_as_before(repo, seeds_repo):
    assert facts(build_comment("HEAD~1", repo)) == facts(
        (FIXTURES / "two_commits.md").read_text()
    )
    cases = {
        "seed_within": (43, 0.33, None),
        "seed_beyond": (43, 0.40, None),
        "seed_stale": (42, 0.36, "c9"),
    }
    for name, case in cases.items():
        seeds_case(seeds_repo, *case)
        before = (FIXTURES / f"{name}.md").read_text()
        assert facts(build_comment("HEAD", seeds_repo)) == facts(before), name


def test_quoted_values_cannot_hide_the_comment_or_ping(repo):
    """Issue 30 item 4: a params value with a backtick, `<!--` and `@name`."""
    url = "https://example.org/a`b<!-- @someone"
    params = yaml.safe_load((repo / "params.yaml").read_text())
    write(repo, "params.yaml", yaml.safe_dump({**params, "data": {"url": url}}))
    try:
        text = build_comment("HEAD~1", repo)
    finally:
        git(repo, "checkout", "params.yaml")
    body = text.split("\n", 1)[1]  # the marker is the comment's own <!--
    assert "<!--" not in body and "@someone" not in body and "a`b" not in body
    assert row_of(text, "params.yaml", "data.url")[3] == (
        "https://example.org/a&#96;b&lt;!-- @\u200bsomeone"
    )


def test_dvc_charts_become_the_same_png_offline(repo, monkeypatch):
    """DVC's own chart (its template, both revisions' rows) drawn by vl-convert:
    no browser, no network, the same bytes every time."""
    out = subprocess.run(
        ["dvc", "plots", "diff", "HEAD~1", "--json"],
        cwd=repo,
        env=tool_env(),
        check=True,
        capture_output=True,
    )
    spec = json.loads(out.stdout)["data"]["Accuracy"][0]["content"]
    assert {row["rev"] for row in spec["data"]["values"]} == {"HEAD~1", "workspace"}

    def refuse(*args):
        raise OSError("no network in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    png = vl_convert.vegalite_to_png(spec)
    assert png.startswith(b"\x89PNG") and png == vl_convert.vegalite_to_png(spec)


def test_metrics_dvc_cannot_read_are_an_error_not_an_empty_table(seeds_repo):
    """DVC skips a revision whose dvc.lock it refuses, with exit status 0."""
    write(seeds_repo, "dvc.lock", yaml.safe_dump(lock("transformer", 43)))  # md5 "e"
    with pytest.raises(
        Hw2Error, match="read none of metrics/asr.json at the workspace"
    ):
        build_comment("HEAD", seeds_repo)
