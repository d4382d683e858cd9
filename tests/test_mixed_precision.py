"""Mixed precision (exp.nb_10c) against PyTorch: the helpers, MixedPrecision with every optimizer of 09 and torch.optim,
its loss curves against torch.autocast + torch.amp.GradScaler and float32 (float16 and bfloat16, on the CPU), an
injected overflow, resuming from state_dict, bad arguments, and the course's own 10c code with `exp.nb_10c` as `fp16`."""
import contextlib, copy, io, math
import pytest, torch
from torch import nn, optim
import torch.nn.functional as F
from functools import partial
import exp.nb_10c as fp16
# the lesson's names, without its test helpers (pytest would collect `test`, `test_eq`, `test_overflow`, ...)
globals().update({k: v for k, v in vars(fp16).items() if not k.startswith(('_', 'test'))})
from exp.nb_10c import test_overflow as overflows

@pytest.fixture(scope='module')
def data():
    "1024 MNIST training images in a fixed order (batches of 64), 512 validation images"
    x_train,y_train,x_valid,y_valid = get_data()
    x_train,x_valid = normalize_to(x_train[:1024], x_valid[:512])
    return DataBunch(batch_dl(Dataset(x_train, y_train[:1024]), 64), batch_dl(Dataset(x_valid, y_valid[:512]), 128),
                     c_in=1, c_out=10)

def cnn(data, seed=0, nfs=(8, 16, 16)):
    set_seed(seed)
    m = nn.Sequential(Lambda(mnist_resize), *get_cnn_layers(data, list(nfs), conv_layer))
    init_cnn(m)
    return m

def fit(data, model, cbs=(), opt_func=partial(optim.SGD, momentum=0.9), lr=0.1, epochs=1, learn=None):
    learn = learn or Learner(model, data, F.cross_entropy, lr=lr, opt_func=opt_func, cb_funcs=[Recorder])
    with contextlib.redirect_stdout(io.StringIO()): learn.fit(epochs, cbs=list(cbs))
    return learn

def fit_amp(data, model, dtype, lr=0.1, epochs=1, init_scale=2.**24, growth_interval=500, inject=None):
    "The reference: torch.autocast + torch.amp.GradScaler in a plain loop; losses and the scale after each step"
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    scaler = torch.amp.GradScaler('cpu', init_scale=init_scale, growth_interval=growth_interval)
    losses,scales,i = [],[],0
    for _ in range(epochs):
        for xb,yb in data.train_dl:
            with torch.autocast('cpu', dtype=dtype): loss = F.cross_entropy(model(xb), yb)
            scaler.scale(loss).backward()
            if inject is not None and i == inject: next(model.parameters()).grad[0] = float('inf')
            scaler.step(opt); scaler.update(); opt.zero_grad()
            losses.append(loss.item()); scales.append(scaler.get_scale()); i += 1
    return losses,scales

def params(model): return torch.cat([p.detach().float().flatten() for p in model.parameters()])
def end(losses, n=8): return sum(float(l) for l in losses[-n:])/n

# ---------------------------------------------------------------- the helpers
def test_model_to_half_keeps_batchnorm_float():
    m = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Sequential(nn.Flatten(), nn.Linear(4*9, 8), nn.BatchNorm1d(8)),
                      nn.Linear(8, 2))
    for dtype in (torch.float16, torch.bfloat16):
        model_to_half(m, dtype)
        assert {type(l).__name__: l.weight.dtype for l in m.modules() if hasattr(l, 'weight')} == {
            'Conv2d': dtype, 'BatchNorm2d': torch.float32, 'Linear': dtype, 'BatchNorm1d': torch.float32}
        assert m(torch.randn(3, 1, 5, 5).to(dtype)).dtype == dtype
        assert fp16.convert_network(m, dtype) is m
    with pytest.raises(ValueError, match='dtype=torch.float32'): model_to_half(m, torch.float32)

