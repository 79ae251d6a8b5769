"""The one wrapper around the git and dvc command lines."""

import pytest
from helpers import sh

from hw2.core.errors import Hw2Error
from hw2.pipeline import dvc


def test_failure_is_one_line_naming_the_command(tmp_path):
    sh(["git", "init", "-q"], tmp_path)
    with pytest.raises(Hw2Error) as info:
        dvc.run(["git", "rev-parse", "--verify", "no-such-rev"], tmp_path)
    message = str(info.value)
    assert message.startswith("`git rev-parse --verify no-such-rev` failed: ")
    assert "\n" not in message
    assert dvc.run(["git", "rev-parse", "--is-inside-work-tree"], tmp_path) == "true\n"
    assert dvc.run(["git", "rev-parse", "no-such-rev"], tmp_path, check=False) != ""


def test_long_commands_are_named_by_their_start_and_missing_tools_said(tmp_path):
    args = ["dvc", "exp", "run", "--queue", "--name", "x", "--copy-paths", "a.py"]
    assert dvc.command_name(args) == "`dvc exp run --queue --name x …`"
    with pytest.raises(Hw2Error, match=r"^`no-such-tool-hw2 x` could not run"):
        dvc.run(["no-such-tool-hw2", "x"], tmp_path)


def test_dvc_env_puts_this_venv_first_and_analytics_off(monkeypatch):
    monkeypatch.setenv("DVC_NO_ANALYTICS", "0")
    env = dvc.dvc_env({"OMP_NUM_THREADS": "2"})
    assert env["DVC_NO_ANALYTICS"] == "1" and env["OMP_NUM_THREADS"] == "2"
    assert env["PATH"].split(":")[0].endswith("bin")


def test_check_commit_names_the_revision(tmp_path):
    sh(["git", "init", "-q"], tmp_path)
    with pytest.raises(Hw2Error, match=r"^base revision 'main2' is not a commit"):
        dvc.check_commit("main2", tmp_path)
