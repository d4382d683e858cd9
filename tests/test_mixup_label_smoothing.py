"""10b against references: LabelSmoothingCrossEntropy vs F.cross_entropy(label_smoothing=), MixUp vs its formula and
torchvision.transforms.v2.MixUp, the loss function restored however a fit ends, and clear errors for bad input"""
import math
from types import SimpleNamespace
from unittest import mock
import numpy as np
import pytest, torch
from torch import nn
import torch.nn.functional as F
import exp.nb_10b as _exp
# the lesson's names, without its test helpers (pytest would collect `test`, `test_eq`, ... as tests)
globals().update({k: v for k, v in vars(_exp).items() if not k.startswith(('_', 'test'))})

DTYPES = {torch.float16: 2e-3, torch.bfloat16: 1.6e-2, torch.float32: 2e-6, torch.float64: 1e-12}   # relative tolerance

def logits(n, c, scale, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, c, generator=g, dtype=torch.float64)*scale).to(dtype), torch.randint(0, c, (n,), generator=g)

def close(a, b, rtol):
    "Equal up to `rtol` of the largest magnitude in `b` (rounding scales with the tensor's size, not each element's)"
    a,b = a.detach().double(),b.detach().double()
    assert a.shape == b.shape and torch.allclose(a, b, rtol=0, atol=rtol*float(b.abs().max())), f'{a} vs {b}'

# ---------------------------------------------------------------- label smoothing against PyTorch
@pytest.mark.parametrize('dtype', DTYPES, ids=str)
@pytest.mark.parametrize('scale', [1e-6, 1e-2, 1., 30., 1e3])
@pytest.mark.parametrize('reduction', ['mean', 'sum', 'none'])
@pytest.mark.parametrize('n', [1, 64])
def test_label_smoothing_vs_pytorch(dtype, scale, reduction, n):
    "Forward and backward equal F.cross_entropy(label_smoothing=ε), at tiny and huge logits, in every float dtype"
    if dtype == torch.float16 and scale == 1e3: pytest.skip('fp16 losses near 1e3 per item overflow F.nll_loss: below')
    x,y = logits(n, 10, scale, dtype)
    for ε in (0., 0.1, 0.5):
        xa,xb = x.clone().requires_grad_(),x.clone().requires_grad_()
        ours = LabelSmoothingCrossEntropy(ε, reduction)(xa, y)
        ref = F.cross_entropy(xb, y, label_smoothing=ε, reduction=reduction)
        assert ours.dtype == ref.dtype and ours.shape == ref.shape
        close(ours, ref, DTYPES[dtype])
        ours.sum().backward(); ref.sum().backward()
        close(xa.grad, xb.grad, DTYPES[dtype])

def test_label_smoothing_fp16_overflow_like_pytorch():
    "fp16 losses of ~1500 per item: F.nll_loss's fp16 mean overflows, in ours as in PyTorch's; in fp32 both are finite"
    x,y = logits(64, 10, 1e3, torch.float16)
    ours,ref = LabelSmoothingCrossEntropy()(x, y),F.cross_entropy(x, y, label_smoothing=0.1)
    assert torch.isinf(ours) == torch.isinf(ref)
    close(LabelSmoothingCrossEntropy()(x.float(), y), F.cross_entropy(x.float(), y, label_smoothing=0.1), 1e-6)

def test_label_smoothing_formula():
    "The loss is (1-ε)·CE + ε·(mean over classes of -log p): the target 1-ε+ε/c on the true class, ε/c elsewhere"
    x,y = logits(8, 5, 3., torch.float64)
    ε = 0.2
    target = torch.full((8, 5), ε/5, dtype=torch.float64).scatter_(1, y[:, None], 1-ε+ε/5)
    want = -(target * F.log_softmax(x, -1)).sum(-1).mean()
    close(LabelSmoothingCrossEntropy(ε)(x, y), want, 1e-12)
    close(LabelSmoothingCrossEntropy(0.)(x, y), F.cross_entropy(x, y), 1e-12)

def test_label_smoothing_unbatched():
    x,y = logits(1, 7, 2., torch.float32)
    close(LabelSmoothingCrossEntropy()(x[0], y[0]), F.cross_entropy(x[0], y[0], label_smoothing=0.1), 1e-6)

@pytest.mark.parametrize('ε', [-0.1, 1, 1.5, math.nan, math.inf, True, '0.1', None])
def test_label_smoothing_bad_eps(ε):
    with pytest.raises(ValueError, match='ε='): LabelSmoothingCrossEntropy(ε)

