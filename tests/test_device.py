"""Threads and autocast for a device (hw2.core.device)."""

import pytest
import torch

from hw2.core.device import autocast, cpu_threads, one_cpu_thread


def test_one_cpu_thread_on_the_cpu_only():
    with cpu_threads(2):
        with one_cpu_thread(torch.device("cpu")):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with one_cpu_thread(torch.device("cuda")):  # a GPU's host threads stay
            assert torch.get_num_threads() == 2


@pytest.mark.filterwarnings("ignore:CUDA is not available")  # a CPU-only machine
def test_autocast_is_bf16_on_cuda_and_off_on_the_cpu_unless_asked():
    cuda = autocast(torch.device("cuda"))
    assert (cuda.device, cuda.fast_dtype) == ("cuda", torch.bfloat16)
    x = torch.randn(4, 4)
    with autocast(torch.device("cpu")):
        assert (x @ x).dtype == torch.float32
    with autocast(torch.device("cpu"), enabled=True):
        assert (x @ x).dtype == torch.bfloat16
