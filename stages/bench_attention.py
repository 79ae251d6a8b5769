"""Stage bench_attention: McLaurin vs softmax attention; JSON and CSVs in --out."""

from dataclasses import replace

from hw2.attention_bench.bench import run_benchmark
from hw2.attention_bench.bench_outputs import format_summary, write_outputs
from hw2.core.cli import stage_paths
from hw2.core.stage import Checked, run_stage


def main(checked: Checked) -> None:
    args = stage_paths(__doc__, "out")
    config = replace(checked.config, device=str(checked.device))
    result = run_benchmark(config)
    write_outputs(result, args.out)
    print(format_summary(result["metrics"]))


if __name__ == "__main__":
    run_stage(main)