def test_get_master_groups_frozen_and_torch_dicts():
    m = model_to_half(nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.Linear(5, 3)))
    m[0].bias.requires_grad_(False)
    groups = [[m[0].weight, m[0].bias], [*m[1].parameters(), *m[2].parameters()]]
    for opt in (sgd_opt(groups, lr=0.1), optim.SGD([{'params': g} for g in groups], lr=0.1)):
        model_pgs,master_pgs = get_master(opt)
        assert [len(g) for g in model_pgs] == [1, 4] and all(p.requires_grad for g in model_pgs for p in g)
        for ps,ms in zip(model_pgs, master_pgs):
            for p,mp in zip(ps, ms):
                assert mp.dtype == torch.float32 and mp.requires_grad and mp.data_ptr() != p.data_ptr()
                assert torch.equal(mp, p.float())
        model_pgs,master_pgs = get_master(opt, flat_master=True)
        assert [ms[0].shape[0] for ms in master_pgs] == [20, 5+5+15+3]
        assert torch.equal(master_pgs[1][0], torch.cat([p.float().flatten() for p in model_pgs[1]]))
        mp,ms = fp16.prep_param_lists(m)
        assert len(mp) == 5 and torch.equal(torch.cat([p.float().flatten() for p in mp]), torch.cat([p.flatten() for p in ms]))

@pytest.mark.parametrize('flat', [False, True])
def test_grads_in_params_out(flat):
    m = model_to_half(nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.Linear(5, 3)))
    opt = sgd_opt([list(m[0].parameters()), list(m[1].parameters()) + list(m[2].parameters())], lr=0.1)
    model_pgs,master_pgs = get_master(opt, flat)
    F.cross_entropy(m(torch.randn(8, 4).half()).float(), torch.randint(0, 3, (8,))).backward()
    m[2].bias.grad = None                                    # a parameter that got no gradient
    to_master_grads(model_pgs, master_pgs, flat)
    want = [torch.cat([(p.grad.float() if p.grad is not None else torch.zeros(p.shape)).flatten() for p in ps]) for ps in model_pgs]
    if flat: got = [ms[0].grad for ms in master_pgs]
    else:
        got = [torch.cat([(q.grad if q.grad is not None else torch.zeros(q.shape)).flatten() for q in ms]) for ms in master_pgs]
        assert master_pgs[1][-1].grad is None
    for g,w in zip(got, want): assert torch.equal(g, w)
    for ms in master_pgs:
        for q in ms: q.data.uniform_(-2, 2)
    to_model_params(model_pgs, master_pgs, flat)
    for ps,ms in zip(model_pgs, master_pgs):
        qs = torch.split(ms[0].detach(), [p.numel() for p in ps]) if flat else ms
        assert torch.equal(torch.cat([p.float().flatten() for p in ps]), torch.cat([q.to(p.dtype).float().flatten() for p,q in zip(ps, qs)]))

def test_overflow_detection():
    x = torch.randn(64, 64).half()
    assert not overflows(x) and not overflows(torch.full((10,), 65504., dtype=torch.float16))   # the sum is taken in float32
    for bad in (float('inf'), float('-inf'), float('nan')):
        y = x.clone(); y[3, 5] = bad
        assert overflows(y)
    m = nn.Linear(3, 2)
    m(torch.randn(4, 3)).sum().backward()
    assert not grad_overflow([list(m.parameters())]) and not grad_overflow([{'params': list(m.parameters())}])
    m.bias.grad[1] = float('nan')
    assert grad_overflow([list(m.parameters())]) and grad_overflow([{'params': list(m.parameters())}])

# ---------------------------------------------------------------- against PyTorch
@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_loss_curves_agree_with_autocast_and_float32(data, dtype):
    """3 seeds, 2 epochs, the same scaling (start 2^16, halve at an overflow): MixedPrecision's loss curve is autocast +
    GradScaler's (the same arithmetic: float16 convolutions, float32 BatchNorm, loss and step), and its final loss is
    within float32's spread over seeds of float32's"""
    rows = []
    for seed in range(3):
        f32 = fit(data, cnn(data, seed), epochs=2).recorder.losses
        mp = fit(data, cnn(data, seed), [MixedPrecision(dtype=dtype, max_loss_scale=2.**16)], epochs=2).recorder.losses
        amp = fit_amp(data, cnn(data, seed), dtype, epochs=2, init_scale=2.**16)[0]
        assert max(abs(float(a) - b) for a,b in zip(mp, amp)) < 1e-4, 'MixedPrecision and autocast+GradScaler differ'
        rows.append((end(f32), end(mp), end(amp)))
    print('\nfloat32 / MixedPrecision / autocast final train loss per seed:', [tuple(round(v, 3) for v in r) for r in rows])
    f32s = [r[0] for r in rows]
    spread = max(f32s) - min(f32s)
    gap = abs(sum(r[1] for r in rows)/3 - sum(f32s)/3)
    assert gap < max(spread, 0.05), (gap, spread)
    assert all(r[1] < 0.8 for r in rows)                     # it learned (from 2.3)

