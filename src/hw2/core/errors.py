"""One error type for every problem a user can fix (a leaf: it imports nothing of
the project; the stage entry point is hw2.core.stage)."""


class Hw2Error(Exception):
    """A problem with params, input files or downloads, told in one line."""


class ParamError(Hw2Error):
    """A params.yaml value that is missing or not allowed."""


class DataError(Hw2Error):
    """An input file that is missing, malformed or fails its checksum."""


class ResourceError(Hw2Error):
    """Too little disk or memory for what a stage is about to do."""


class NonFiniteLossError(Hw2Error):
    """A training loss became NaN or infinite (both the CNN and the ASR raise it)."""