def test_label_smoothing_bad_reduction():
    with pytest.raises(ValueError, match="reduction='avg'"): LabelSmoothingCrossEntropy(reduction='avg')

def test_label_smoothing_bad_targets():
    x,y = logits(4, 10, 1., torch.float32)
    with pytest.raises(ValueError, match=r'target \(4, 1\).*squeeze'): LabelSmoothingCrossEntropy()(x, y[:, None])
    with pytest.raises(TypeError, match='class indices'): LabelSmoothingCrossEntropy()(x, F.one_hot(y, 10).float())
    with pytest.raises(ValueError, match='target'): LabelSmoothingCrossEntropy()(x, y[:3])
    with pytest.raises(ValueError, match=r'\(N, C\)'):
        LabelSmoothingCrossEntropy()(x[..., None, None], y[:, None, None])
    with pytest.raises(IndexError): LabelSmoothingCrossEntropy()(x, torch.tensor([0, 1, 2, 10]))   # PyTorch's own error

# ---------------------------------------------------------------- MixUp, outside a fit
def mix_batch(x, y, loss_func=F.cross_entropy, α=0.4, λ=None, perm=None):
    "Run MixUp's begin_fit and begin_batch on a stand-in runner: (runner, the MixUp); `λ`/`perm` fix its draws"
    run = SimpleNamespace(xb=x, yb=y, in_train=True, loss_func=loss_func)
    mix = MixUp(α); mix.set_runner(run)
    mix('begin_fit')
    sample = (lambda shape: λ.view(-1, 1)) if λ is not None else mix.distrib.sample
    with mock.patch.object(mix.distrib, 'sample', sample), \
         mock.patch('torch.randperm', (lambda n: perm) if perm is not None else torch.randperm):
        mix('begin_batch')
    return run, mix

