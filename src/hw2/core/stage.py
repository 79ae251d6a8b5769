"""The stage entry point, and each stage's refusals in one check (CHECKS).

DVC deletes a stage's outputs before it runs the stage's command, so whatever a
stage would refuse must be refused before that. check_stage(name) is every
refusal of stage `name` (its params, its device, the processes it is asked to
share, its output folders, disk, memory, and a full download fetched and
verified); run_stage runs it before the stage's work, and the preflight stage
runs the same function for every stage DVC is about to run, before any output
is deleted. A refusal added to a check is thereby preflight's too.

A Check names the modules it uses by name and imports them when it runs: each
is one the stage's own script imports anyway, so a stage's dvc.yaml deps stay
its own code (tests/test_stage_checks.py holds each name to the stage's imports).
"""

import os
import shlex
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from pkgutil import resolve_name
from typing import Any, NoReturn

from hw2.core import failpoints, footprint, lifecycle, resources
from hw2.core.errors import Hw2Error, ResourceError
from hw2.core.params import Params, YAMLError, load_params, read_yaml
from hw2.core.params import changed_since_read as params_changed

DOWNLOADS = "data/downloads"  # where full downloads are fetched and verified


@dataclass(frozen=True)
class Download:
    """A file that `section.source: full` downloads: from `section.url`, checked
    against `section.<algorithm>`, kept in the downloads folder as `name`."""

    section: str
    algorithm: str
    name: str


@dataclass(frozen=True)
class Check:
    """What a stage refuses besides its output folders, disk and memory."""

    config: str | None = None  # "module:Class": Class.from_params reads its params
    device: bool = False  # it runs on params' `device` (cuda needs a GPU)
    processes: bool = False  # it shares config.batch_size among HW2_NPROC
    download: Download | None = None  # fetched and verified when source is full


CHECKS = {
    "download_images": Check(
        "hw2.images.prepare:ImageDataConfig",
        download=Download("data.images", "md5", "octmnist.npz"),
    ),
    "train_cnn": Check("hw2.oct.train:CNNTrainConfig", device=True),
    "evaluate_cnn": Check(device=True),
    "download_speech": Check(
        "hw2.speech.corpus:SpeechDataConfig",
        download=Download("data.speech", "sha256", "LJSpeech-1.1.tar.bz2"),
    ),
    "preprocess_speech": Check("hw2.speech.preprocess:PreprocessConfig"),
    "train_asr": Check("hw2.asr.config:ASRConfig", device=True, processes=True),
    "evaluate_asr": Check("hw2.asr.evaluate:ASREvalConfig", device=True),
    "bench_attention": Check("hw2.attention_bench.bench:BenchConfig", device=True),
    "report": Check(),
}


@dataclass
class Checked:
    """What a stage's check found: what its work uses."""

    params: Params
    config: Any = None  # its Check's config, read and checked
    device: Any = None  # a torch.device, where the stage has one
    processes: int = 1  # HW2_NPROC
    download: Path | None = None  # the verified full download


def read_config(name: str, params: Params) -> Any:
    """Stage `name`'s params read and checked (ParamError at the first bad one):
    its configuration, and the device where it has one."""
    check = CHECKS[name]
    config = resolve_name(check.config).from_params(params) if check.config else None
    if check.device:
        params.choice("device", resolve_name("hw2.core.device:DEVICES"))
    return config


def _arg(argv: list[str], flag: str, default: str) -> str:
    return argv[argv.index(flag) + 1] if flag in argv[:-1] else default


def stage_argv(dag: Mapping, name: str) -> list[str]:
    """Stage `name`'s arguments as dvc.yaml's cmd gives them ([] if absent)."""
    return shlex.split(str((dag.get(name) or {}).get("cmd", "")))[2:]


def outputs(stage: Mapping) -> list[str]:
    """Everything a dvc.yaml stage writes: its outs, metrics and plots."""
    entries = [e for f in ("outs", "metrics", "plots") for e in stage.get(f) or []]
    return [e if isinstance(e, str) else next(iter(e)) for e in entries]


