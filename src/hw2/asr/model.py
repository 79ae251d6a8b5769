"""The speech recogniser of study 3: a Whisper-like audio encoder and two decoders.

Encoder: two 1-D convolutions (the second with stride 2) + sinusoidal positions,
pre-norm residual self-attention blocks, final LayerNorm. Decoder "transformer":
token + learned position embeddings, one block with causal self-attention,
cross-attention and MLP. Decoder "lstm": embedding, LayerNorm, a 1-layer LSTM, then
the same residual cross-attention + MLP block. Both decoders share
`forward(tokens, audio_features, audio_mask, cache) -> logits`, so the training
and decoding loops never branch on the decoder type; `cache` (a DecodingCache)
carries what incremental decoding keeps between steps.

Attention: `attention` is the kind of every self-attention (encoder and decoder),
`cross_attention` that of the decoder's attention to the audio: "softmax"
(scaled_dot_product_attention) or "mclaurin" (study 1's kernel Σ_{n<K} tⁿ/n!,
evaluated in `attention_form`, see hw2.attention.mclaurin.pick_form), picked once
when a MultiHeadAttention is built.

Padding: a batch is padded to its own longest clip; `audio_mask` (True for real
frames) keeps padded frames out of every attention, and padded frames are zeroed
at the input and after the first convolution, so that a clip's features do not
depend on what it was batched with.
"""

import math
from dataclasses import asdict, dataclass, field, fields
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hw2.attention.mclaurin import FORMS, mclaurin_attention
from hw2.speech.audio import MAX_FRAMES
from hw2.speech.text import MAX_TOKENS, VOCAB_SIZE

DECODERS = ("transformer", "lstm")
ATTENTIONS = ("softmax", "mclaurin")
ATTENTION_FORMS = FORMS
# The decoder's inputs are a transcript's tokens but the last (the stop token, or
# the last character of a cut transcript, is only ever a target): the start token
# and at most MAX_TOKENS - 2 characters. One learned position for each.
TEXT_POSITIONS = MAX_TOKENS - 1


def conv_out_length(n_frames: Tensor | int) -> Tensor | int:
    """Frames after the stride-2 convolution (kernel 3, padding 1): ceil(T / 2)."""
    return (n_frames + 1) // 2


@dataclass(frozen=True)
class ModelDimensions:
    """Every size of the model; checkpoints store it and models are rebuilt from it."""

    n_mels: int = 80
    n_audio_ctx: int = conv_out_length(MAX_FRAMES)  # 1377 positions after the stride
    n_state: int = 200
    n_head: int = 2
    n_mlp: int = 400
    n_audio_layer: int = 2
    n_vocab: int = VOCAB_SIZE  # 35
    decoder: str = "transformer"
    attention: str = "softmax"  # self-attention of encoder and decoder
    cross_attention: str = "softmax"  # the decoder's attention to the audio
    attention_terms: int = 3  # McLaurin series terms K, for either kind above
    # McLaurin only: how the kernel is evaluated (hw2.attention.mclaurin.FORMS); the
    # same numbers up to rounding, so checkpoints load with either.
    attention_form: str = "auto"

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type is int and (not isinstance(value, int) or value < 1):
                raise ValueError(f"ModelDimensions.{f.name} must be a positive int")
        if self.decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {DECODERS}, got {self.decoder!r}")
        for name in ("attention", "cross_attention"):
            if getattr(self, name) not in ATTENTIONS:
                raise ValueError(f"{name} must be one of {ATTENTIONS}")
        if self.attention_form not in ATTENTION_FORMS:
            raise ValueError(f"attention_form must be one of {ATTENTION_FORMS}")
        if self.n_state % self.n_head:
            raise ValueError("n_state must be a multiple of n_head")


def sinusoids(length: int, channels: int, max_timescale: float = 10000.0) -> Tensor:
    """Fixed sinusoidal positions, shape = (length, channels): sines then cosines."""
    half = channels // 2
    inv_timescales = torch.exp(
        -math.log(max_timescale) / max(half - 1, 1) * torch.arange(half)
    )
    angles = torch.arange(length)[:, None] * inv_timescales[None, :]
    table = torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)
    return F.pad(table, (0, channels - 2 * half))  # odd widths get one zero column


