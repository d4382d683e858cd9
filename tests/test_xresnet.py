"""11_train_imagenette against references: xresnet18/34/50 have torchvision's ResNet-18/34/50 layer structure and
parameter counts (body equal, the deep stem's difference counted exactly), forward shapes at 64/128/224 px and c_in=1,
and cnn_learner's errors for input that does not fit."""
import pytest, torch
from torch import nn
import torch.nn.functional as F
from functools import partial
from exp.nb_11 import (xresnet18, xresnet34, xresnet50, ResBlock, noop, create_phases, cnn_learner, get_batch, model_summary,
                        DataBunch, Dataset, get_dls, DeviceCallback, find_modules, is_lin_layer)   # not *: pytest would collect test_near
import exp.nb_11 as nb_11

from torchvision_ref import torchvision                               # tools/: the reference bench/ uses too
def torchvision_models(): return torchvision().models

ARCHS = {'18': (xresnet18, [2, 2, 2, 2], 1), '34': (xresnet34, [3, 4, 6, 3], 1), '50': (xresnet50, [3, 4, 6, 3], 4)}
def n_params(m): return sum(p.numel() for p in m.parameters())

def stages(m):
    "The four stages (nn.Sequential of ResBlocks) of an XResNet"
    return [l for l in m if isinstance(l, nn.Sequential) and l and isinstance(l[0], ResBlock)]

def deep_stem_params(c_in=3):
    "Three conv+BN: c_in -> (c_in+1)*8 -> 64 -> 64, 3x3, no conv bias"
    nfs = [c_in, (c_in+1)*8, 64, 64]
    return sum(nfs[i]*nfs[i+1]*9 + 2*nfs[i+1] for i in range(3))

def tv_stem_params(c_in=3): return c_in*64*49 + 2*64     # conv1 (7x7) + bn1

@pytest.mark.parametrize('depth', ARCHS)
def test_parameter_counts_match_torchvision(depth):
    f,layers,expansion = ARCHS[depth]
    ours,ref = f(c_out=1000),getattr(torchvision_models(), f'resnet{depth}')(weights=None)
    ref_body = sum(n_params(getattr(ref, f'layer{i}')) for i in range(1, 5))
    for s,r in zip(stages(ours), [getattr(ref, f'layer{i}') for i in range(1, 5)]):
        assert n_params(s) == n_params(r)                                  # stage by stage
    assert sum(n_params(s) for s in stages(ours)) == ref_body
    assert n_params(ours[-1]) == n_params(ref.fc)
    assert n_params(ours) - n_params(ref) == deep_stem_params() - tv_stem_params()
    assert n_params(ours) == n_params(ref) + 46944                         # 56,480 for the deep stem, 9,536 for the 7x7 one

@pytest.mark.parametrize('depth', ARCHS)
def test_layer_structure_matches_torchvision(depth):
    "Same blocks per stage; in each block the same convs (kernel size, channels, stride) in the same order"
    f,layers,expansion = ARCHS[depth]
    ours,ref = f(),getattr(torchvision_models(), f'resnet{depth}')(weights=None)
    assert [len(s) for s in stages(ours)] == layers
    for s,r in zip(stages(ours), [getattr(ref, f'layer{i}') for i in range(1, 5)]):
        for b,rb in zip(s, r):
            convs = [c for c in b.convs.modules() if isinstance(c, nn.Conv2d)]
            rconvs = [getattr(rb, f'conv{i}') for i in range(1, 4) if hasattr(rb, f'conv{i}')]
            assert [(c.kernel_size, c.in_channels, c.out_channels, c.stride) for c in convs] == \
                   [(c.kernel_size, c.in_channels, c.out_channels, c.stride) for c in rconvs]
            # identity path: torchvision's strided 1x1 conv + BN; ours an average pool, then the same 1x1 conv + BN, stride 1
            if rb.downsample is None: assert b.idconv is noop and b.pool is noop
            else:
                rc,c = rb.downsample[0],b.idconv[0]
                assert (c.in_channels, c.out_channels, c.kernel_size, c.stride) == (rc.in_channels, rc.out_channels, (1, 1), (1, 1))
                assert (b.pool is noop) == (rc.stride == (1, 1))

