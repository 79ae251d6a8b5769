"""Length bucketing and padding collate."""

import numpy as np
import pytest
import torch

from hw2.asr.batching import LengthBucketSampler, SpeechDataset, collate
from hw2.speech.features import SpeechSplit, write_split
from hw2.speech.text import PAD


def lengths(n=1000, seed=0):
    return np.random.default_rng(seed).integers(138, 1378, n)


def test_every_clip_once_per_epoch_in_full_batches():
    sampler = LengthBucketSampler(lengths(1000), 64, seed=3, pool_batches=4)
    batches = list(sampler)
    assert len(batches) == len(sampler)
    assert sorted(i for b in batches for i in b) == list(range(1000))
    assert sum(len(b) != 64 for b in batches) <= 4  # at most one short batch per pool


def test_order_is_a_function_of_seed_and_epoch():
    a = LengthBucketSampler(lengths(), 16, seed=1)
    b = LengthBucketSampler(lengths(), 16, seed=1)
    assert list(a) == list(b)
    a.set_epoch(1)
    assert list(a) != list(b)
    b.set_epoch(1)
    assert list(a) == list(b)
    assert list(LengthBucketSampler(lengths(), 16, seed=2)) != list(b)


def test_buckets_pad_far_less_than_random_batches():
    n = lengths(4096)
    sampler = LengthBucketSampler(n, 64, seed=0)
    bucketed = np.mean([n[b].max() for b in sampler])
    rng = np.random.default_rng(0)
    random_batches = rng.permutation(4096).reshape(-1, 64)
    random_pad = np.mean([n[b].max() for b in random_batches])
    assert bucketed < 1.1 * n.mean() < random_pad


def test_evaluation_order_is_sorted_and_complete():
    n = lengths(50)
    batches = list(LengthBucketSampler(n, 16, shuffle=False))
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(50))
    assert list(n[flat]) == sorted(n)
    assert [len(b) for b in batches] == [16, 16, 16, 2]


def test_each_rank_takes_its_share_and_a_stand_in_for_none():
    # 9 clips at batch 4: batches of 4, 4 and 1; rank 1 has no clip of the last
    lengths = list(range(9))
    shares = [
        LengthBucketSampler(lengths, 4, shuffle=False, rank=rank, world=2)
        for rank in (0, 1)
    ]
    assert [list(s) for s in shares] == [
        [[0, 2], [4, 6], [8]],
        [[1, 3], [5, 7], [8]],
    ]
    assert [s.stand_in(2) for s in shares] == [False, True]
    assert not any(s.stand_in(i) for s in shares for i in (0, 1))
    whole = LengthBucketSampler(lengths, 4, seed=3)
    for epoch in (0, 1):
        whole.set_epoch(epoch)
        together = []
        for rank in (0, 1):
            share = LengthBucketSampler(lengths, 4, seed=3, rank=rank, world=2)
            share.set_epoch(epoch)
            together.append(list(share))
        # shuffled alike: the ranks' shares interleave into the whole batches
        for batch, a, b in zip(whole, *together, strict=True):
            assert sorted(a + b) == sorted(batch) or len(batch) == 1


@pytest.mark.parametrize(
    "bad", [{"batch_size": 0}, {"pool_batches": 0}, {"rank": 2, "world": 2}]
)
def test_bad_sizes(bad):
    with pytest.raises(ValueError):
        LengthBucketSampler([1, 2, 3], **{"batch_size": 2, **bad})


def test_collate_pads_to_the_longest_clip(tmp_path):
    rng = np.random.default_rng(0)
    items = [
        (f"c{i}", rng.normal(size=(t, 4)).astype(np.float16), np.arange(k) % 30)
        for i, (t, k) in enumerate([(5, 3), (9, 6), (2, 4)])
    ]
    write_split(tmp_path / "s", items, n_mels=4)
    data = SpeechDataset(SpeechSplit(tmp_path / "s"))
    batch = collate([data[0], data[2]])
    assert batch.mels.shape == (2, 4, 5) and batch.mels.dtype == torch.float32
    assert batch.n_frames.tolist() == [5, 2]
    assert torch.all(batch.mels[1, :, 2:] == 0)
    assert torch.equal(batch.mels[1, :, :2], torch.from_numpy(items[2][1].T).float())
    assert batch.tokens.tolist() == [[0, 1, 2, PAD], [0, 1, 2, 3]]
    assert batch.n_tokens.tolist() == [3, 4]
    assert batch.indices.tolist() == [0, 2]
    assert len(batch) == 2
