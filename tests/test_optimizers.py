"The lesson-11 optimizers (exp.nb_09) against torch.optim, LAMB against the paper's algorithm, state saved and resumed"
import copy, io, itertools, math, warnings
import pytest, torch
from torch import nn
import torch.nn.functional as F
import exp.nb_09 as _exp
# the lesson's names, without its test helpers (pytest would collect `test`, `test_eq`, ... as tests)
globals().update({k: v for k, v in vars(_exp).items() if not k.startswith(('_', 'test'))})

STEPS = 100
LRS = {'sgd': (0.05, 0.2), 'adam': (1e-3, 3e-3)}

@pytest.fixture(scope='module')
def data():
    "A class-balanced Imagenette subset at 32 px, in memory: 32 training images per class"
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        path = find_imagenette()
    splitter = partial(grandparent_splitter, valid_name='val')
    files = take_per_class([o for o in get_files(path/'train', image_extensions, recurse=True)], 32)
    il = ImageList(files, path, tfms=[make_rgb, ResizeFixed(32), to_byte_tensor, to_float_tensor])
    x = torch.stack([il[i] for i in range(len(il))])
    y = torch.tensor(CategoryProcessor()([parent_labeler(o) for o in files]))
    return DataBunch(*get_dls(Dataset(x, y), Dataset(x, y), 32), c_in=3, c_out=10)

def cnn(data, dtype=torch.float32, seed=0):
    set_seed(seed)
    m = get_cnn_model(data, [32, 64, 128, 256], conv_layer)
    init_cnn(m)
    return m.to(dtype)

def groups(m): return [list(m[:4].parameters()), list(m[4:].parameters())]

def rel_diff(ours, ref):
    return max(((a-b).abs().max() / b.abs().max().clamp_min(1e-30)).item() for a,b in zip(ours.parameters(), ref.parameters()))

def follow(data, opt_func, torch_opt, lrs, dtype=torch.float32, steps=STEPS, frozen=False):
    """Train a CNN with `torch_opt` for `steps` batches (two parameter groups, lrs `lrs`) and feed each of its gradients
    to our `opt_func` on a copy of the weights; the largest relative difference of the weights after every step"""
    ref = cnn(data, dtype); ours = copy.deepcopy(ref)
    if frozen:                                          # a parameter without a gradient: both must leave it alone
        ref[-1].bias.requires_grad_(False); ours[-1].bias.requires_grad_(False)
    topt = torch_opt([{'params': g, 'lr': lr} for g,lr in zip(groups(ref), lrs)])
    opt = opt_func(groups(ours), lr=lrs[0]); opt.hypers[1]['lr'] = lrs[1]
    worst = 0.
    for _,(xb,yb) in zip(range(steps), itertools.cycle(data.train_dl)):
        F.cross_entropy(ref(norm_imagenette(xb).to(dtype)), yb).backward()
        for p,q in zip(ours.parameters(), ref.parameters()): p.grad = None if q.grad is None else q.grad.clone()
        topt.step(); opt.step(); topt.zero_grad(); opt.zero_grad()
        worst = max(worst, rel_diff(ours, ref))
    return worst

adam_stats = lambda: [AverageGrad(dampening=True), AverageSqrGrad(), StepCount()]
CASES = {  # name: (ours, torch.optim's, lrs)
    'sgd':           (partial(Optimizer, steppers=[sgd_step]), torch.optim.SGD, LRS['sgd']),
    'sgd_l2':        (partial(Optimizer, steppers=[l2_reg, sgd_step], wd=1e-2), partial(torch.optim.SGD, weight_decay=1e-2), LRS['sgd']),
    'sgd_momentum':  (partial(StatefulOptimizer, steppers=[momentum_step], stats=AverageGrad(), mom=0.9),
                      partial(torch.optim.SGD, momentum=0.9), LRS['sgd']),
    'sgd_mom_l2':    (partial(StatefulOptimizer, steppers=[l2_reg, momentum_step], stats=AverageGrad(), wd=1e-2),
                      partial(torch.optim.SGD, momentum=0.9, weight_decay=1e-2), LRS['sgd']),
    'adam':          (adam_opt(), partial(torch.optim.Adam, betas=(0.9, 0.99), eps=1e-5), LRS['adam']),
    'adamw':         (adam_opt(wd=1e-2), partial(torch.optim.AdamW, betas=(0.9, 0.99), eps=1e-5, weight_decay=1e-2), LRS['adam']),
    'adam_l2':       (partial(StatefulOptimizer, steppers=[l2_reg, adam_step], stats=adam_stats(), wd=1e-2),
                      partial(torch.optim.Adam, betas=(0.9, 0.99), eps=1e-5, weight_decay=1e-2), LRS['adam']),
    'adam_torch_betas': (adam_opt(mom=0.9, sqr_mom=0.999, eps=1e-8), partial(torch.optim.Adam, betas=(0.9, 0.999), eps=1e-8), LRS['adam']),
}

