"""What train_asr reads from params.yaml: the model's sizes and the recipe, checked."""

from dataclasses import dataclass

from hw2.asr.model import (
    ATTENTION_FORMS,
    ATTENTIONS,
    DECODERS,
    ModelDimensions,
    conv_out_length,
)
from hw2.core.device import DEVICES
from hw2.core.errors import ParamError
from hw2.core.params import DATA_SOURCES, Params
from hw2.speech.audio import MIN_FRAMES


@dataclass(frozen=True)
class ASRConfig:
    """Everything train_asr reads from params.yaml, checked."""

    dims: ModelDimensions
    lr: float = 1e-3
    epochs: int = 15
    batch_size: int = 64
    eval_batch_size: int = 16
    label_smoothing: float = 0.1
    warmup: float = 0.15  # fraction of all steps spent warming up
    val_decode: int = 200  # validation clips greedily decoded per epoch
    seed: int = 42
    device: str = "auto"
    cpu_bf16: bool = True  # bf16 autocast for training steps on a CPU (CUDA: always)
    threads: int = 1  # CPU intra-op threads per process: float sums depend on it

    @classmethod
    def from_params(cls, p: Params) -> "ASRConfig":
        """Read and check the ASR keys; a bad value raises ParamError naming its key."""
        source = p.choice("data.speech.source", DATA_SOURCES)
        hidden = p.integer("asr.model.hidden", low=1)
        heads = p.integer("asr.model.heads", low=1)
        if hidden % heads:
            raise ParamError(
                f"{p.source}: asr.model.hidden must be a multiple of asr.model.heads, "
                f"got {hidden} and {heads}"
            )
        max_frames = p.integer("asr.max_frames", low=MIN_FRAMES)
        dims = ModelDimensions(
            n_audio_ctx=conv_out_length(max_frames),
            n_state=hidden,
            n_head=heads,
            n_mlp=p.integer("asr.model.mlp", low=1),
            n_audio_layer=p.integer("asr.model.encoder_layers", low=1),
            decoder=p.choice("decoder", DECODERS),
            attention=p.choice("asr.attention", ATTENTIONS),
            cross_attention=p.choice("asr.cross_attention", ATTENTIONS),
            attention_form=p.choice("asr.attention_form", ATTENTION_FORMS),
        )
        return cls(
            dims=dims,
            lr=p.number("asr.lr", low=0, low_open=True),
            epochs=p.integer(f"asr.epochs.{source}", low=1),
            batch_size=p.integer(f"asr.batch_size.{source}", low=1),
            eval_batch_size=p.integer("asr.eval_batch_size", low=1),
            label_smoothing=p.number("asr.label_smoothing", low=0, high=0.99),
            warmup=p.number("asr.warmup", low=0, high=0.99),
            val_decode=p.integer("asr.val_decode", low=1),
            seed=p.integer("asr.seed", low=0),
            device=p.choice("device", DEVICES),
            cpu_bf16=p.boolean("asr.cpu_bf16"),
            threads=p.integer("threads", low=1),
        )