def batch(n=16, c=10, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    x,y = torch.randn(n, 3, 4, 4, generator=g).to(dtype),torch.randint(0, c, (n,), generator=g)
    return x, y, torch.randn(n, c, generator=g).to(dtype)

@pytest.mark.parametrize('loss', ['function', 'mean', 'sum', 'none', 'smooth'])
def test_mixup_formula(loss):
    "Inputs λ·x₁+(1-λ)·x₂ per image; loss λ·loss(ŷ,y₁)+(1-λ)·loss(ŷ,y₂) per image, then the loss's own reduction"
    x,y,pred = batch()
    lf = {'function': F.cross_entropy, 'smooth': LabelSmoothingCrossEntropy()}.get(loss)
    lf = lf or nn.CrossEntropyLoss(reduction=loss)
    set_seed(0)
    run,mix = mix_batch(x, y, lf)
    λ = mix.λ
    assert λ.shape == (16,) and (λ >= 0.5).all() and (λ <= 1).all() and len(set(λ.tolist())) == 16   # one per image
    set_seed(0); λ2 = mix.distrib.sample((16,)).squeeze(-1); perm = torch.randperm(16)             # replay the draws
    close(torch.max(λ2, 1-λ2), λ, 0)
    close(run.xb, λ.view(-1, 1, 1, 1)*x + (1-λ.view(-1, 1, 1, 1))*x[perm], 1e-6)
    red = getattr(lf, 'reduction', 'mean')
    none = (lambda p, t: LabelSmoothingCrossEntropy(reduction='none')(p, t)) if loss == 'smooth' else \
           (lambda p, t: F.cross_entropy(p, t, reduction='none'))
    per_item = λ*none(pred, y) + (1-λ)*none(pred, y[perm])
    want = {'mean': per_item.mean(), 'sum': per_item.sum(), 'none': per_item}[red]
    close(run.loss_func(pred, y), want, 1e-6)
    assert getattr(lf, 'reduction', 'mean') == red                                   # NoneReduce put it back

def test_mixup_validation_untouched():
    x,y,pred = batch()
    run,mix = mix_batch(x, y)
    run.in_train,run.xb = False,x
    mix('begin_batch')
    assert run.xb is x
    close(run.loss_func(pred, y), F.cross_entropy(pred, y), 0)

def test_mixup_batch_of_one():
    "The course's λ.squeeze() made a 0-d λ for a batch of one, and torch.stack failed"
    x,y,pred = batch(n=1)
    run,mix = mix_batch(x, y)
    close(run.xb, x, 1e-6)                                       # mixed with itself
    close(run.loss_func(pred, y), F.cross_entropy(pred, y), 1e-6)

def test_mixup_loss_is_per_image():
    "The course's λ of shape (n,1,1,1) broadcast with the losses (n,) into an (n,1,1,n) table: every loss got every λ"
    x,y,pred = batch()
    λ = torch.linspace(0.5, 1, 16)
    run,mix = mix_batch(x, y, λ=λ, perm=torch.arange(16).roll(1))
    l1,l2 = F.cross_entropy(pred, y, reduction='none'),F.cross_entropy(pred, y.roll(1), reduction='none')
    ours,course = run.loss_func(pred, y),lin_comb(l1, l2, λ.view(-1, 1, 1, 1)).mean()
    close(ours, (λ*l1 + (1-λ)*l2).mean(), 1e-6)
    assert (ours - course).abs() > 1e-3

def test_lambda_distribution():
    "λ = max(t, 1-t) with t ~ Beta(α, α): its mean matches numpy's draws, folded"
    for α in (0.2, 0.4, 1.):
        set_seed(0); λ = MixUp(α).distrib.sample((200_000,)).squeeze(-1)
        λ = torch.max(λ, 1-λ)
        t = np.random.default_rng(0).beta(α, α, 200_000)
        assert abs(λ.mean().item() - np.maximum(t, 1-t).mean()) < 3e-3

from torchvision_ref import v2 as torchvision_v2                   # tools/: the reference bench/ uses too

@pytest.mark.parametrize('lam', [0.5, 0.7, 1.])
def test_mixup_vs_torchvision(lam):
    """Given torchvision's one λ and pairing (each image with the one before it), the same images; our loss equals the
    cross-entropy against torchvision's mixed one-hot labels"""
    v2 = torchvision_v2()
    x,y,pred = batch()
    tv = v2.MixUp(alpha=0.4, num_classes=10)
    with mock.patch.object(tv._dist, 'sample', lambda shape: torch.tensor([lam])):
        x_tv,y_tv = tv(x.clone(), y.clone())
    run,mix = mix_batch(x, y, λ=torch.full((16,), lam), perm=torch.arange(16).roll(1))
    close(run.xb, x_tv, 1e-6)
    close(run.loss_func(pred, y), F.cross_entropy(pred, y_tv), 1e-6)

# ---------------------------------------------------------------- MixUp in a Learner
def tiny_data(n=64, bs=16):
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, 3, 8, 8, generator=g), torch.randint(0, 4, (n,), generator=g)
    return DataBunch(*get_dls(Dataset(x, y), Dataset(x, y), bs), c_in=3, c_out=4)

def small_learner(loss_func=F.cross_entropy, cbs=(), α=0.4):
    set_seed(0)
    return get_learner([4, 8], tiny_data(), 0.1, conv_layer, loss_func=loss_func, cb_funcs=[partial(MixUp, α), *cbs])

class Seen(Callback):
    "The inputs and loss function the model sees, after MixUp"
    _order = 95
    def begin_fit(self): self.xbs,self.funcs = [],[]
    def begin_batch(self): self.xbs.append((self.in_train, self.xb)); self.funcs.append(self.run.loss_func)

def test_learner_mixes_training_only():
    learn = small_learner(cbs=[Seen])
    data = learn.data
    learn.fit(1)
    train = [xb for t,xb in learn.seen.xbs if t]; valid = [xb for t,xb in learn.seen.xbs if not t]
    assert len(train) == len(data.train_dl)
    assert all(not any(torch.equal(xb, x) for x,_ in data.train_dl) for xb in train)
    test_vx = [x for x,_ in data.valid_dl]
    assert all(torch.equal(a, b) for a,b in zip(valid, test_vx))
    assert learn.loss_func is F.cross_entropy

class Raise(Callback):
    def __init__(self, exc): self.exc = exc
    def after_loss(self):
        if self.in_train: raise self.exc

@pytest.mark.parametrize('exc', [CancelTrainException(), RuntimeError('boom'), KeyboardInterrupt()],
                         ids=lambda e: type(e).__name__)
def test_loss_func_restored(exc):
    lf = LabelSmoothingCrossEntropy()
    learn = small_learner(lf, [partial(Raise, exc)])
    if isinstance(exc, CancelTrainException): learn.fit(2)
    else:
        with pytest.raises(type(exc)): learn.fit(2)
    assert learn.loss_func is lf and lf.reduction == 'mean'

