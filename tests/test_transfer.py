"""nb_11a against references: AdaptiveConcatPool2d against PyTorch's two poolings, frozen parameters with every
optimizer of 09 and torch.optim, bn_splitter's groups, saved weights to the bit, the lr each group gets, bad input."""
import math, random
import pytest
import exp.nb_11a as _exp
# the lesson's names, without its test helpers (pytest would collect `test`, `test_eq`, ... as tests)
globals().update({k: v for k, v in vars(_exp).items() if k in _exp.__all__ and not k.startswith('test')})
from fastcore.test import test_eq as _eq, test_fail as _fail, test_close as _close
from exp.nb_07a import ConvLayer
from exp.nb_07 import BatchNorm as BatchNorm07

# ---------- AdaptiveConcatPool2d = cat(adaptive_max_pool2d, adaptive_avg_pool2d), forward and backward ----------

@pytest.mark.parametrize('shape,sz', [((2, 3, 1, 1), 1), ((1, 4, 5, 7), 1), ((3, 2, 7, 5), 2), ((2, 3, 9, 4), (3, 2)),
                                      ((1, 1, 1, 1), 1), ((2, 5, 3, 3), 3)])
def test_concat_pool_matches_torch(shape, sz):
    torch.manual_seed(0)
    x = torch.randn(*shape, dtype=torch.float64)
    x[..., 0, 0] = x.flatten(2).max(-1).values        # a tie for the maximum: the gradient goes where PyTorch sends it
    x1,x2 = x.clone().requires_grad_(),x.clone().requires_grad_()
    out = AdaptiveConcatPool2d(sz)(x1)
    ref = torch.cat([F.adaptive_max_pool2d(x2, sz), F.adaptive_avg_pool2d(x2, sz)], 1)
    _eq(out.shape, ref.shape); assert torch.equal(out, ref)
    g = torch.randn_like(ref)
    (out*g).sum().backward(); (ref*g).sum().backward()
    assert torch.equal(x1.grad, x2.grad)
    _eq(AdaptiveConcatPool2d(sz).output_size, sz)

def test_concat_pool_half_and_channels():
    x = torch.randn(2, 6, 4, 4)
    _eq(AdaptiveConcatPool2d()(x).shape, (2, 12, 1, 1))
    xb = x.to(torch.bfloat16)
    assert torch.equal(AdaptiveConcatPool2d()(xb), torch.cat([F.adaptive_max_pool2d(xb, 1), F.adaptive_avg_pool2d(xb, 1)], 1))

# ---------- a small adapted model and data ----------

