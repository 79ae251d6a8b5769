import pytest
import torch

from hw2.oct.model import CNNDimensions, OCTNet


@pytest.mark.parametrize("maxpool", [True, False])
def test_both_variants_have_the_homework_parameter_count(maxpool):
    model = OCTNet(CNNDimensions(maxpool=maxpool))
    assert model.n_params() == 224_892


@pytest.mark.parametrize("maxpool", [True, False])
def test_output_is_log_probabilities(maxpool):
    torch.manual_seed(0)
    model = OCTNet(CNNDimensions(maxpool=maxpool)).eval()
    out = model(torch.randn(5, 1, 28, 28))
    assert out.shape == (5, 4)
    torch.testing.assert_close(out.exp().sum(-1), torch.ones(5))


def test_variants_differ_in_layers_not_in_sizes():
    a, b = OCTNet(CNNDimensions(maxpool=True)), OCTNet(CNNDimensions(maxpool=False))
    assert a.conv1.stride == (1, 1) and b.conv1.stride == (2, 2)
    assert a.conv2.padding == b.conv2.padding == (0, 0)
    shapes = {k: v.shape for k, v in a.state_dict().items()}
    assert shapes == {k: v.shape for k, v in b.state_dict().items()}


def test_dropout_only_in_training_mode():
    torch.manual_seed(0)
    model = OCTNet(CNNDimensions())
    x = torch.randn(4, 1, 28, 28)
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    assert not torch.equal(model(x), model(x))
