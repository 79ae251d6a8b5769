"""attention.json: the benchmark's numbers people compare, under short names.

DVC tabulates every number of a metrics file (`dvc metrics show`, `dvc exp show`),
so bench_attention's whole record (crossovers, seconds, bytes, settings) goes to
attention_details.json, a plain output, and attention.json holds these: names
short enough for a terminal's table.
"""

# attention.json's key: the record's key
RENAMED = {
    "speedup": "speedup_at_max_len",
    "speedup_causal": "speedup_at_max_len_causal",
    "memory_ratio": "memory_ratio_at_max_len",
    "memory_ratio_causal": "memory_ratio_at_max_len_causal",
}


def headline(record: dict) -> dict:
    """Softmax over McLaurin at the longest length (time, then peak memory: above 1
    McLaurin is faster or smaller), and McLaurin's relative error at the number of
    terms the timings used."""
    out = {short: record[key] for short, key in RENAMED.items()}
    terms = str(record["settings"]["terms"])
    for suffix in ("", "_causal"):
        if terms in record["rel_error" + suffix]:
            out["rel_error" + suffix] = record["rel_error" + suffix][terms]
    return out