def writable(folder: Path, what: str) -> None:
    """ResourceError unless a file can be created in `folder` (made if missing)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(prefix=".preflight.", dir=folder):
            pass
    except OSError as exc:
        if resources.read_only(folder):
            why = f"read-only file system ({resources.disk_of(folder)})"
        else:
            why = exc.strerror or type(exc).__name__
        raise ResourceError(f"{folder}: cannot write there ({why}); {what}") from None


def check_stage(
    name: str,
    params: Params,
    root: Path = Path("."),
    dag: Mapping | None = None,
    environ: Mapping[str, str] = os.environ,
) -> Checked:
    """Every refusal of stage `name`, in one line at the first (Hw2Error), in
    the order params, device, processes, folders, disk, memory, download.

    dag: dvc.yaml's stages (read from root when None): the stage's outputs and
    arguments. The stage calls this before its work (run_stage), preflight for
    every stage DVC is about to run.
    """
    check = CHECKS[name]
    if dag is None:
        dag = (read_yaml(root / "dvc.yaml") or {}).get("stages") or {}
    checked = Checked(params, read_config(name, params))
    if check.device:
        checked.device = resolve_name("hw2.core.device:pick_device")(
            params.get("device")
        )
    if check.processes:
        distributed = resolve_name("hw2.asr.distributed")
        checked.processes = distributed.requested_processes(environ)
        if checked.processes > 1 and "WORLD_SIZE" not in environ:
            distributed.check_world(
                checked.config.batch_size, checked.processes, checked.device
            )
    for out in outputs(dag.get(name) or {}):
        writable((root / out).parent, f"{name} writes {out}")
    folder = root / _arg(stage_argv(dag, name), "--downloads", DOWNLOADS)
    fetched = folder / check.download.name if check.download else None
    # a download already verified there is no longer to be written
    have = fetched.stat().st_size if fetched and fetched.is_file() else 0
    need = max(footprint.disk_bytes(name, params.data) - have, 0)
    resources.need_space(root, need, name)
    resources.need_memory(footprint.memory_bytes(name, params.data), name)
    # the full download fetched into `folder` and verified (size, checksum); a bad
    # file or an unreachable server leaves everything outside `folder` as it was
    download = check.download
    if download and params.get(f"{download.section}.source") == "full":
        fetch = resolve_name("hw2.core.download:download")
        checked.download = fetch(
            params.string(f"{download.section}.url"),
            fetched,
            checksum=params.string(f"{download.section}.{download.algorithm}"),
            algorithm=download.algorithm,
        )
    return checked


# What rerunning a stage after an interruption does, where it does not start over.
RESUMES = {
    "download_images": "a download resumes where it stopped",
    "download_speech": "a download resumes where it stopped",
    "train_asr": "training resumes from the last finished epoch",
}

_ONE_AT_A_TIME = (
    "Run one experiment at a time, or queue them: `dvc exp run --queue -S ...`, "
    "then `dvc queue start`"
)


def _exit(line: str, code: int = 2) -> NoReturn:
    print(f"error: {line}", file=sys.stderr)
    sys.exit(code)


def _stopped_line(stage: str, why: str) -> str:
    again = RESUMES.get(stage, "it starts over")
    return (
        f"{stage} stopped: {why}. Its outputs are whole or absent; run "
        f"`dvc repro` to finish ({again})"
    )


def _failure_line(exc: BaseException, stage: str) -> str | None:
    """One line for a write that a full or read-only disk explains; else None."""
    try:
        data = read_yaml("params.yaml") or {}
        need = footprint.disk_bytes(stage, data) if isinstance(data, dict) else None
    except (OSError, ValueError, ArithmeticError, YAMLError):
        need = None
    # every stage argument that is no flag is a path the stage was given
    paths = [Path(a) for a in sys.argv[1:] if not a.startswith("-")]
    return resources.write_failure(exc, paths, need)


def run_stage(main: Callable[..., None]) -> None:
    """Run a stage's main(); every problem a user can act on ends in one line.

    A stage in CHECKS gets main(check_stage(...)): its whole check, run before
    its work with params.yaml as it is now. A user-fixable problem (Hw2Error, a
    full or read-only disk) exits 2; Ctrl-C, SIGTERM and the exit of the dvc
    that ran the stage stop it with 130 or 143 after `finally` blocks have
    removed its temporary files; params.yaml changing while it runs (any value,
    read or not) stops it with 2.
    """
    stage = Path(sys.argv[0]).stem or "stage"
    life = None
    try:
        failpoints.check_env()
        life = lifecycle.install()
        if stage in CHECKS:
            main(check_stage(stage, load_params()))
        else:
            main()
        change = params_changed(life.since)
        if change:
            _exit(
                f"{change} while {stage} ran: its outputs hold the old values and "
                f"DVC records none of them. {_ONE_AT_A_TIME}"
            )
    except Hw2Error as exc:
        _exit(str(exc))
    except lifecycle.Stopped as exc:
        if exc.code == 2:
            _exit(
                f"{exc.why} while {stage} ran: it stopped rather than write outputs "
                f"of other params. {_ONE_AT_A_TIME}"
            )
        _exit(_stopped_line(stage, exc.why), exc.code)
    except KeyboardInterrupt:
        _exit(_stopped_line(stage, "interrupted (Ctrl-C)"), 130)
    except Exception as exc:
        try:
            line = _failure_line(exc, stage)
        except Exception:  # explaining must never hide the original error
            line = None
        if line is None:
            raise
        _exit(line)
    finally:
        if life is not None:
            life.close()