def test_basic_block_is_two_3x3_convs():
    b = ResBlock(1, 64, 128, stride=2)
    convs = [c for c in b.modules() if isinstance(c, nn.Conv2d)]
    assert [(c.kernel_size, c.stride) for c in convs] == [((3, 3), (2, 2)), ((3, 3), (1, 1)), ((1, 1), (1, 1))]
    assert b.convs[-1][1].weight.abs().sum() == 0                           # zero-BN on the block's last BatchNorm

def test_zero_bn_block_is_identity_path_at_init():
    torch.manual_seed(0)
    for b,x in [(ResBlock(1, 64, 64), torch.randn(4, 64, 8, 8)), (ResBlock(4, 16, 32, stride=2), torch.randn(4, 64, 9, 9))]:
        out = b(x)
        torch.testing.assert_close(out, F.relu(b.idconv(b.pool(x))))

@pytest.mark.parametrize('depth', ARCHS)
@pytest.mark.parametrize('size', [64, 128, 224])
def test_forward_shapes(depth, size):
    f = ARCHS[depth][0]
    m = f(c_out=10)
    assert m(torch.randn(2, 3, size, size)).shape == (2, 10)
    with torch.no_grad(): assert m.eval()(torch.randn(1, 3, size, size)).shape == (1, 10)   # batch of one in eval

def test_feature_map_sizes_match_torchvision():
    "Each stage's output has torchvision's size at 224 px (and at an odd size, 97 px)"
    ours,ref = xresnet18().eval(),torchvision_models().resnet18(weights=None).eval()
    for size in (224, 97):
        x,shapes = torch.randn(1, 3, size, size),[]
        with torch.no_grad():
            y = x
            for l in ours:
                y = l(y)
                if l in stages(ours): shapes.append(y.shape)
            y = ref.maxpool(ref.relu(ref.bn1(ref.conv1(x))))
            ref_shapes = []
            for i in range(1, 5): y = getattr(ref, f'layer{i}')(y); ref_shapes.append(y.shape)
        assert shapes == ref_shapes, size

def test_c_in_1_and_other_classes():
    m = xresnet18(c_in=1, c_out=37)
    assert m[0][0].in_channels == 1 and m[0][0].out_channels == 16
    assert m(torch.randn(2, 1, 64, 64)).shape == (2, 37)
    assert n_params(m) - n_params(xresnet18(c_out=37)) == deep_stem_params(1) - deep_stem_params(3)

def test_xresnet50_gradients_flow():
    m = xresnet50(c_out=10)
    F.cross_entropy(m(torch.randn(4, 3, 64, 64)), torch.tensor([0, 1, 2, 3])).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in m.parameters())

@pytest.mark.parametrize('bad', [0, -1, 2.5, None, True, '3'])
def test_bad_channels(bad):
    with pytest.raises(ValueError, match='c_in'): xresnet18(c_in=bad)
    with pytest.raises(ValueError, match='c_out'): xresnet18(c_out=bad)

def test_create_phases():
    assert create_phases(0.3) == [0.3, 0.7]
    assert create_phases([0.25, 0.5]) == [0.25, 0.5, 0.25]
    for bad in (1, 1.2, [0.5, 0.6], 0, -0.1):
        with pytest.raises(ValueError, match='create_phases'): create_phases(bad)

# ---------------------------------------------------------------- cnn_learner on tiny random data
def tiny_data(c_in=3, c_out=4, n=16, size=32):
    x,y = torch.randn(n, c_in, size, size),torch.arange(n) % c_out
    return DataBunch(*get_dls(Dataset(x, y), Dataset(x[:8], y[:8]), 8), c_in=c_in, c_out=c_out)

OPT = partial(torch.optim.SGD, momentum=0.9)

def test_cnn_learner_trains_on_any_device():
    learn = cnn_learner(xresnet18, tiny_data(), F.cross_entropy, OPT, lr=0.01, progress=False)
    assert learn.model[-1].out_features == 4 and learn.model[0][0].in_channels == 3
    assert any(isinstance(cb, DeviceCallback) for cb in learn.cbs)
    before = [p.detach().clone() for p in learn.model.parameters()]
    learn.fit(1)
    assert any(not torch.equal(a, b.detach().cpu()) for a,b in zip(before, learn.model.parameters()))

