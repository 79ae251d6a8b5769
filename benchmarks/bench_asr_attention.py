"""ASR training step: softmax self-attention vs McLaurin in both of its forms.

The homework's model (hidden 200, 2 heads, so head size D = 100) is trained on
(forward, backward, AdamW step) with the same weights and batches three ways,
interleaved: softmax attention (`scaled_dot_product_attention`), McLaurin K = 3
evaluated in quadratic form (what `asr.attention_form: auto` picks at these
lengths), and McLaurin in linear form, whose M = 1 + D + D(D+1)/2 = 5,151
features per position exceed every clip's length. Batches are LJ-Speech-like
clips (1-10 s) bucketed as in training, taken at evenly spaced quantiles of
their padded length. Prints utterances per second and the ratios to softmax.

    python benchmarks/bench_asr_attention.py [--batch-size 16] [--steps 2]
"""

import numpy as np
import torch
from bench_asr_padding import bucketed_batches, lj_like_clips, make_batch
from harness import asr_trainer, parser, setup, timed

from hw2.asr.model import ASRModel, ModelDimensions, conv_out_length
from hw2.attention.feature_map import feature_dim
from hw2.attention.mclaurin import pick_form

MODES = {
    "softmax": {"attention": "softmax"},
    "mclaurin quadratic": {"attention": "mclaurin", "attention_form": "quadratic"},
    "mclaurin linear": {"attention": "mclaurin", "attention_form": "linear"},
}


def main() -> None:
    cli = parser(__doc__)
    cli.add_argument("--batch-size", type=int, default=16)
    cli.add_argument("--steps", type=int, default=2, help="timed batches per mode")
    args = cli.parse_args()
    device = setup(args)
    rng = np.random.default_rng(0)

    frames, tokens = lj_like_clips(9825, rng)
    ordered, _, picks = bucketed_batches(frames, args.batch_size, args.steps)
    warm_up = ordered[0]  # the shortest batch
    data = [
        make_batch(frames[b], tokens[b], int(frames[b].max()), rng, device)
        for b in [warm_up, *picks]
    ]
    dims = ModelDimensions()
    head = dims.n_state // dims.n_head
    longest = max(conv_out_length(int(frames[b].max())) for b in picks)
    terms = dims.attention_terms
    print(
        f"head size D = {head}, K = {terms}: M = {feature_dim(terms, head):,} "
        f"features; timed batches padded to {[int(frames[b].max()) for b in picks]} "
        f"frames (encoder positions up to {longest}; auto picks "
        f"{pick_form(terms, head, longest, longest)})"
    )

    torch.manual_seed(0)
    weights = ASRModel(dims).state_dict()  # one set of weights for every mode
    steps = {
        name: asr_trainer(ModelDimensions(**kind), device, weights)[1]
        for name, kind in MODES.items()
    }
    for name in MODES:  # warm-up on the first batch: allocator, kernels, plans
        steps[name](data[0])
    seconds = dict.fromkeys(MODES, 0.0)
    for batch in data[1:]:  # interleaved, so load changes hit every mode alike
        for name in MODES:
            seconds[name] += timed(device, steps[name], batch)[0]
    rate = {name: args.steps * args.batch_size / s for name, s in seconds.items()}
    for name in MODES:
        print(
            f"{name:>18}: {rate[name]:7.2f} utterances/s ({seconds[name]:.1f} s), "
            f"{seconds[name] / seconds['softmax']:.2f}x the softmax time"
        )
    print(f"({torch.get_num_threads()} threads, {device})")


if __name__ == "__main__":
    main()