def _data(n=64, c_out=4, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    x,y = torch.randn(n, 3, size, size, generator=g),torch.randint(0, c_out, (n,), generator=g)
    return DataBunch(*get_dls(Dataset(x[:48], y[:48]), Dataset(x[48:], y[48:]), 16), c_in=3, c_out=c_out)

def _model(c_out=4):
    torch.manual_seed(0)
    body = nn.Sequential(conv_layer(3, 8, stride=2), conv_layer(8, 16, stride=2), ResBlock(1, 16, 16))
    return nn.Sequential(body, AdaptiveConcatPool2d(), Flatten(), nn.Linear(32, c_out))

def _learner(opt_func, model=None, splitter=param_getter, lr=0.1):
    learn = Learner(model or _model(), _data(), F.cross_entropy, opt_func=opt_func, lr=lr, splitter=splitter)
    learn.logger = noop
    return learn

def _mom_sgd(): return partial(StatefulOptimizer, steppers=[weight_decay, momentum_step], stats=AverageGrad(), wd=0.1, mom=0.9)

OPTS = {'sgd_opt wd': partial(sgd_opt, wd=0.1),
        'sgd_opt l2_reg': partial(Optimizer, steppers=[l2_reg, sgd_step], wd=0.1),
        'momentum wd': _mom_sgd(),
        'adam_opt wd': adam_opt(wd=0.1),
        'adam_opt l2_reg': partial(StatefulOptimizer, steppers=[l2_reg, adam_step],
                                   stats=[AverageGrad(dampening=True), AverageSqrGrad(), StepCount()], wd=0.1),
        'lamb': partial(StatefulOptimizer, steppers=lamb_step,
                        stats=[AverageGrad(dampening=True), AverageSqrGrad(), StepCount()], wd=0.1),
        'torch SGD momentum wd': partial(torch.optim.SGD, momentum=0.9, weight_decay=0.1),
        'torch AdamW': partial(torch.optim.AdamW, weight_decay=0.1)}

def _frozen_and_rest(m):
    "The parameters set_grad freezes in `m`, and the others"
    m.apply(partial(set_grad, b=False))
    return [p for p in m.parameters() if not p.requires_grad],[p for p in m.parameters() if p.requires_grad]

@pytest.mark.parametrize('name', OPTS)
def test_frozen_parameters_do_not_move(name):
    learn = _learner(OPTS[name], lr=0.01)
    learn.fit(1)                                         # every parameter trained once: momentum, Adam's averages exist
    frozen,rest = _frozen_and_rest(learn.model)
    assert frozen and rest
    before = [p.detach().clone() for p in learn.model.parameters()]
    learn.fit(2)                                         # the same optimizer, with its state for the frozen ones
    after = list(learn.model.parameters())
    for p,q in zip(before, after):
        if not q.requires_grad: assert torch.equal(p, q), name
    assert any(not torch.equal(p, q) for p,q in zip(before, after) if q.requires_grad), f"{name}: nothing trained"
    learn.model.apply(partial(set_grad, b=True))
    learn.fit(1, reset_opt=True)
    assert all(not torch.equal(p, q) for p,q in zip(before, learn.model.parameters()) if p.ndim > 1), f"{name}: unfrozen"

def test_frozen_by_requires_grad_course_way():
    learn = _learner(adam_opt(wd=0.1))
    for p in learn.model[0].parameters(): p.requires_grad_(False)
    before = [p.detach().clone() for p in learn.model[0].parameters()]
    learn.fit(1)
    assert all(torch.equal(p, q) for p,q in zip(before, learn.model[0].parameters()))

def test_set_grad_which_layers():
    m = _model()
    m.apply(partial(set_grad, b=False))
    for l in m.modules():
        for p in l.parameters(recurse=False):
            assert p.requires_grad == isinstance(l, (nn.BatchNorm2d, nn.Linear)), type(l).__name__
    apply_mod(m, partial(set_grad, b=True))
    assert all(p.requires_grad for p in m.parameters())

def test_set_grad_eval_mode_and_bad_b():
    "A model in eval mode: the same parameters frozen, the mode left as it is"
    a = _model(); a.apply(partial(set_grad, b=False))
    b = _model(); b.eval()                               # (nb_11's layers share one ReLU: set the mode last)
    modes = [l.training for l in b.modules()]
    b.apply(partial(set_grad, b=False))
    _eq([p.requires_grad for p in a.parameters()], [p.requires_grad for p in b.parameters()])
    _eq([l.training for l in b.modules()], modes); assert not b.training
    _fail(lambda: set_grad(nn.Conv2d(1, 1, 1), 'False'), contains='b=')
    _fail(lambda: set_grad(nn.Conv2d(1, 1, 1), 0), contains='b=')

def test_set_grad_norms_and_nested():
    "07a's ConvLayer has a `weight` property and holds its BatchNorm: the BatchNorm stays trainable (the course froze it)"
    m = nn.Sequential(ConvLayer(3, 8), nn.Sequential(nn.Conv2d(8, 8, 3), BatchNorm07(8), nn.GroupNorm(2, 8), nn.LayerNorm(8)))
    m.apply(partial(set_grad, b=False))
    for l in m.modules():
        for p in l.parameters(recurse=False):
            assert p.requires_grad == isinstance(l, (nn.BatchNorm2d, BatchNorm07, nn.GroupNorm, nn.LayerNorm)), type(l).__name__

# ---------- bn_splitter ----------

def _course_bn_splitter(m):
    "The course's splitter, for comparison"
    def _bn_splitter(l, g1, g2):
        if isinstance(l, nn.BatchNorm2d): g2 += l.parameters()
        elif hasattr(l, 'weight'): g1 += l.parameters()
        for ll in l.children(): _bn_splitter(ll, g1, g2)
    g1,g2 = [],[]
    _bn_splitter(m[0], g1, g2)
    g2 += m[1:].parameters()
    return g1,g2

class _Scale(nn.Module):
    "A layer with a parameter and no `weight` attribute"
    def __init__(self): super().__init__(); self.scale = nn.Parameter(torch.ones(1))
    def forward(self, x): return x*self.scale

@pytest.mark.parametrize('body', [
    lambda: xresnet18(c_out=10)[:-3],
    lambda: nn.Sequential(ConvLayer(3, 8), ConvLayer(8, 8)),
    lambda: nn.Sequential(nn.Conv2d(3, 8, 3), _Scale(), BatchNorm07(8), nn.GroupNorm(2, 8), nn.BatchNorm2d(8))])
def test_bn_splitter_each_parameter_once(body):
    m = nn.Sequential(body(), AdaptiveConcatPool2d(), Flatten(), nn.Linear(1024, 5))
    g1,g2 = bn_splitter(m)
    ids = [id(p) for p in g1+g2]
    _eq(len(ids), len(set(ids)))
    _eq(set(ids), {id(p) for p in m.parameters()})
    norms = {id(p) for l in m[0].modules() if isinstance(l, (nn.BatchNorm2d, BatchNorm07, nn.GroupNorm)) for p in l.parameters()}
    _eq({id(p) for p in g2}, norms | {id(p) for p in m[1:].parameters()})

def test_course_bn_splitter_was_wrong():
    "What the fix is for: the course's splitter steps a ConvLayer's BatchNorm twice, and drops a layer without `weight`"
    m = nn.Sequential(nn.Sequential(ConvLayer(3, 8), _Scale()), AdaptiveConcatPool2d(), Flatten(), nn.Linear(16, 5))
    g1,g2 = _course_bn_splitter(m)
    ids = [id(p) for p in g1+g2]
    assert len(ids) != len(set(ids)) or set(ids) != {id(p) for p in m.parameters()}

def test_bn_splitter_bad_model():
    _fail(lambda: bn_splitter(nn.Linear(2, 2)), contains='bn_splitter')

# ---------- save and load ----------

def test_save_load_to_the_bit(tmp_path):
    learn = _learner(adam_opt(wd=0.01))
    learn.fit(1)                                         # BatchNorm's running statistics moved
    fn = tmp_path/'sub'/'w.pth'
    save_weights(learn.model, fn)
    m2 = load_weights(_model(), fn)
    x = torch.randn(8, 3, 16, 16)
    for mode in ('eval', 'train'):
        getattr(learn.model, mode)(); getattr(m2, mode)()
        with torch.no_grad(): assert torch.equal(learn.model(x), m2(x)), mode
    assert all(torch.equal(a, b) for a,b in zip(learn.model.state_dict().values(), m2.state_dict().values()))
    m3 = load_weights(_model(), torch.load(fn))          # a state dict works too
    assert torch.equal(m3[3].weight, learn.model[3].weight)

def test_load_other_architecture_names_layer(tmp_path):
    fn = tmp_path/'x18.pth'
    save_weights(xresnet18(c_out=5), fn)
    _fail(lambda: load_weights(xresnet18(c_out=10), fn), contains="'10.weight'")
    with pytest.raises(ValueError) as e: load_weights(xresnet34(c_out=5), fn)
    assert "'4.2.convs.0.0.weight'" in str(e.value) and 'missing' in str(e.value)    # xresnet34 has a 3rd block there
    with pytest.raises(ValueError) as e: load_weights(xresnet18(c_out=5)[:-1], fn)
    assert "'10.weight'" in str(e.value) and 'not in the model' in str(e.value)

# ---------- adapt_model ----------

def test_adapt_model_head_and_bn_stats():
    data = _data(c_out=7)
    learn = Learner(xresnet18(c_in=3, c_out=4), data, F.cross_entropy)
    stats = {k: v.clone() for k,v in learn.model.state_dict().items() if 'running' in k}
    m = adapt_model(learn, data)
    assert m is learn.model
    _eq(type(m[1]), AdaptiveConcatPool2d); _eq(m[-1].in_features, 1024); _eq(m[-1].out_features, 7)
    assert all(torch.equal(v, m[0].state_dict()[k]) for k,v in stats.items())    # measured without touching BatchNorm
    assert m[0].training
    _eq(learn.model(data.valid_dl.dataset.x[:2]).shape, (2, 7))
    adapt_model(learn, data)                             # again: cuts at the AdaptiveConcatPool2d
    _eq(len(learn.model), 4); _eq(learn.model[-1].in_features, 1024)

def test_adapt_model_bad_models():
    data = _data()
    learn = Learner(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()), data, F.cross_entropy)
    _fail(lambda: adapt_model(learn, data), contains='AdaptiveAvgPool2d')
    learn.model = nn.Conv2d(3, 4, 3)
    _fail(lambda: adapt_model(learn, data), contains='not an nn.Sequential')
    learn.model = xresnet18(c_out=4)
    _fail(lambda: adapt_model(learn, DataBunch(data.train_dl, data.valid_dl, c_in=3)), contains='c_out')