@pytest.mark.parametrize('name', CASES)
def test_agrees_with_torch_optim_float32(data, name):
    ours, theirs, lrs = CASES[name]
    assert follow(data, ours, theirs, lrs) < 1e-6

@pytest.mark.parametrize('name', ['sgd_mom_l2', 'adamw', 'adam_l2'])
def test_agrees_with_torch_optim_float64(data, name):
    ours, theirs, lrs = CASES[name]
    assert follow(data, ours, theirs, lrs, dtype=torch.float64, steps=30) < 1e-12

def test_decoupled_decay_is_l2_for_sgd_only(data):
    "weight decay and L2 are one update for SGD (rounding apart), not for Adam"
    assert follow(data, partial(sgd_opt, wd=1e-2), partial(torch.optim.SGD, weight_decay=1e-2), LRS['sgd'], steps=30) < 1e-5
    assert follow(data, adam_opt(wd=0.1), partial(torch.optim.Adam, betas=(0.9, 0.99), eps=1e-5, weight_decay=0.1),
                  LRS['adam'], steps=30) > 1e-3

def test_parameters_without_gradient_are_skipped(data):
    assert follow(data, *CASES['adamw'][:2], LRS['adam'], steps=10, frozen=True) < 1e-6
    p, q = nn.Parameter(torch.ones(3)), nn.Parameter(torch.ones(3))
    opt = adam_opt(wd=0.1)([p, q], lr=0.1)
    p.grad = torch.ones(3); opt.step()
    assert torch.equal(q.detach(), torch.ones(3)) and q not in opt.state and p in opt.state

# ---- LAMB against the paper (You et al. 2019, arXiv 1904.00962, Algorithm 2), written out separately
def paper_lamb(params, grads_seq, lr, b1, b2, eps, wd):
    """LAMB as the paper writes it, per layer, with phi(z) = z; the trust ratio is 1 where a norm is 0, and for biases and
    norm parameters (1-d tensors), as TensorFlow Addons' LAMB does with `exclude_from_layer_adaptation`"""
    params = [p.detach().clone() for p in params]
    m = [torch.zeros_like(p) for p in params]; v = [torch.zeros_like(p) for p in params]
    for t, grads in enumerate(grads_seq, 1):
        for i, (x, g) in enumerate(zip(params, grads)):
            m[i] = b1*m[i] + (1-b1)*g
            v[i] = b2*v[i] + (1-b2)*g*g
            r = (m[i]/(1-b1**t)) / ((v[i]/(1-b2**t)).sqrt() + eps)
            u = r + wd*x
            xn, un = x.norm(), u.norm()
            ratio = (xn/un).item() if xn > 0 and un > 0 and x.ndim > 1 else 1.
            assert ratio <= 10, 'this check is for ratios under the cap'
            params[i] = x - lr*ratio*u
    return params

def test_lamb_is_the_papers_algorithm(data):
    set_seed(0)
    m = cnn(data)
    ps = list(m.parameters())
    grads_seq = [[torch.randn_like(p)*10**torch.empty(1).uniform_(-4, 0).item() for p in ps] for _ in range(20)]
    ours = [p.detach().clone().requires_grad_() for p in ps]
    opt = StatefulOptimizer(ours, lamb_step, stats=adam_stats(), lr=3e-3, mom=0.9, sqr_mom=0.99, eps=1e-6, wd=1e-2)
    for grads in grads_seq:
        for p, g in zip(ours, grads): p.grad = g.clone()
        opt.step()
    want = paper_lamb(ps, grads_seq, 3e-3, 0.9, 0.99, 1e-6, 1e-2)
    for p, w in zip(ours, want):
        assert ((p.detach()-w).abs().max() / w.abs().max().clamp_min(1e-12)) < 1e-5

