"""Stage download_speech: the LJ Speech corpus, synthesised (sample) or downloaded.

The corpus lands in ROOT/LJSpeech-1.1 (the archive's own folder name). The
downloaded archive stays in the --downloads folder so an interrupted download resumes
and a rerun does not fetch 2.6 GB again.
"""

from hw2.core.cli import stage_paths
from hw2.core.stage import Checked, run_stage
from hw2.speech.corpus import prepare_speech


def main(checked: Checked) -> None:
    args = stage_paths(__doc__, "root", "downloads")
    # a full archive is in --downloads, verified by the check
    folder = prepare_speech(checked.config, args.root, downloads=args.downloads)
    print(f"wrote {folder}")


if __name__ == "__main__":
    run_stage(main)
