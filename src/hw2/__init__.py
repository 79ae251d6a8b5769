"""The homework-2 studies: McLaurin linear attention, a CNN on retina OCT, ASR."""

__version__ = "0.1.0"