def test_lamb_trust_ratio_cap_and_zero_weights():
    p = nn.Parameter(torch.zeros(2, 2)); p.grad = torch.ones(2, 2)
    opt = StatefulOptimizer([p], lamb_step, stats=adam_stats(), lr=0.1)
    opt.step()
    assert torch.allclose(p.detach(), torch.full((2, 2), -0.1), atol=1e-6)   # zero weights: trust ratio 1, they move
    q = nn.Parameter(torch.full((2, 2), 100.)); q.grad = torch.ones(2, 2)
    opt = StatefulOptimizer([q], lamb_step, stats=adam_stats(), lr=0.1)
    opt.step()                                                                  # ratio 100/1 capped at 10
    assert torch.allclose(q.detach(), torch.full((2, 2), 99.), atol=1e-4)
    b = nn.Parameter(torch.full((4,), 100.)); b.grad = torch.ones(4)
    opt = StatefulOptimizer([b], lamb_step, stats=adam_stats(), lr=0.1)
    opt.step()                                                                  # a bias: no trust ratio, Adam's step
    assert torch.allclose(b.detach(), torch.full((4,), 99.9), atol=1e-4)

def test_lamb_zero_bias_keeps_moving():
    "a zero-initialized bias under a steady gradient moves lr a step, as with Adam, not ~lr in all (trust ratio ~lr)"
    w = nn.Parameter(torch.ones(3, 3)); b = nn.Parameter(torch.zeros(3))
    opt = StatefulOptimizer([w, b], lamb_step, stats=adam_stats(), lr=1e-2)
    for _ in range(100):
        w.grad, b.grad = torch.ones(3, 3), torch.ones(3); opt.step()
    assert torch.allclose(b.detach(), torch.full((3,), -1.), atol=1e-3)

# ---- state saved and loaded
def batches(data, n):
    set_seed(1)
    return [b for _, b in zip(range(n), itertools.cycle(data.train_dl))]

def train(m, opt, bs):
    for xb, yb in bs:
        F.cross_entropy(m(norm_imagenette(xb)), yb).backward(); opt.step(); opt.zero_grad()

OPT_FUNCS = {'sgd_mom': partial(StatefulOptimizer, steppers=[weight_decay, momentum_step], stats=AverageGrad(), wd=1e-2),
             'adamw': adam_opt(wd=1e-2),
             'lamb': partial(StatefulOptimizer, steppers=lamb_step, stats=adam_stats(), wd=1e-2),
             'sgd': partial(sgd_opt, wd=1e-2)}

@pytest.mark.parametrize('name', OPT_FUNCS)
def test_resume_20_plus_20_is_40(data, name):
    f, lr = OPT_FUNCS[name], 0.1 if name.startswith('sgd') else 1e-3
    bs = batches(data, 40)
    m = cnn(data); opt = f(groups(m), lr=lr); train(m, opt, bs)
    m1 = cnn(data); opt1 = f(groups(m1), lr=lr); train(m1, opt1, bs[:20])
    buf = io.BytesIO(); torch.save({'model': m1.state_dict(), 'opt': opt1.state_dict()}, buf); buf.seek(0)
    ckpt = torch.load(buf, weights_only=False)
    m2 = cnn(data, seed=7); opt2 = f(groups(m2), lr=lr)
    m2.load_state_dict(ckpt['model']); opt2.load_state_dict(ckpt['opt'])
    train(m2, opt2, bs[20:])
    for a, b in zip(m2.state_dict().values(), m.state_dict().values()): assert torch.equal(a, b)
    if name != 'sgd': assert len(opt2.state) == len(list(m2.parameters()))

def test_state_dict_is_a_copy():
    p = nn.Parameter(torch.ones(3)); p.grad = torch.ones(3)
    opt = adam_opt()([p], lr=0.1); opt.step()
    sd = opt.state_dict()
    opt.step()
    assert sd['state'][0]['step'] == 1 and opt.state[p]['step'] == 2
    assert not torch.equal(sd['state'][0]['grad_avg'], opt.state[p]['grad_avg'])

def test_load_state_dict_errors():
    p = nn.Parameter(torch.ones(3)); p.grad = torch.ones(3)
    opt = adam_opt()([p], lr=0.1); opt.step()
    with pytest.raises(ValueError, match='1 parameter group'):
        adam_opt()([[nn.Parameter(torch.ones(3))], [nn.Parameter(torch.ones(2))]], lr=0.1).load_state_dict(opt.state_dict())
    with pytest.raises(ValueError, match="saved state 'grad_avg' of parameter 0 does not fit"):
        adam_opt()([nn.Parameter(torch.ones(5))], lr=0.1).load_state_dict(opt.state_dict())