# ---------- discriminative learning rates ----------

class _Lrs(Callback):
    "At each training batch: each group's lr, and how far each parameter moved in the step divided by its gradient"
    def begin_fit(self): self.lrs,self.ratios = [],[]
    def after_backward(self):
        if not self.in_train: return
        self.before = [[(p.detach().clone(), None if p.grad is None else p.grad.clone()) for p in g] for g in self.opt.param_groups]
    def after_step(self):
        self.lrs.append([h['lr'] for h in self.opt.hypers])
        r = []
        for g,b in zip(self.opt.param_groups, self.before):
            d = torch.cat([(p0 - p.detach()).flatten() for p,(p0,gr) in zip(g, b) if gr is not None])
            gg = torch.cat([gr.flatten() for p0,gr in b if gr is not None])
            r.append((d @ gg / (gg @ gg)).item())     # = the lr sgd used for this group
        self.ratios.append(r)

def test_discriminative_lrs_reach_groups():
    lrs = [1e-3, 1e-2]
    learn = _learner(sgd_opt, splitter=bn_splitter)
    cb = _Lrs()
    learn.fit(2, [sched_1cycle(lrs, 0.3)[0], cb])      # the lr part (sgd_opt has no momentum to schedule)
    n = len(cb.lrs)
    sched = [combine_scheds(create_phases(0.3), cos_1cycle_anneal(lr/10., lr, lr/1e5)) for lr in lrs]
    for i,(got,ratio) in enumerate(zip(cb.lrs, cb.ratios)):
        _close(got, [f(i/n) for f in sched], eps=1e-12)
        assert all(abs(r/g - 1) < 1e-3 for r,g in zip(ratio, got)), (i, ratio, got)   # float32 steps
    _close(max(l[1] for l in cb.lrs)/max(l[0] for l in cb.lrs), 10., eps=1e-3)