def test_loss_func_restored_when_begin_fit_fails_first():
    "A callback that runs before MixUp's begin_fit and fails: MixUp's after_fit still runs, and changes nothing"
    class Early(Callback):
        _order = -50
        def begin_fit(self): raise RuntimeError('early')
    learn = small_learner(cbs=[Early])
    with pytest.raises(RuntimeError, match='early'): learn.fit(1)
    assert learn.loss_func is F.cross_entropy

def test_fits_twice():
    learn = small_learner(cbs=[Seen])
    learn.fit(1); learn.fit(1)
    assert learn.loss_func is F.cross_entropy

def test_learner_half_precision():
    """A model and loss in fp16 (or bf16): the mixed inputs stay in the model's dtype, and a training step works.
    bfloat16 runs with oneDNN off: its bfloat16 conv weight gradient on 1x1 maps is now and then not finite, about 1
    fit in 10 here (10c shows it); PyTorch's own kernels gave 200 finite fits of 200"""
    for dt in (torch.float16, torch.bfloat16):
        learn = small_learner(cbs=[Seen, partial(BatchTransformXCallback, lambda x: x.to(dt))])
        learn.model.to(dt)
        torch.backends.mkldnn.enabled = dt != torch.bfloat16
        try: learn.fit(1)
        finally: torch.backends.mkldnn.enabled = True
        assert all(xb.dtype == dt for _,xb in learn.seen.xbs)
        assert all(torch.isfinite(p).all() for p in learn.model.parameters())

def test_mixup_fp16_loss_matches_fp64():
    x,y,pred = batch(dtype=torch.float16)
    λ = torch.linspace(0.5, 1, 16)
    run,_ = mix_batch(x, y, λ=λ, perm=torch.arange(16).roll(3))
    assert run.xb.dtype == torch.float16
    close(run.xb, λ.view(-1, 1, 1, 1)*x.double() + (1-λ.view(-1, 1, 1, 1))*x.double().roll(3, 0), 2e-3)
    p = pred.double()
    want = (λ*F.cross_entropy(p, y, reduction='none') + (1-λ)*F.cross_entropy(p, y.roll(3), reduction='none')).mean()
    close(run.loss_func(pred, y), want, 2e-3)

# ---------------------------------------------------------------- MixUp's bad input
@pytest.mark.parametrize('α', [0, -0.4, math.nan, math.inf, True, '0.4', None])
def test_mixup_bad_alpha(α):
    with pytest.raises(ValueError, match='α='): MixUp(α)

def test_mixup_loss_without_reduction():
    def my_loss(pred, targ): return F.cross_entropy(pred, targ)
    x,y,pred = batch()
    with pytest.raises(TypeError, match='my_loss.*reduction'): mix_batch(x, y, my_loss)     # at begin_fit
    def ignores(pred, targ, reduction='mean'): return F.cross_entropy(pred, targ)   # takes it, does not honour it
    run,_ = mix_batch(x, y, ignores)
    with pytest.raises(ValueError, match='one loss per item'): run.loss_func(pred, y)

def test_mixup_bad_batches():
    x,y,pred = batch()
    with pytest.raises(TypeError, match='float inputs'): mix_batch((x*255).to(torch.uint8), y)
    with pytest.raises(ValueError, match='16 inputs but 15 targets'): mix_batch(x, y[:15])
    run,_ = mix_batch(x, y[:, None], LabelSmoothingCrossEntropy())
    with pytest.raises(ValueError, match='squeeze'): run.loss_func(pred, y[:, None])

def test_none_reduce_restores_on_error():
    lf = nn.CrossEntropyLoss()
    with pytest.raises(RuntimeError):
        with NoneReduce(lf) as f:
            assert f.reduction == 'none'
            raise RuntimeError
    assert lf.reduction == 'mean'

def test_reduce_loss_and_unsqueeze():
    l = torch.arange(4.)
    assert reduce_loss(l) == 1.5 and reduce_loss(l, 'sum') == 6 and reduce_loss(l, 'none') is l
    with pytest.raises(ValueError, match='reduction'): reduce_loss(l, 'avg')
    assert unsqueeze(l, (1, 2, 3)).shape == (4, 1, 1, 1) and unsqueeze(l, 0).shape == (1, 4)

def test_no_torchvision_in_exp():
    import subprocess, sys
    code = 'import sys, exp.nb_10b; assert "torchvision" not in sys.modules'
    subprocess.run([sys.executable, '-c', code], check=True)
