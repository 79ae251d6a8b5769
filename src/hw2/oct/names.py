"""Names the OCT wing shares: the classes and the keys of metrics/cnn.json.

The phantoms, the data checks, the model, the evaluation, the report and the PR
comment import these instead of spelling them again.
"""

CLASSES = ("CNV", "DME", "drusen", "normal")  # OCTMNIST's labels 0..3
N_CLASSES = len(CLASSES)

# OCTMNIST's images per class (CNV, DME, drusen, normal) in each split: train and
# validation are imbalanced alike, the test split is balanced.
OCTMNIST_COUNTS = {
    "train": (33_484, 10_213, 7_754, 46_026),
    "val": (3_721, 1_135, 862, 5_114),
    "test": (250, 250, 250, 250),
}

# The keys evaluate_cnn writes. METRICS and their spread go to metrics/cnn.json
# (the declared metrics: dvclive's summary of train_cnn is a plain output), the
# rest to metrics/cnn_details.json.
VAL_ACC = "val_acc"
TEST_ACC = "test_acc"
TRAIN_LOSS = "train_loss"
TEST_ACC_CI95 = "test_acc_ci95"
TEST_ACC_PER_CLASS = "test_acc_per_class"
SEEDS = "seeds"
N_PARAMS = "n_params"
METRICS = (VAL_ACC, TEST_ACC)


def std_key(key: str) -> str:
    """The key of a metric's spread over seeds: val_acc → val_acc_std."""
    return f"{key}_std"


def per_seed_key(key: str) -> str:
    """The key of a metric's per-seed values: val_acc → val_acc_per_seed."""
    return f"{key}_per_seed"