OPTS = {'sgd': (sgd_opt, 0.1), 'momentum': (partial(StatefulOptimizer, steppers=[momentum_step], stats=AverageGrad(), mom=0.9), 0.05),
        'adam': (adam_opt(), 3e-3), 'lamb': (partial(StatefulOptimizer, steppers=lamb_step,
                                              stats=[AverageGrad(dampening=True), AverageSqrGrad(), StepCount()]), 3e-3),
        'torch_sgd': (partial(optim.SGD, momentum=0.9), 0.05), 'torch_adam': (optim.Adam, 3e-3)}

@pytest.mark.parametrize('name', OPTS)
def test_every_optimizer(data, name):
    "bfloat16 (fast on the CPU) with each optimizer: it trains like float32, flat or not; state back on the model's parameters"
    opt_func,lr = OPTS[name]
    f32 = fit(data, cnn(data), opt_func=opt_func, lr=lr)
    res = {}
    for flat in (False, True):
        learn = fit(data, cnn(data), [MixedPrecision(dtype=torch.bfloat16, flat_master=flat)], opt_func=opt_func, lr=lr)
        assert all(p.dtype == torch.float32 for p in learn.model.parameters())
        ps = set(learn.model.parameters())
        groups = [g['params'] if isinstance(g, dict) else g for g in learn.opt.param_groups]
        assert all(p in ps for g in groups for p in g)                     # the optimizer is back on the model
        assert all(p in ps for p in learn.opt.state) and (len(learn.opt.state) == len(ps) or name == 'sgd')
        for p,st in learn.opt.state.items():
            for v in st.values():
                if isinstance(v, torch.Tensor) and v.ndim: assert v.shape == p.shape
        res[flat] = learn
        # one flat 1-d vector per group: LAMB leaves 1-d tensors out of its trust ratio, so it steps as Adam does
        ref = fit(data, cnn(data), opt_func=adam_opt(), lr=lr) if flat and name == 'lamb' else f32
        assert abs(end(learn.recorder.losses) - end(ref.recorder.losses)) < 0.25
        fit(data, None, epochs=1, learn=learn)                              # a second fit continues (same optimizer)
    if name != 'lamb':                                                      # LAMB's trust ratio is per tensor: flat differs
        torch.testing.assert_close(params(res[True].model), params(res[False].model), rtol=1e-4, atol=1e-5)

def test_step_equals_float32_step_on_master(data):
    "One batch by hand: the master weights move exactly as a float32 optimizer moves them with the unscaled float16 gradients"
    model = cnn(data)
    half = model_to_half(copy.deepcopy(model))
    xb,yb = next(iter(data.train_dl))
    (F.cross_entropy(half(xb.half()).float(), yb) * 512).backward()
    ref = copy.deepcopy(model)                                          # the master copies: the float32 weights
    for p,h in zip(ref.parameters(), half.parameters()): p.grad = h.grad.float() / 512
    ropt = adam_opt()(ref.parameters(), lr=1e-3); ropt.step()
    one = DataBunch(batch_dl(Dataset(xb, yb), 64), batch_dl(Dataset(xb, yb), 64), c_in=1, c_out=10)
    learn = Learner(model, one, F.cross_entropy, lr=1e-3, opt_func=adam_opt())
    with contextlib.redirect_stdout(io.StringIO()): learn.fit(1, cbs=[MixedPrecision(loss_scale=512, dynamic=False)])
    assert torch.equal(params(learn.model), params(ref))