@dataclass
class DecodingCache:
    """What incremental decoding keeps between steps (greedy_decode makes one).

    offset: the positions fed so far; keys_values: per attention module, the
    keys and values of its self-attention so far, or of the audio for a
    cross-attention (projected once); lstm: the LSTM decoder's (h, c) state.
    """

    offset: int = 0
    keys_values: dict[nn.Module, tuple[Tensor, Tensor]] = field(default_factory=dict)
    lstm: tuple[Tensor, Tensor] | None = None


def softmax_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    causal: bool = False,
    key_mask: Tensor | None = None,
) -> Tensor:
    """scaled_dot_product_attention with a key mask (B, Lk) and, when causal, query
    i at absolute position Lk - Lq + i seeing keys up to that position."""
    mask = None
    if key_mask is not None:
        mask = key_mask[:, None, None, :]  # (B, 1, 1, Lk)
    if causal:
        Lq, Lk = q.shape[2], k.shape[2]
        tri = torch.ones(Lq, Lk, dtype=torch.bool, device=q.device)
        tri = tri.tril(diagonal=Lk - Lq)
        mask = tri if mask is None else mask & tri
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


class MultiHeadAttention(nn.Module):
    """Multi-head attention through scaled_dot_product_attention (or McLaurin)."""

    def __init__(
        self,
        n_state: int,
        n_head: int,
        kind: str = "softmax",
        terms: int = 3,
        form: str = "auto",
    ):
        super().__init__()
        self.n_head = n_head
        self.kind = kind
        self.query = nn.Linear(n_state, n_state)
        self.key = nn.Linear(n_state, n_state, bias=False)  # a key bias cancels out
        self.value = nn.Linear(n_state, n_state)
        self.out = nn.Linear(n_state, n_state)
        # (q, k, v, *, causal, key_mask) -> z. McLaurin without its finiteness
        # check: that is a device sync per call, and NaN should propagate as it
        # does through softmax, so that a diverged model shows as a non-finite
        # loss (which training checks) rather than as an exception in here.
        self.attend = softmax_attention
        if kind == "mclaurin":
            self.attend = partial(
                mclaurin_attention, terms=terms, form=form, check_finite=False
            )

    def _heads(self, x: Tensor) -> Tensor:
        B, T, C = x.shape
        return x.view(B, T, self.n_head, C // self.n_head).transpose(
            1, 2
        )  # (B, H, T, d)

    def forward(
        self,
        x: Tensor,
        xa: Tensor | None = None,
        *,
        key_mask: Tensor | None = None,
        causal: bool = False,
        cache: DecodingCache | None = None,
    ) -> Tensor:
        """Self-attention (xa None) or cross-attention to xa.

        x: (B, Lq, C); xa: (B, Lk, C); key_mask: (B, Lk) bool, True for real keys.
        With a cache, self-attention appends this call's keys/values to those of
        earlier calls (x then holds only the new positions) and cross-attention
        projects xa once. Returns (B, Lq, C).
        """
        q = self._heads(self.query(x))
        cached = None if cache is None else cache.keys_values.get(self)
        if xa is not None and cached is not None:
            k, v = cached
        else:
            source = x if xa is None else xa
            k, v = self._heads(self.key(source)), self._heads(self.value(source))
            if cache is not None:
                if xa is None and cached is not None:
                    k = torch.cat([cached[0], k], dim=2)
                    v = torch.cat([cached[1], v], dim=2)
                cache.keys_values[self] = (k, v)
        # A single new query sees every cached key, so it needs no mask at all.
        z = self.attend(q, k, v, causal=causal and q.shape[2] > 1, key_mask=key_mask)
        B, H, T, d = z.shape
        return self.out(z.transpose(1, 2).reshape(B, T, H * d))


