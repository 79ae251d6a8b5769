"""Ragged on-disk storage of speech features: no padding on disk.

A split is a folder:
    mels.npy           float16, shape = (total_frames, n_mels), clips one after another
    frame_offsets.npy  int64, shape = (n_clips + 1,): clip i is mels[o[i]:o[i+1]]
    tokens.npy         uint8, shape = (total_tokens,), start and stop included
    token_offsets.npy  int64, shape = (n_clips + 1,)
    ids.txt            one clip id per line
Arrays are read memory-mapped, with allow_pickle=False.
"""

import shutil
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from hw2.core.errors import DataError
from hw2.core.io import atomic_dir

FILES = ("mels.npy", "frame_offsets.npy", "tokens.npy", "token_offsets.npy", "ids.txt")


def write_split(
    path: str | Path, items: Iterable[tuple[str, np.ndarray, np.ndarray]], n_mels: int
) -> int:
    """Stream (id, mel (n_frames, n_mels), tokens) items into a split folder.

    Mels are appended to a raw file as they come, so memory stays at one clip;
    the folder appears atomically at the end. Returns the number of clips.
    """
    path = Path(path)
    with atomic_dir(path) as tmp:
        ids: list[str] = []
        frame_offsets = [0]
        token_offsets = [0]
        tokens_all: list[np.ndarray] = []
        raw_path = tmp / "mels.raw"
        with raw_path.open("wb") as raw:
            for clip_id, mel, tokens in items:
                if mel.ndim != 2 or mel.shape[1] != n_mels:
                    raise ValueError(
                        f"{clip_id}: mel shape {mel.shape}, want (T, {n_mels})"
                    )
                raw.write(np.ascontiguousarray(mel, dtype=np.float16).tobytes())
                ids.append(clip_id)
                frame_offsets.append(frame_offsets[-1] + mel.shape[0])
                tokens_all.append(np.asarray(tokens, dtype=np.uint8))
                token_offsets.append(token_offsets[-1] + len(tokens))
        header = {
            "descr": np.lib.format.dtype_to_descr(np.dtype(np.float16)),
            "fortran_order": False,
            "shape": (frame_offsets[-1], n_mels),
        }
        with (tmp / "mels.npy").open("wb") as out, raw_path.open("rb") as raw:
            np.lib.format.write_array_header_1_0(out, header)
            shutil.copyfileobj(raw, out, 1 << 22)
        raw_path.unlink()
        np.save(tmp / "frame_offsets.npy", np.asarray(frame_offsets, dtype=np.int64))
        np.save(tmp / "token_offsets.npy", np.asarray(token_offsets, dtype=np.int64))
        tokens_cat = np.concatenate(tokens_all) if tokens_all else np.zeros(0, np.uint8)
        np.save(tmp / "tokens.npy", tokens_cat)
        (tmp / "ids.txt").write_text("".join(f"{i}\n" for i in ids))
    return len(ids)


class SpeechSplit:
    """Read-only view of a split folder written by write_split."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        for name in FILES:
            if not (self.path / name).is_file():
                raise DataError(f"{self.path}: missing {name} (run preprocess_speech)")
        try:
            self.mels = np.load(
                self.path / "mels.npy", mmap_mode="r", allow_pickle=False
            )
            self.frame_offsets = np.load(
                self.path / "frame_offsets.npy", allow_pickle=False
            )
            self.tokens_flat = np.load(self.path / "tokens.npy", allow_pickle=False)
            self.token_offsets = np.load(
                self.path / "token_offsets.npy", allow_pickle=False
            )
        except ValueError as exc:
            raise DataError(f"{self.path}: unreadable feature file ({exc})") from None
        self.ids = (self.path / "ids.txt").read_text().split()
        n = len(self.ids)
        fo, to = self.frame_offsets, self.token_offsets
        if (
            self.mels.ndim != 2
            or fo.shape != (n + 1,)
            or to.shape != (n + 1,)
            or fo[-1] != self.mels.shape[0]
            or to[-1] != self.tokens_flat.shape[0]
            or np.any(np.diff(fo) <= 0)
            or np.any(np.diff(to) < 2)
        ):
            raise DataError(f"{self.path}: feature files do not agree with each other")
        self.n_frames = np.diff(fo)
        self.n_tokens = np.diff(to)

    @property
    def n_mels(self) -> int:
        return int(self.mels.shape[1])

    def __len__(self) -> int:
        return len(self.ids)

    def mel(self, i: int) -> np.ndarray:
        """Clip i's log-mel features, shape = (n_frames, n_mels), float16."""
        return self.mels[self.frame_offsets[i] : self.frame_offsets[i + 1]]

    def tokens(self, i: int) -> np.ndarray:
        """Clip i's tokens, start and stop included, int64."""
        return self.tokens_flat[
            self.token_offsets[i] : self.token_offsets[i + 1]
        ].astype(np.int64)