# ---- bad hyper-parameters: a clear error naming them
def test_bad_hyper_parameters():
    ps = [nn.Parameter(torch.ones(2))]
    with pytest.raises(ValueError, match=r'lr=-0.1 is out of range'): sgd_opt(ps, lr=-0.1)
    with pytest.raises(ValueError, match=r'mom=1.5 is out of range'): adam_opt(mom=1.5)(ps, lr=0.1)
    with pytest.raises(ValueError, match=r'wd=-1 is out of range'): sgd_opt(ps, lr=0.1, wd=-1)
    with pytest.raises(TypeError, match=r"unknown hyper-parameter 'momentum' \(did you mean 'mom'\?\)"): adam_opt(momentum=0.9)(ps, lr=0.1)
    with pytest.raises(TypeError, match=r"unknown hyper-parameter 'wdd' \(did you mean 'wd'\?\)"): sgd_opt(ps, lr=0.1, wdd=0.1)
    with pytest.raises(TypeError, match=r"unknown hyper-parameter 'beta'"): sgd_opt(ps, lr=0.1, beta=0.9)
    with pytest.raises(TypeError, match='stepper sgd_step needs lr, which nobody set'): Optimizer(ps, sgd_step)
    with pytest.raises(TypeError, match='stepper adam_step needs sqr_avg'):
        ps[0].grad = torch.ones(2)
        StatefulOptimizer(ps, adam_step, stats=[AverageGrad(True), StepCount()], lr=0.1, sqr_mom=0.99).step()
    with pytest.raises(ValueError, match='empty parameter list'): sgd_opt([], lr=0.1)
    with pytest.raises(TypeError, match='parameters must be tensors'): sgd_opt([[1., 2.]], lr=0.1)

def test_param_groups_as_the_course_makes_them():
    m = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    assert len(sgd_opt(m.parameters(), lr=0.1).param_groups) == 1                      # a generator
    opt = sgd_opt([m[0].parameters(), m[1].parameters()], lr=0.1)                      # generators per group
    assert [len(g) for g in opt.param_groups] == [2, 2] and len(opt.hypers) == 2
    assert opt.hypers[0] is not opt.hypers[1]

def test_no_deprecation_warnings():
    p = nn.Parameter(torch.ones(3))
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        for f in [partial(sgd_opt, wd=0.1), adam_opt(wd=0.1), partial(StatefulOptimizer, steppers=lamb_step, stats=adam_stats())]:
            opt = f([p], lr=0.1)
            for _ in range(3): p.grad = torch.ones(3); opt.step(); opt.zero_grad()

# ---- the callbacks that read hyper-parameters, on ours and on torch.optim's
def tiny_data():
    x, y = torch.randn(64, 10), torch.randint(0, 2, (64,))
    return DataBunch(*get_dls(Dataset(x, y), Dataset(x, y), 16), c_in=10, c_out=2)

@pytest.mark.parametrize('opt_func', [partial(sgd_opt), partial(torch.optim.SGD, momentum=0.9)], ids=['ours', 'torch'])
def test_recorder_scheduler_lr_find_on_both(opt_func):
    data = tiny_data()
    set_seed(0)
    learn, run = get_runner(nn.Linear(10, 2), data, lr=0.1, opt_func=opt_func,
                            cbs=[Recorder, partial(ParamScheduler, 'lr', sched_lin(0.1, 0.5))])
    run.fit(2, learn)
    assert run.recorder.lrs[0][0] == pytest.approx(0.1) and run.recorder.lrs[0][-1] == pytest.approx(0.45)
    before = copy.deepcopy(learn.model.state_dict())
    learn2, run2 = get_runner(learn.model, data, lr=0.1, opt_func=opt_func, cbs=[partial(LR_Find, max_iter=6), Recorder])
    run2.fit(3, learn2)
    assert len(run2.recorder.lrs[0]) == 6
    for k, v in learn.model.state_dict().items(): assert torch.equal(v, before[k])
    with pytest.raises(KeyError, match="has no hyper-parameter 'LR'"):
        l3, r3 = get_runner(nn.Linear(10, 2), data, opt_func=opt_func, cbs=[partial(ParamScheduler, 'LR', sched_lin(1., 1.))])
        r3.fit(1, l3)