class ResidualAttentionBlock(nn.Module):
    """Pre-norm residual block: [self-attention] → [cross-attention] → MLP."""

    def __init__(
        self,
        dims: ModelDimensions,
        *,
        self_attention: bool = True,
        cross_attention: bool = False,
        causal: bool = False,
    ):
        super().__init__()
        n = dims.n_state
        self.causal = causal

        def attention(kind: str) -> MultiHeadAttention:
            return MultiHeadAttention(
                n, dims.n_head, kind, dims.attention_terms, dims.attention_form
            )

        self.attn = self.attn_ln = None
        if self_attention:
            self.attn = attention(dims.attention)
            self.attn_ln = nn.LayerNorm(n)
        self.cross_attn = self.cross_attn_ln = None
        if cross_attention:
            self.cross_attn = attention(dims.cross_attention)
            self.cross_attn_ln = nn.LayerNorm(n)
        self.mlp = nn.Sequential(
            nn.Linear(n, dims.n_mlp), nn.GELU(), nn.Linear(dims.n_mlp, n)
        )
        self.mlp_ln = nn.LayerNorm(n)

    def forward(
        self,
        x: Tensor,
        xa: Tensor | None = None,
        *,
        mask: Tensor | None = None,
        xa_mask: Tensor | None = None,
        cache: DecodingCache | None = None,
    ) -> Tensor:
        """x: (B, L, C); xa: (B, La, C); masks (B, L) / (B, La) True for real."""
        if self.attn is not None:
            x = x + self.attn(
                self.attn_ln(x), key_mask=mask, causal=self.causal, cache=cache
            )
        if self.cross_attn is not None:
            x = x + self.cross_attn(
                self.cross_attn_ln(x), xa, key_mask=xa_mask, cache=cache
            )
        return x + self.mlp(self.mlp_ln(x))


