"""The keys evaluate_cnn writes and the report and the PR comment read: spelt once,
here. METRICS and their per-seed values go to metrics/cnn.json (the declared
metrics: dvclive's summary of train_cnn is a plain output), the rest to
metrics/cnn_details.json.
"""

VAL_ACC = "val_acc"
TEST_ACC = "test_acc"
TRAIN_LOSS = "train_loss"
TEST_ACC_CI95 = "test_acc_ci95"
TEST_ACC_PER_CLASS = "test_acc_per_class"
SEEDS = "seeds"
N_PARAMS = "n_params"
# the headline first: `dvc exp show` draws a file's keys in this order and, when the
# table is too wide, folds every column but the first of each group from the right
METRICS = (TEST_ACC, VAL_ACC)


def per_seed_key(key: str) -> str:
    """The key of a metric's per-seed values: val_acc → val_acc_per_seed."""
    return f"{key}_per_seed"
