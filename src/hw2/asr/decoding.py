"""Batched greedy decoding from the start token up to the stop token.

With `use_cache` (the default) each step feeds only the newest token: the
transformer decoder appends one key/value pair per step to its self-attention cache
and projects the audio features for cross-attention once; the LSTM carries its
(h, c) state. `use_cache=False` recomputes the whole prefix at every step (the
reference the cache is tested and benchmarked against).
"""

import torch
from torch import Tensor

from hw2.asr.model import ASRModel, DecodingCache
from hw2.speech.text import EOS, MAX_TOKENS, PAD, SOS


@torch.no_grad()
def greedy_decode(
    model: ASRModel,
    mels: Tensor,
    n_frames: Tensor | None = None,
    *,
    max_tokens: int = MAX_TOKENS,
    use_cache: bool = True,
    stop_early: bool = True,
) -> Tensor:
    """mels: (B, n_mels, T), n_frames: (B,) → tokens (B, ≤ max_tokens), SOS first.

    After its stop token a sequence is filled with PAD. With stop_early the loop
    ends once every sequence has stopped; otherwise it always runs to max_tokens.
    """
    was_training = model.training
    model.eval()
    audio, audio_mask = model.encoder(mels, n_frames)
    B = mels.shape[0]
    tokens = torch.full((B, 1), SOS, dtype=torch.long, device=mels.device)
    done = torch.zeros(B, dtype=torch.bool, device=mels.device)
    cache = DecodingCache() if use_cache else None
    for _ in range(max_tokens - 1):
        step_input = tokens[:, -1:] if use_cache else tokens
        logits = model.decoder(step_input, audio, audio_mask, cache=cache)[:, -1]
        next_token = logits.argmax(dim=-1)
        next_token = torch.where(done, torch.full_like(next_token, PAD), next_token)
        tokens = torch.cat([tokens, next_token[:, None]], dim=1)
        done |= next_token == EOS
        if stop_early and bool(done.all()):
            break
    model.train(was_training)
    return tokens