def test_injected_inf_skips_the_step_like_gradscaler(data):
    "An inf put in a gradient at step 3: the step is skipped, the scale halves, then grows back every scale_wait steps"
    class Inject(Callback):
        _order = 50
        def begin_fit(self): self.before,self.after = None,None
        def after_backward(self):
            if self.n_iter == 3:
                next(self.model.parameters()).grad[0] = float('inf')
                self.before = params(self.model)
        def after_batch(self):
            if self.n_iter == 4 and self.in_train and self.after is None: self.after = params(self.model)
    class Scales(Callback):
        _order = 100
        def begin_fit(self): self.scales = []
        def after_batch(self):
            if self.in_train: self.scales.append(self.mixed_precision.loss_scale)
    mp,inj,rec = MixedPrecision(scale_wait=3, dtype=torch.bfloat16),Inject(),Scales()
    mp.load_state_dict({'loss_scale': 2.**10, 'count': 0, 'master': None})   # start where GradScaler starts
    fit(data, cnn(data), [mp, inj, rec])
    assert torch.equal(inj.before, inj.after)                              # the model did not move at the skipped step
    _,amp_scales = fit_amp(data, cnn(data), torch.bfloat16, init_scale=2.**10, growth_interval=3, inject=3)
    assert rec.scales[:4] == [2.**10, 2.**10, 2.**11, 2.**10] and rec.scales == amp_scales
    capped = Scales()
    fit(data, cnn(data), [MixedPrecision(max_loss_scale=2.**10, scale_wait=3, dtype=torch.bfloat16), capped])
    assert set(capped.scales) == {2.**10}                                  # never above max_loss_scale

def test_float16_overflows_and_recovers(data):
    "In float16 the scale starts at 2^24, overflows, settles; the loss Recorder sees is the unscaled one"
    learn = fit(data, cnn(data), [MixedPrecision()])
    assert learn.mixed_precision.loss_scale < 2.**24
    assert max(float(l) for l in learn.recorder.losses) < 5

def test_nan_loss_is_a_clear_error(data):
    x = data.train_ds.x.clone(); x[:64] = float('nan')
    bad = DataBunch(batch_dl(Dataset(x, data.train_ds.y), 64), data.valid_dl, c_in=1, c_out=10)
    with pytest.raises(FloatingPointError, match='before any scaling'): fit(bad, cnn(data), [MixedPrecision()])

# ---------------------------------------------------------------- resuming
@pytest.mark.parametrize('opt_name', ['adam', 'torch_adam'])
@pytest.mark.parametrize('flat', [False, True])
def test_resume_from_state_dict(data, opt_name, flat):
    "2 epochs in one go == 1 epoch, save (model, optimizer, MixedPrecision), load into new objects, 1 more epoch"
    opt_func,lr = OPTS[opt_name]
    mk = lambda: MixedPrecision(scale_wait=5, flat_master=flat, dtype=torch.bfloat16, max_loss_scale=2.**8)
    one = fit(data, cnn(data), [mk()], opt_func=opt_func, lr=lr, epochs=2)
    a_mp = mk(); a = fit(data, cnn(data), [a_mp], opt_func=opt_func, lr=lr)
    saved = copy.deepcopy((a.model.state_dict(), a.opt.state_dict(), a_mp.state_dict()))
    assert saved[2]['master'] is None and a_mp.count > 0                    # between fits the model holds the master weights
    b_mp = mk(); b = Learner(cnn(data, seed=5), data, F.cross_entropy, lr=lr, opt_func=opt_func, cb_funcs=[Recorder])
    b.model.load_state_dict(saved[0]); b.set_opt(); b.opt.load_state_dict(saved[1]); b_mp.load_state_dict(saved[2])
    fit(data, None, [b_mp], learn=b)
    assert torch.equal(params(b.model), params(one.model))

