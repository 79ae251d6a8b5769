"""Batches of similar-length clips, each padded only to its own longest clip.

A random batch of 64 LJ Speech clips almost always holds a clip near 10 s, so
padding to the batch maximum alone saves little; grouping clips of similar length
first brings the padded length down to about the mean clip length.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from hw2.core.errors import DataError
from hw2.core.params import short
from hw2.speech.features import SpeechSplit
from hw2.speech.text import PAD


class LengthBucketSampler(Sampler[list[int]]):
    """Yields lists of indices whose clips have similar lengths: the one owner of
    the order in which clips are seen.

    Training (shuffle=True): each epoch the clips are shuffled, cut into pools of
    `pool_batches` batches, each pool is sorted by length and cut into batches, and
    the batches are shuffled. The order is a pure function of (seed, epoch), so a
    resumed run sees the same batches. Evaluation (shuffle=False): one pool of all
    clips sorted by length, batches in order.

    Under torchrun (world > 1) each process iterates its share, batch[rank::world],
    of every batch. A last batch smaller than the world leaves some ranks no clip:
    they get its first clip again as a stand-in (every rank must take part in every
    step), which the training step weighs 0 (`stand_in`).
    """

    def __init__(
        self,
        lengths: Sequence[int] | np.ndarray,
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        pool_batches: int = 32,
        rank: int = 0,
        world: int = 1,
    ):
        if batch_size < 1 or pool_batches < 1:
            raise ValueError("batch_size and pool_batches must be positive")
        if not 0 <= rank < world:
            raise ValueError(f"rank must be in [0, {world}), got {rank}")
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.pool_batches = pool_batches
        self.rank, self.world = rank, world
        self.epoch = 0
        self._cached: tuple[int, list[list[int]]] | None = None

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose batch order __iter__ yields."""
        self.epoch = epoch

    def batches(self) -> list[list[int]]:
        """The whole batches of the current epoch, in order (every rank's)."""
        if self._cached is not None and self._cached[0] == self.epoch:
            return self._cached[1]
        n = len(self.lengths)
        if not self.shuffle:
            order = np.argsort(self.lengths, kind="stable")
            batches = [
                order[i : i + self.batch_size].tolist()
                for i in range(0, n, self.batch_size)
            ]
        else:
            rng = np.random.default_rng([self.seed, self.epoch])
            order = rng.permutation(n)
            pool_size = self.batch_size * self.pool_batches
            batches = []
            for start in range(0, n, pool_size):
                pool = order[start : start + pool_size]
                pool = pool[np.argsort(self.lengths[pool], kind="stable")]
                batches += [
                    pool[i : i + self.batch_size].tolist()
                    for i in range(0, len(pool), self.batch_size)
                ]
            rng.shuffle(batches)  # mix short and long batches within the epoch
        self._cached = (self.epoch, batches)
        return batches

    def stand_in(self, step: int) -> bool:
        """Whether this rank's share of batch `step` is a stand-in (weight 0)."""
        return self.world > 1 and len(self.batches()[step]) <= self.rank

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.batches():
            yield batch[self.rank :: self.world] or batch[:1]

    def __len__(self) -> int:
        n, pool_size = len(self.lengths), self.batch_size * self.pool_batches
        full, rest = divmod(n, pool_size)
        return full * self.pool_batches + -(-rest // self.batch_size)


@dataclass
class Batch:
    """A padded batch.

    mels: (B, n_mels, T) float32, zero past n_frames; n_frames: (B,) int64;
    tokens: (B, L) int64, PAD past n_tokens (start and stop included);
    indices: (B,) positions of the clips in their split.
    """

    mels: Tensor
    n_frames: Tensor
    tokens: Tensor
    n_tokens: Tensor
    indices: Tensor

    def _tensors(self) -> tuple[Tensor, ...]:
        return (self.mels, self.n_frames, self.tokens, self.n_tokens, self.indices)

    def to(self, device: torch.device) -> "Batch":
        """The batch on `device`; copies from pinned memory overlap the compute."""
        return Batch(*(t.to(device, non_blocking=True) for t in self._tensors()))

    def pin_memory(self) -> "Batch":
        """The batch in page-locked memory (DataLoader(pin_memory=True) calls it)."""
        return Batch(*(t.pin_memory() for t in self._tensors()))

    def __len__(self) -> int:
        return int(self.indices.shape[0])


class SpeechDataset(Dataset):
    """Items (index, mel (T, n_mels) float32, tokens (L,) int64) of a SpeechSplit."""

    def __init__(self, split: SpeechSplit):
        self.split = split

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, i: int) -> tuple[int, np.ndarray, np.ndarray]:
        mel = np.asarray(self.split.mel(i), dtype=np.float32)
        if not np.isfinite(mel).all():
            raise DataError(
                f"{self.split.path}: clip {short(self.split.ids[i])} has NaN or "
                "infinite features (rerun preprocess_speech)"
            )
        return i, mel, self.split.tokens(i)


def collate(items: Sequence[tuple[int, np.ndarray, np.ndarray]]) -> Batch:
    """Pad a list of (index, mel (T, n_mels), tokens (L,)) to the longest of each."""
    n_frames = torch.tensor([mel.shape[0] for _, mel, _ in items])
    n_tokens = torch.tensor([len(tok) for _, _, tok in items])
    n_mels = items[0][1].shape[1]
    mels = torch.zeros(len(items), n_mels, int(n_frames.max()))
    tokens = torch.full((len(items), int(n_tokens.max())), PAD, dtype=torch.int64)
    for row, (_, mel, tok) in enumerate(items):
        mels[row, :, : mel.shape[0]] = torch.from_numpy(mel).T
        tokens[row, : len(tok)] = torch.from_numpy(tok)
    indices = torch.tensor([i for i, _, _ in items])
    return Batch(mels, n_frames, tokens, n_tokens, indices)


def loader(
    dataset: Dataset, sampler: LengthBucketSampler, device: torch.device
) -> DataLoader:
    """Padded Batches of `dataset` in the sampler's order; pinned memory when they
    go to a GPU (Batch.to then overlaps the copy with the compute)."""
    return DataLoader(
        dataset,
        batch_sampler=sampler,
        collate_fn=collate,
        pin_memory=device.type == "cuda",
    )