class AudioEncoder(nn.Module):
    """Log-mel frames → audio features at half the frame rate."""

    def __init__(self, dims: ModelDimensions):
        super().__init__()
        self.conv1 = nn.Conv1d(dims.n_mels, dims.n_state, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(
            dims.n_state, dims.n_state, kernel_size=3, stride=2, padding=1
        )
        self.register_buffer(
            "positional_embedding",
            sinusoids(dims.n_audio_ctx, dims.n_state),
            persistent=False,
        )
        self.blocks = nn.ModuleList(
            ResidualAttentionBlock(dims) for _ in range(dims.n_audio_layer)
        )
        self.ln_post = nn.LayerNorm(dims.n_state)

    def forward(
        self, mel: Tensor, n_frames: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """mel: (B, n_mels, T), clip i's frames in [:n_frames[i]] (n_frames: (B,)).

        Returns features (B, ceil(T/2), n_state) and their mask (B, ceil(T/2)),
        True for real positions (None when n_frames is None: nothing is padded).
        """
        T = mel.shape[-1]
        mask = frame_mask = None
        if n_frames is not None:
            frame_mask = torch.arange(T, device=mel.device)[None, :] < n_frames[:, None]
            frame_mask = frame_mask[:, None, :].to(mel.dtype)  # (B, 1, T)
            mel = mel * frame_mask
            n_out = conv_out_length(n_frames)
            mask = (
                torch.arange(conv_out_length(T), device=mel.device)[None, :]
                < n_out[:, None]
            )
        x = F.gelu(self.conv1(mel))
        if frame_mask is not None:
            # Zero the padded frames, so that both convolutions see at a clip's end
            # the zero padding they would see on the clip alone.
            x = x * frame_mask.to(x.dtype)
        x = F.gelu(self.conv2(x)).transpose(1, 2)  # (B, T', C)
        if x.shape[1] > self.positional_embedding.shape[0]:
            raise ValueError(
                f"{T} frames exceed the encoder's "
                f"{self.positional_embedding.shape[0]} positions"
            )
        x = x + self.positional_embedding[: x.shape[1]].to(x.dtype)
        for block in self.blocks:
            x = block(x, mask=mask)
        return self.ln_post(x), mask


class TransformerDecoder(nn.Module):
    """Token + learned position embeddings, one causal self/cross-attention block."""

    def __init__(self, dims: ModelDimensions):
        super().__init__()
        self.token_embedding = nn.Embedding(dims.n_vocab, dims.n_state)
        self.positional_embedding = nn.Parameter(
            torch.empty(TEXT_POSITIONS, dims.n_state)
        )
        # Tokens and positions start at the same small scale: with the default
        # N(0, 1) tokens, positions would be drowned out until they had grown, and
        # the cross-attention alignment would form later.
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.02)
        self.block = ResidualAttentionBlock(dims, cross_attention=True, causal=True)
        self.ln = nn.LayerNorm(dims.n_state)
        self.head = nn.Linear(dims.n_state, dims.n_vocab)

    def forward(
        self,
        tokens: Tensor,
        audio_features: Tensor,
        audio_mask: Tensor | None = None,
        cache: DecodingCache | None = None,
    ) -> Tensor:
        """tokens: (B, L) → logits (B, L, n_vocab).

        With a cache, tokens are only the positions after those already seen.
        """
        offset = cache.offset if cache is not None else 0
        L = tokens.shape[1]
        if offset + L > TEXT_POSITIONS:
            raise ValueError(
                f"{offset + L} decoder positions exceed the decoder's {TEXT_POSITIONS}"
            )
        x = (
            self.token_embedding(tokens)
            + self.positional_embedding[offset : offset + L]
        )
        x = self.block(x, audio_features, xa_mask=audio_mask, cache=cache)
        if cache is not None:
            cache.offset = offset + L
        return self.head(self.ln(x))


class LSTMDecoder(nn.Module):
    """Embedding → LayerNorm → LSTM → residual cross-attention + MLP block."""

    def __init__(self, dims: ModelDimensions):
        super().__init__()
        self.token_embedding = nn.Embedding(dims.n_vocab, dims.n_state)
        self.ln_in = nn.LayerNorm(dims.n_state)
        self.lstm = nn.LSTM(dims.n_state, dims.n_state, num_layers=1, batch_first=True)
        self.block = ResidualAttentionBlock(
            dims, self_attention=False, cross_attention=True
        )
        self.ln = nn.LayerNorm(dims.n_state)
        self.head = nn.Linear(dims.n_state, dims.n_vocab)

    def forward(
        self,
        tokens: Tensor,
        audio_features: Tensor,
        audio_mask: Tensor | None = None,
        cache: DecodingCache | None = None,
    ) -> Tensor:
        """tokens: (B, L) → logits (B, L, n_vocab); a cache carries the (h, c) state."""
        state = cache.lstm if cache is not None else None
        x, state = self.lstm(self.ln_in(self.token_embedding(tokens)), state)
        if cache is not None:
            cache.lstm = state
            cache.offset += tokens.shape[1]
        x = self.block(x, audio_features, xa_mask=audio_mask, cache=cache)
        return self.head(self.ln(x))


class ASRModel(nn.Module):
    """Audio encoder + the decoder named by dims.decoder."""

    def __init__(self, dims: ModelDimensions):
        super().__init__()
        self.dims = dims
        self.encoder = AudioEncoder(dims)
        decoder_class = (
            TransformerDecoder if dims.decoder == "transformer" else LSTMDecoder
        )
        self.decoder = decoder_class(dims)

    def forward(self, mel: Tensor, n_frames: Tensor | None, tokens: Tensor) -> Tensor:
        """mel: (B, n_mels, T), n_frames: (B,), tokens: (B, L) → (B, L, n_vocab)."""
        audio_features, audio_mask = self.encoder(mel, n_frames)
        return self.decoder(tokens, audio_features, audio_mask)

    def n_params(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def checkpoint(self) -> dict[str, Any]:
        """What data/models/asr.pt holds: the dims and the weights."""
        return {"dims": asdict(self.dims), "model_state_dict": self.state_dict()}

    @classmethod
    def from_checkpoint(cls, checkpoint: dict[str, Any]) -> "ASRModel":
        """Rebuild a model from checkpoint()'s dict."""
        model = cls(ModelDimensions(**checkpoint["dims"]))
        model.load_state_dict(checkpoint["model_state_dict"])
        return model