def test_resume_mid_fit_with_master_copies(data):
    "Saved during a fit (the model in float16), the master copies bring back the float32 weights"
    class Save(Callback):
        _order = 100
        def after_epoch(self): self.saved = copy.deepcopy((self.model.state_dict(), self.opt.state_dict(), self.mixed_precision.state_dict()))
    mk = lambda: MixedPrecision(scale_wait=7)
    one = fit(data, cnn(data), [mk()], opt_func=adam_opt(), lr=3e-3, epochs=2)
    s = Save(); fit(data, cnn(data), [mk(), s], opt_func=adam_opt(), lr=3e-3, epochs=1)
    assert s.saved[0]['3.0.weight'].dtype == torch.float16 and s.saved[2]['master'] is not None
    b_mp = mk(); b = Learner(cnn(data, seed=5), data, F.cross_entropy, lr=3e-3, opt_func=adam_opt(), cb_funcs=[Recorder])
    b.model.load_state_dict(s.saved[0]); b.set_opt(); b.opt.load_state_dict(s.saved[1]); b_mp.load_state_dict(s.saved[2])
    fit(data, None, [b_mp], learn=b)
    assert torch.equal(params(b.model), params(one.model))
    with pytest.raises(ValueError, match='shapes'):
        c = Learner(cnn(data, nfs=(8, 16)), data, F.cross_entropy, opt_func=adam_opt())
        c_mp = mk(); c_mp.load_state_dict(s.saved[2]); fit(data, None, [c_mp], learn=c)
    with pytest.raises(ValueError, match='loss_scale, count, master'): mk().load_state_dict({'loss_scale': 2.})

# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize('kwargs,name', [
    (dict(loss_scale=0), 'loss_scale'), (dict(loss_scale=-512), 'loss_scale'), (dict(loss_scale=float('nan')), 'loss_scale'),
    (dict(loss_scale='512'), 'loss_scale'), (dict(div_factor=1.), 'div_factor'), (dict(div_factor=0.5), 'div_factor'),
    (dict(max_loss_scale=0.), 'max_loss_scale'), (dict(max_loss_scale=float('inf')), 'max_loss_scale'),
    (dict(scale_wait=0), 'scale_wait'), (dict(scale_wait=2.5), 'scale_wait'), (dict(flat_master='yes'), 'flat_master'),
    (dict(dynamic=None), 'dynamic'), (dict(dtype=torch.float32), 'dtype')])
def test_bad_arguments(kwargs, name):
    with pytest.raises((ValueError, TypeError), match=f'{name}='): MixedPrecision(**kwargs)

def test_model_already_in_half(data):
    "A model handed over in float16: it trains, from its float16 weights, as the float32 model rounded to float16 does"
    a = cnn(data)
    with torch.no_grad():
        for p in a.parameters(): p.copy_(p.half().float())
    b = cnn(data).half()
    ra = fit(data, a, [MixedPrecision(dtype=torch.float16)], lr=0.05)
    rb = fit(data, b, [MixedPrecision(dtype=torch.float16)], lr=0.05)
    assert torch.equal(params(ra.model), params(rb.model)) and next(rb.model.parameters()).dtype == torch.float32

def test_optimizer_built_before_a_conversion_is_a_clear_error(data):
    "nb_05's Runner with the user's optimizer on the float32 parameters, and a conversion that makes new parameters"
    import exp.nb_05 as nb_05
    model = cnn(data)
    opt = optim.SGD(model.parameters(), lr=0.1)
    old = torch.__future__.get_overwrite_module_params_on_conversion()
    try:
        torch.__future__.set_overwrite_module_params_on_conversion(True)   # .half() now makes new parameters
        model.half()
    finally: torch.__future__.set_overwrite_module_params_on_conversion(old)
    with pytest.raises(ValueError, match='converted to half precision'):
        nb_05.Runner(cb_funcs=[MixedPrecision]).fit(1, nb_05.Learner(model, opt, F.cross_entropy, data))
    model = cnn(data)                                                    # the same Runner, done right, trains
    learn = nb_05.Learner(model, optim.SGD(model.parameters(), lr=0.1), F.cross_entropy, data)
    with contextlib.redirect_stdout(io.StringIO()): nb_05.Runner(cb_funcs=[MixedPrecision]).fit(1, learn)
    assert next(model.parameters()).dtype == torch.float32