def test_sched_1cycle_with_adam_per_group_and_lr0():
    learn = _learner(adam_opt(wd=0.1), splitter=bn_splitter)
    seen = []
    def rec(l): seen.append(([h['lr'] for h in l.opt.hypers], [h['mom'] for h in l.opt.hypers]))
    g1 = [p.detach().clone() for p in bn_splitter(learn.model)[0]]
    learn.fit(1, sched_1cycle([0, 3e-2], 0.5) + [DebugCallback(cb_types.after_step, rec)])
    _eq(len(seen), len(learn.data.train_dl))
    assert all(l[0] == 0 and l[1] > 0 for l,_ in seen)
    _close(seen[0][0][1], 3e-3); _close(seen[0][1], [0.95, 0.95])
    assert all(torch.equal(p, q) for p,q in zip(g1, bn_splitter(learn.model)[0]))    # lr 0: the body did not move
    _eq(len(sched_1cycle(1e-2)[0].sched_funcs), 1)                                # one number: one schedule for all

def test_debug_callback():
    learn = _learner(sgd_opt)
    calls = []
    def f(l):
        calls.append(l.iter)
        if len(calls) == 2: raise CancelTrainException()
    learn.fit(1, DebugCallback(cb_types.after_backward, f))
    _eq(calls, [0, 1])
    _fail(lambda: DebugCallback('after_backwards'), contains='after_backwards')
    _eq(cb_types.begin_fit, 'begin_fit'); _eq(set(vars(cb_types)), Learner.ALL_CBS)

# ---------- random_splitter ----------

def test_random_splitter():
    random.seed(42)
    mask = [random_splitter(i, 0.2) for i in range(5000)]
    assert abs(sum(mask)/5000 - 0.2) < 0.02
    random.seed(42)
    _eq([random_splitter(i, 0.2) for i in range(5000)], mask)                   # seeded: the same split
    assert not any(random_splitter(i, 0.) for i in range(100)) and all(random_splitter(i, 1.) for i in range(100))

@pytest.mark.parametrize('p', [-0.1, 1.5, math.nan, '0.1', None, True])
def test_random_splitter_bad_p(p):
    _fail(lambda: random_splitter('a.jpg', p), contains='p_valid')
