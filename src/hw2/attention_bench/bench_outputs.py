"""What bench_attention writes: attention.json (the headline numbers),
attention_details.json and the CSVs dvc.yaml's top-level plots draw; and the few
lines it prints."""

from pathlib import Path

from hw2.attention_bench.headline import headline
from hw2.core.io import write_json, write_text


def write_outputs(result: dict, out_dir: str | Path = "metrics") -> None:
    """attention.json, attention_details.json, attention_{time,memory,error}.csv,
    atomically. The CSVs are long: a row per length (or K) and method."""
    out = Path(out_dir)
    errors = [
        (k, "mclaurin" + suffix, e)
        for suffix in ("", "_causal")
        for k, e in result["metrics"]["rel_error" + suffix].items()
    ]
    write_text(
        out / "attention_time.csv",
        "length,method,seconds\n"
        + "".join(f"{n},{m},{s:.6g}\n" for n, m, s in result["time"]),
    )
    write_text(
        out / "attention_memory.csv",
        "length,method,peak_bytes\n"
        + "".join(f"{n},{m},{b}\n" for n, m, b in result["memory"]),
    )
    write_text(
        out / "attention_error.csv",
        "terms,method,rel_error\n"
        + "".join(f"{k},{m},{e:.6g}\n" for k, m, e in errors),
    )
    write_json(out / "attention_details.json", result["metrics"])
    write_json(out / "attention.json", headline(result["metrics"]))


def format_summary(metrics: dict) -> str:
    """A few lines for the terminal."""
    lines = []
    for suffix, label in (("", "non-causal"), ("_causal", "causal")):
        lines.append(
            f"{label:>10}: speedup at max L "
            f"{metrics['speedup_at_max_len' + suffix]:.1f}x, "
            f"memory ratio {metrics['memory_ratio_at_max_len' + suffix]:.2f}, "
            f"crossover L {metrics['crossover_len' + suffix]} "
            f"(flops: {metrics['theoretical_crossover_len' + suffix]})"
        )
    errors = ", ".join(f"K={k}: {e:.4f}" for k, e in metrics["rel_error"].items())
    lines.append(f"relative error vs softmax: {errors}")
    return "\n".join(lines)
