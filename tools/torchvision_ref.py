"""torchvision, the reference the tests and the benchmarks compare with (a dev dependency, never one of exp's).

PyPI's torchvision wheel is built against CUDA torch: next to the CPU-only torch wheel its compiled operators do not
load, and registering their fake kernels fails at import. What we compare with (transforms.v2, the ResNets) is pure
Python, so that registration is skipped."""
from unittest import mock
import torch

def torchvision():
    "The torchvision module, imported with its fake-kernel registration skipped"
    with mock.patch('torch.library.register_fake', lambda *a, **k: (lambda f: f)):
        import torchvision
    return torchvision

def v2():
    "torchvision.transforms.v2"
    torchvision()
    from torchvision.transforms import v2
    return v2

def crop_pipeline(size, flip=True, **rrc_kwargs):
    "PIL image -> RandomResizedCrop(size, **rrc_kwargs), a random flip, a float tensor in [0,1]: 10's pipeline in v2"
    t = v2()
    return t.Compose([t.RandomResizedCrop(size, **rrc_kwargs), *([t.RandomHorizontalFlip()] if flip else []),
                      t.PILToTensor(), t.ToDtype(torch.float32, scale=True)])
