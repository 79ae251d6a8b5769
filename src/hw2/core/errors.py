"""One error type for every problem a user can fix, and the stage entry point."""

import sys
from collections.abc import Callable
from pathlib import Path


class Hw2Error(Exception):
    """A problem with params, input files or downloads, told in one line."""


class ParamError(Hw2Error):
    """A params.yaml value that is missing or not allowed."""


class DataError(Hw2Error):
    """An input file that is missing, malformed or fails its checksum."""


class ResourceError(Hw2Error):
    """Too little disk or memory for what a stage is about to do."""


class NonFiniteLossError(Hw2Error):
    """A training loss became NaN or infinite (both the CNN and the ASR raise it)."""


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


def _stage_name() -> str:
    return Path(sys.argv[0]).stem or "stage"


def _stopped_line(stage: str, why: str) -> str:
    again = RESUMES.get(stage, "it starts over")
    return (
        f"{stage} stopped: {why}. Its outputs are whole or absent; run "
        f"`dvc repro` to finish ({again})"
    )


def _paths() -> list[Path]:
    """The paths the stage was given (every stage argument is one)."""
    return [Path(a) for a in sys.argv[1:] if not a.startswith("-")]


def _failure_line(exc: BaseException, stage: str) -> str | None:
    """One line for a write that a full or read-only disk explains; else None."""
    from hw2.core import footprint, resources

    try:
        import yaml

        data = yaml.safe_load(Path("params.yaml").read_bytes()[:1_000_000]) or {}
        need = footprint.disk_bytes(stage, data) if isinstance(data, dict) else None
    except (OSError, ValueError, ArithmeticError, yaml.YAMLError):
        need = None
    return resources.write_failure(exc, _paths(), need)


def run_stage(main: Callable[[], None]) -> None:
    """Run a stage's main(); every problem a user can act on ends in one line.

    A user-fixable problem (Hw2Error, a full or read-only disk) exits 2; Ctrl-C,
    SIGTERM and the exit of the dvc that ran the stage stop it with 130 or 143
    after `finally` blocks have removed its temporary files; a params.yaml value
    the stage read that changes while it runs stops it with 2.
    """
    from hw2.core import failpoints, lifecycle, params

    stage = _stage_name()
    life = None
    try:
        failpoints.check_env()
        life = lifecycle.install()
        main()
        change = params.changed_since_read(life.since)
        if change:
            print(
                f"error: {change} while {stage} ran: its outputs hold the old values "
                f"and DVC records none of them. {_ONE_AT_A_TIME}",
                file=sys.stderr,
            )
            sys.exit(2)
    except Hw2Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except lifecycle.Stopped as exc:
        if exc.code == 2:
            print(
                f"error: {exc.why} while {stage} ran: it stopped rather than write "
                f"outputs of other params. {_ONE_AT_A_TIME}",
                file=sys.stderr,
            )
        else:
            print(f"error: {_stopped_line(stage, exc.why)}", file=sys.stderr)
        sys.exit(exc.code)
    except KeyboardInterrupt:
        print(f"error: {_stopped_line(stage, 'interrupted (Ctrl-C)')}", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:
        try:
            line = _failure_line(exc, stage)
        except Exception:  # explaining must never hide the original error
            line = None
        if line is None:
            raise
        print(f"error: {line}", file=sys.stderr)
        sys.exit(2)
    finally:
        if life is not None:
            life.close()