def test_cnn_learner_course_cuda_flag():
    learn = cnn_learner(xresnet18, tiny_data(), F.cross_entropy, OPT, cuda=False, progress=False)
    assert not any(isinstance(cb, DeviceCallback) for cb in learn.cbs)

def test_cnn_learner_c_out_mismatch_raises_before_training():
    learn = cnn_learner(xresnet18, tiny_data(c_out=4), F.cross_entropy, OPT, c_out=10, progress=False)
    before = [p.detach().clone() for p in learn.model.parameters()]
    with pytest.raises(ValueError, match=r'c_out=10.*c_out=4'): learn.fit(1)
    assert all(torch.equal(a, b) for a,b in zip(before, learn.model.parameters()))     # nothing trained
    learn.model[-1] = nn.Linear(512, 4)                                                 # a new head: fine (11a does this)
    learn.fit(1)

def test_cnn_learner_c_in_mismatch():
    with pytest.raises(ValueError, match=r'c_in=1.*c_in=3'): cnn_learner(xresnet18, tiny_data(c_in=3), F.cross_entropy, OPT, c_in=1)
    data = tiny_data(c_in=3); data.c_in = None                                          # undeclared: checked at fit
    learn = cnn_learner(xresnet18, data, F.cross_entropy, OPT, c_in=1, progress=False)
    data.c_in = 3
    with pytest.raises(ValueError, match=r'c_in=1.*c_in=3'): learn.fit(1)

@pytest.mark.parametrize('kw,err,match', [
    (dict(norm='imagenet'), TypeError, 'norm'), (dict(mixup=-0.2), ValueError, 'mixup'), (dict(mixup='0.4'), ValueError, 'mixup'),
    (dict(c_out=0), ValueError, 'c_out'), (dict(c_in=2.0), ValueError, 'c_in')])
def test_cnn_learner_bad_args(kw, err, match):
    with pytest.raises(err, match=match): cnn_learner(xresnet18, tiny_data(), F.cross_entropy, OPT, **kw)

def test_cnn_learner_model_not_function():
    with pytest.raises(TypeError, match='xresnet18, not xresnet18()'): cnn_learner(xresnet18(), tiny_data(), F.cross_entropy, OPT)

def test_get_batch_and_model_summary(capsys):
    data = tiny_data()
    learn = cnn_learner(xresnet18, data, F.cross_entropy, OPT, norm=lambda x: x*0+1, progress=False)
    xb,yb = get_batch(data.valid_dl, learn)
    assert (xb == 1).all() and xb.shape == (8, 3, 32, 32)                   # through the norm callback
    state = {k: v.clone() for k,v in learn.model.state_dict().items()}
    model_summary(learn, data)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(list(learn.model.children())) and lines[-1].split()[-2:] == ['(8,', '4)']
    assert all(torch.equal(v, learn.model.state_dict()[k]) for k,v in state.items())   # BatchNorm's statistics untouched
    model_summary(learn.model, data, find_all=True)                          # the course's call: a model and the data
    n_convs = sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in learn.model.modules())
    assert len(capsys.readouterr().out.splitlines()) == n_convs == 23     # 3 stem + 16 block + 3 identity-path convs, 1 linear

def test_cnn_learner_mixup():
    from exp.nb_11 import MixUp
    learn = cnn_learner(xresnet18, tiny_data(), F.cross_entropy, OPT, mixup=0.4, progress=False)
    assert [cb.__class__ for cb in learn.cbs].count(MixUp) == 1
    learn.logger = lambda *a: None
    learn.fit(1)
    assert not any(isinstance(cb, MixUp) for cb in cnn_learner(xresnet18, tiny_data(), F.cross_entropy, OPT).cbs)

def test_get_batch_with_mixed_precision(capsys):
    "Outside a fit the model is float32: get_batch gives the batch in the model's dtype, whatever the callbacks cast"
    from exp.nb_11 import MixedPrecision
    data = tiny_data()
    learn = cnn_learner(xresnet18, data, F.cross_entropy, OPT, progress=False,
                        xtra_cb=partial(MixedPrecision, dtype=torch.bfloat16))
    xb,_ = get_batch(data.valid_dl, learn)
    assert xb.dtype == torch.float32
    model_summary(learn, data)
    assert capsys.readouterr().out.splitlines()[-1].split()[-2:] == ['(8,', '4)']