# ---------------------------------------------------------------- the course's code, apex swapped for exp.nb_10c
COURSE = '''
def get_master(opt, flat_master=False):
    model_pgs = [[param for param in pg if param.requires_grad] for pg in opt.param_groups]
    if flat_master:
        master_pgs = []
        for pg in model_pgs:
            mp = parameters_to_vector([param.data.float() for param in pg])
            mp = torch.nn.Parameter(mp, requires_grad=True)
            if mp.grad is None: mp.grad = mp.new(*mp.size())
            master_pgs.append([mp])
    else:
        master_pgs = [[param.clone().float().detach() for param in pg] for pg in model_pgs]
        for pg in master_pgs:
            for param in pg: param.requires_grad_(True)
    return model_pgs, master_pgs

def to_master_grads(model_pgs, master_pgs, flat_master=False):
    for (model_params,master_params) in zip(model_pgs,master_pgs):
        fp16.model_grads_to_master_grads(model_params, master_params, flat_master=flat_master)

def to_model_params(model_pgs, master_pgs, flat_master=False):
    for (model_params,master_params) in zip(model_pgs,master_pgs):
        fp16.master_params_to_model_params(model_params, master_params, flat_master=flat_master)

def grad_overflow(param_groups):
    for group in param_groups:
        for p in group:
            if p.grad is not None:
                s = float(p.grad.data.float().sum())
                if s == float('inf') or s == float('-inf') or s != s: return True
    return False

class MixedPrecision(Callback):
    _order = 99
    def __init__(self, loss_scale=512, flat_master=False, dynamic=True, max_loss_scale=2.**24, div_factor=2.,
                 scale_wait=500):
        assert torch.backends.cudnn.enabled, "Mixed precision training requires cudnn."
        self.flat_master,self.dynamic,self.max_loss_scale = flat_master,dynamic,max_loss_scale
        self.div_factor,self.scale_wait = div_factor,scale_wait
        self.loss_scale = max_loss_scale if dynamic else loss_scale
    def begin_fit(self):
        self.run.model = fp16.convert_network(self.model, dtype=torch.float16)
        self.model_pgs, self.master_pgs = get_master(self.opt, self.flat_master)
        self.run.opt.param_groups = self.master_pgs
        if self.dynamic: self.count = 0
    def begin_batch(self): self.run.xb = self.run.xb.half()
    def after_pred(self):  self.run.pred = self.run.pred.float()
    def after_loss(self):
        if self.in_train: self.run.loss *= self.loss_scale
    def after_backward(self):
        if self.dynamic and grad_overflow(self.model_pgs):
            self.loss_scale /= self.div_factor
            self.model.zero_grad()
            return True
        to_master_grads(self.model_pgs, self.master_pgs, self.flat_master)
        for master_params in self.master_pgs:
            for param in master_params:
                if param.grad is not None: param.grad.div_(self.loss_scale)
        if self.dynamic:
            self.count += 1
            if self.count == self.scale_wait:
                self.count = 0
                self.loss_scale *= self.div_factor
    def after_step(self):
        self.model.zero_grad()
        to_model_params(self.model_pgs, self.master_pgs, self.flat_master)
'''

@pytest.mark.parametrize('flat', [False, True])
def test_course_code_runs_with_exp_as_fp16(data, flat):
    "The course's nb_10c (typed from its notebook), `import exp.nb_10c as fp16` for apex: it trains exactly as ours"
    ns = {}
    exec('from exp.nb_10b import *\nimport exp.nb_10c as fp16\nfrom torch.nn.utils import parameters_to_vector\n' + COURSE, ns)
    theirs = ns['MixedPrecision'](flat_master=flat)
    def model():                          # theirs copies the weights after rounding them to float16, ours before: start
        m = cnn(data)                     # from weights that float16 holds exactly, and the two agree bit for bit
        with torch.no_grad():
            for p in m.parameters(): p.copy_(p.half())
        return m
    learn = fit(data, model(), [theirs], opt_func=sgd_opt, lr=0.05)
    ours = fit(data, model(), [MixedPrecision(flat_master=flat)], opt_func=sgd_opt, lr=0.05)
    assert theirs.loss_scale == ours.mixed_precision.loss_scale < 2.**24
    masters = torch.cat([p.detach().flatten() for pg in theirs.master_pgs for p in pg])
    assert torch.equal(masters, params(ours.model))
    assert next(learn.model.parameters()).dtype == torch.float16            # theirs leaves the model in float16; ours does not
