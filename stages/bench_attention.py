"""Stage bench_attention: McLaurin vs softmax attention; JSON, CSVs, PNGs in --out."""

from hw2.attention_bench.bench import BenchConfig, run_benchmark
from hw2.attention_bench.bench_outputs import format_summary, write_outputs
from hw2.core.cli import stage_paths
from hw2.core.device import DEVICES, pick_device
from hw2.core.errors import run_stage
from hw2.core.params import load_params


def main() -> None:
    args = stage_paths(__doc__, "out")
    params = load_params()
    device = pick_device(params.choice("device", DEVICES))
    config = BenchConfig.from_params(params, device=str(device))
    result = run_benchmark(config)
    write_outputs(result, args.out)
    print(format_summary(result["metrics"]))


if __name__ == "__main__":
    run_stage(main)
