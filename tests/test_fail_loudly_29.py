"Issue 29: optimizers, Learner, augmentation and downloads that are right or say clearly what is wrong"
import io, os, socket, subprocess, sys, tarfile, unicodedata, warnings
from pathlib import Path
import numpy as np
import PIL.Image
import pytest, torch
import matplotlib; matplotlib.use('Agg')
import matplotlib.pyplot as plt
import exp.nb_10 as _exp
import exp.download as dl
from exp.download import safe_extract
globals().update({k: v for k, v in vars(_exp).items() if not k.startswith(('_', 'test'))})

def tiny_data(n=64, bs=16):
    set_seed(0)
    x, y = torch.randn(n, 10), torch.randint(0, 2, (n,))
    return DataBunch(*get_dls(Dataset(x, y), Dataset(x, y), bs), c_in=10, c_out=2)

def mlp():
    set_seed(0)
    return nn.Sequential(nn.Linear(10, 8), nn.ReLU(), nn.Linear(8, 2))

adam_stats = lambda: [AverageGrad(dampening=True), AverageSqrGrad(), StepCount()]
OPTS = {  # every optimizer lesson 09 builds; weight decay on, so a frozen layer that is stepped at all moves
    'sgd_wd':       partial(sgd_opt, wd=0.1),
    'sgd_l2':       partial(Optimizer, steppers=[l2_reg, sgd_step], wd=0.1),
    'momentum':     partial(StatefulOptimizer, steppers=[momentum_step], stats=AverageGrad(), mom=0.9),
    'momentum_wd':  partial(StatefulOptimizer, steppers=[weight_decay, momentum_step], stats=AverageGrad(), wd=0.1),
    'momentum_l2':  partial(StatefulOptimizer, steppers=[l2_reg, momentum_step], stats=AverageGrad(), wd=0.1),
    'adam':         adam_opt(),
    'adamw':        adam_opt(wd=0.1),
    'lamb':         partial(StatefulOptimizer, steppers=lamb_step, stats=adam_stats(), wd=0.1),
}

# ---- 1. frozen means frozen
class FreezeFirst(Callback):
    "At the second epoch, freeze the first layer and remember its weights"
    def begin_epoch(self):
        if self.epoch == 1:
            self.model[0].requires_grad_(False)
            self.frozen = [p.detach().clone() for p in self.model[0].parameters()]
            self.other = [p.detach().clone() for p in self.model[2].parameters()]

@pytest.mark.parametrize('name', OPTS)
def test_frozen_inside_a_fit_stays_put(name):
    learn = Learner(mlp(), tiny_data(), F.cross_entropy, opt_func=OPTS[name], lr=0.01 if 'adam' in name or name == 'lamb' else 0.1)
    cb = FreezeFirst()
    learn.fit(3, cbs=[cb])
    assert all(torch.equal(p, q) for p, q in zip(learn.model[0].parameters(), cb.frozen))
    assert not all(torch.equal(p, q) for p, q in zip(learn.model[2].parameters(), cb.other))   # the rest trained

@pytest.mark.parametrize('set_to_none', [True, False], ids=['drop_grads', 'zero_grads'])
@pytest.mark.parametrize('name', OPTS)
def test_frozen_in_a_hand_written_loop_stays_put(name, set_to_none):
    "With zero_grad(set_to_none=False) a frozen parameter keeps a zero gradient: only the requires_grad filter keeps it put"
    m, data = mlp(), tiny_data()
    opt = OPTS[name](m.parameters(), lr=0.01)
    for epoch in range(3):
        if epoch == 1:
            m[0].requires_grad_(False)
            frozen = [p.detach().clone() for p in m[0].parameters()]
        for xb, yb in data.train_dl:
            F.cross_entropy(m(xb), yb).backward(); opt.step(); opt.zero_grad(set_to_none=set_to_none)
    if not set_to_none: assert all(p.grad is not None for p in m[0].parameters())   # the case the filter is for
    assert all(torch.equal(p, q) for p, q in zip(m[0].parameters(), frozen))

def test_zero_grad_drops_gradients_as_torch_does():
    p = nn.Parameter(torch.ones(3)); p.grad = torch.ones(3)
    opt = sgd_opt([p], lr=0.1); opt.zero_grad()
    assert p.grad is None
    p.grad = torch.ones(3); opt.zero_grad(set_to_none=False)
    assert torch.equal(p.grad, torch.zeros(3))

# ---- 2. one group per parameter
@pytest.mark.parametrize('groups', ['two_groups', 'twice_in_one'])
def test_parameter_in_two_groups(groups):
    w, b = nn.Parameter(torch.ones(2, 3)), nn.Parameter(torch.ones(2))
    params = [[w], [w, b]] if groups == 'two_groups' else [w, b, w]
    with pytest.raises(ValueError, match=r'parameter \d of group \d \(shape \(2, 3\)\) is also parameter 0 of group 0.*one group'):
        sgd_opt(params, lr=0.1)

def test_overlapping_splitter_in_a_learner():
    m = mlp()
    learn = Learner(m, tiny_data(), F.cross_entropy, splitter=lambda m: [list(m.parameters()), list(m[2].parameters())])
    with pytest.raises(ValueError, match='is also parameter'): learn.fit(1)

# ---- 3. load_state_dict checks what it loads
def _stepped(opt_func, groups):
    for p in (p for g in groups for p in g): p.grad = torch.ones_like(p)
    opt = opt_func(groups, lr=0.1); opt.step(); return opt

def test_load_state_dict_other_group_sizes():
    ps = [nn.Parameter(torch.ones(3)) for _ in range(3)]
    sd = _stepped(adam_opt(), [[ps[0]], [ps[1], ps[2]]]).state_dict()
    with pytest.raises(ValueError, match=r'saved parameter groups have \[1, 2\] parameters, this optimizer\'s have \[2, 1\]'):
        adam_opt()([[ps[0], ps[1]], [ps[2]]], lr=0.1).load_state_dict(sd)

def test_load_state_dict_of_torch_optim_and_of_another_optimizer():
    p = nn.Parameter(torch.ones(3))
    with pytest.raises(ValueError, match="torch.optim's"): adam_opt()([p], lr=0.1).load_state_dict(torch.optim.SGD([p], lr=0.1).state_dict())
    with pytest.raises(ValueError, match=r"hyper-parameters lr, wd.*another kind of optimizer"):
        adam_opt()([p], lr=0.1).load_state_dict(_stepped(sgd_opt, [[p]]).state_dict())
    sd = _stepped(adam_opt(), [[p]]).state_dict(); del sd['state'][0]['step']          # state of other stats (no StepCount)
    with pytest.raises(ValueError, match=r"parameter 0 was saved with state grad_avg, mom_damp, sqr_avg, sqr_damp, this optimizer keeps .*step"):
        adam_opt()([p], lr=0.1).load_state_dict(sd)
    opt = adam_opt()([p], lr=0.1); opt.load_state_dict(_stepped(adam_opt(), [[p]]).state_dict())   # the right one loads
    assert opt.state[p]['step'] == 1

# ---- 4. hyper-parameters
@pytest.mark.parametrize('kw, err, msg', [
    (dict(lr=torch.tensor(-0.1)), ValueError, r'lr=-0.1 is out of range'),
    (dict(lr='0.1'), TypeError, r"lr='0.1' is a str, not a number"),
    (dict(lr=None), TypeError, r'lr=None is a NoneType, not a number'),
    (dict(lr=torch.ones(2)), TypeError, r'lr is a tensor of shape \(2,\)'),
    (dict(lr=float('nan')), ValueError, r'lr=nan is out of range')])
def test_bad_lr(kw, err, msg):
    with pytest.raises(err, match=msg): sgd_opt([nn.Parameter(torch.ones(2))], **kw)

@pytest.mark.parametrize('k', ['mom', 'sqr_mom'])
def test_adam_beta_one(k):
    with pytest.raises(ValueError, match=rf'{k}=1.0 is out of range: it must be in \[0, 1\).*divide by zero'):
        adam_opt(**{k: 1.})([nn.Parameter(torch.ones(2))], lr=0.1)
    StatefulOptimizer([nn.Parameter(torch.ones(2))], momentum_step, stats=AverageGrad(), lr=0.1, mom=1.)   # SGD's momentum 1: allowed, as torch

def test_stats_given_a_class():
    with pytest.raises(TypeError, match=r'stats=\[AverageGrad, ...\]: .* AverageGrad\(\)'):
        StatefulOptimizer([nn.Parameter(torch.ones(2))], momentum_step, stats=AverageGrad, lr=0.1)

# ---- 5. callbacks return True, False or nothing
class ReturnsLoss(Callback):
    def after_loss(self): return self.loss
class ReturnsBatch(Callback):
    def begin_batch(self): return self.xb * 2

@pytest.mark.parametrize('cb, event', [(ReturnsLoss, 'after_loss'), (ReturnsBatch, 'begin_batch')])
def test_callback_returning_a_tensor(cb, event):
    learn = Learner(mlp(), tiny_data(), F.cross_entropy)
    with pytest.raises(TypeError, match=rf'{cb.__name__}.{event} returned a Tensor'): learn.fit(1, cbs=[cb()])
    learn, run = get_runner(mlp(), tiny_data(), lr=0.1, cbs=[cb])
    with pytest.raises(TypeError, match=rf'{cb.__name__}.{event} returned a Tensor'): run.fit(1, learn)

# ---- 6. ParamScheduler checks each value it sets
@pytest.mark.parametrize('pname, sched, msg', [('lr', sched_lin(0.1, -0.1), r"ParamScheduler\('lr'\) at position 0.\d+.*lr=-0.0\d+ is out of range"),
                                               ('mom', sched_lin(0.9, 1.5), r'mom=1.\d+ is out of range'),
                                               ('lr', lambda pos: float('nan'), r'lr=nan is out of range')])
def test_param_scheduler_out_of_range(pname, sched, msg):
    learn = Learner(mlp(), tiny_data(), F.cross_entropy, opt_func=adam_opt() if pname == 'mom' else sgd_opt)
    with pytest.raises(ValueError, match=msg): learn.fit(1, cbs=[ParamScheduler(pname, sched)])

@pytest.mark.parametrize('pname', ['mom', 'sqr_mom'])
def test_param_scheduler_below_one_as_the_optimizer(pname):
    learn = Learner(mlp(), tiny_data(), F.cross_entropy, opt_func=adam_opt())
    with pytest.raises(ValueError, match=rf"ParamScheduler\('{pname}'\).*{pname}=1.0 is out of range: it must be in \[0, 1\).*divide by zero"):
        learn.fit(1, cbs=[ParamScheduler(pname, sched_no(1., 1.))])
    momentum = partial(StatefulOptimizer, steppers=[momentum_step], stats=AverageGrad(), mom=0.9)   # undampened: 1 is allowed
    Learner(mlp(), tiny_data(), F.cross_entropy, opt_func=momentum).fit(1, cbs=[ParamScheduler('mom', sched_no(1., 1.))])

def test_param_scheduler_makes_its_message_only_on_failure(monkeypatch):
    looked_up, orig = [], Callback.__getattr__
    def spy(self, k):
        if isinstance(self, ParamScheduler): looked_up.append(k)
        return orig(self, k)
    monkeypatch.setattr(Callback, '__getattr__', spy)
    Learner(mlp(), tiny_data(), F.cross_entropy).fit(1, cbs=[ParamScheduler('lr', sched_lin(0.1, 0.2))])
    assert 'iter' not in looked_up and 'epoch' not in looked_up

def nesterov_step(p, lr, nesterov=False, **kwargs): return p
nesterov_step._defaults = dict(nesterov=False)

def test_check_hyper_ranged_keys_only_and_exact_tensors():
    p = nn.Parameter(torch.ones(2))
    opt = Optimizer([p], [sgd_step, nesterov_step], lr=0.1)           # a stepper's own option: not a number, not checked
    assert opt.hypers[0]['nesterov'] is False
    adam_opt(sqr_mom=torch.tensor(0.99999999, dtype=torch.float64))([p], lr=0.1)   # below 1, though .7g shows 1
    with pytest.raises(ValueError, match=r'sqr_mom=1 is out of range'): adam_opt(sqr_mom=torch.tensor(1., dtype=torch.float64))([p], lr=0.1)

# ---- 7. learn.lr and learn.model after a fit
@pytest.mark.parametrize('lr, err, msg', [(-1., ValueError, r'learn.lr: hyper-parameter lr=-1.0 is out of range'),
                                          ('abc', TypeError, r"learn.lr: hyper-parameter lr='abc' is a str, not a number")])
def test_a_new_learn_lr_is_checked(lr, err, msg):
    learn = Learner(mlp(), tiny_data(), F.cross_entropy, lr=0.1)
    learn.fit(1); before = [p.detach().clone() for p in learn.model.parameters()]
    learn.lr = lr
    with pytest.raises(err, match=msg): learn.fit(1)
    assert all(torch.equal(p, q) for p, q in zip(learn.model.parameters(), before))   # nothing trained with it

HAND_SET = r'learn.opt was set by hand.*set learn.opt = None to let the Learner make a new one'

@pytest.mark.parametrize('change', ['lr', 'model'])
def test_a_change_next_to_a_hand_set_opt_is_not_ignored(change):
    learn = Learner(mlp(), tiny_data(), F.cross_entropy, lr=0.1)
    learn.opt = adam_opt()(learn.model.parameters(), lr=0.01)
    learn.fit(1)                                                     # the hand-set optimizer, as it is
    assert all(h['lr'] == 0.01 for h in learn.opt.hypers)
    if change == 'lr': learn.lr = 0.5
    else: learn.model = mlp()
    with pytest.raises(ValueError, match=rf'learn.{change} changed, but {HAND_SET}'): learn.fit(1)
    learn.opt = None; learn.fit(1)                                   # what the message says works
    assert learn.opt.param_groups[0][0] is learn.model[0].weight and learn.opt.hypers[0]['lr'] == learn.lr

def test_a_head_replaced_in_place():
    learn = Learner(mlp(), tiny_data(), F.cross_entropy, lr=0.1)
    learn.fit(1)
    learn.model[-1] = nn.Linear(8, 3)                                # the Learner's optimizer: made again
    learn.fit(1)
    assert sys.modules['exp.nb_09b']._param_ids(learn.opt.param_groups) == {id(p) for p in learn.model.parameters()}
    before = learn.model[-1].weight.detach().clone(); learn.fit(1)
    assert not torch.equal(before, learn.model[-1].weight)           # the new head trains
    learn.opt = sgd_opt(learn.model.parameters(), lr=0.1)
    learn.model[-1] = nn.Linear(8, 2)                                # a hand-set one: refused, not stepped as it was
    with pytest.raises(ValueError, match=r"learn.opt was set by hand and steps parameters that are not learn.model's"):
        learn.fit(1)
def test_new_lr_and_model_take_effect():
    learn = Learner(mlp(), tiny_data(), F.cross_entropy, lr=0.1)
    learn.fit(1); opt = learn.opt
    learn.lr = 0.5; learn.fit(1)
    assert learn.opt is opt and all(h['lr'] == 0.5 for h in learn.opt.hypers)
    learn.model = mlp(); learn.fit(1)
    assert learn.opt is not opt and learn.opt.param_groups[0][0] is learn.model[0].weight
    before = [p.detach().clone() for p in learn.model.parameters()]
    learn.fit(1)
    assert not torch.equal(before[0], learn.model[0].weight)                 # the new model is the one that trains

# ---- unclear errors of the Learner
@pytest.mark.parametrize('kw, msg', [
    (dict(opt_func=adam_opt), r'opt_func=adam_opt: .* call it, opt_func=adam_opt\(\)'),
    (dict(cbs=[Recorder]), r'cbs=\[Recorder, ...\]: cbs takes callback instances, e.g. Recorder\(\)'),
    (dict(cb_funcs=[Recorder()]), r'cb_funcs=\[Recorder\(\), ...\]: cb_funcs takes classes'),
    (dict(loss_func=nn.CrossEntropyLoss), r'loss_func=CrossEntropyLoss is a class: pass an instance')])
def test_learner_arguments(kw, msg):
    kw = {'loss_func': F.cross_entropy, **kw}
    with pytest.raises(TypeError, match=msg): Learner(mlp(), tiny_data(), **kw)

def test_runner_arguments():
    with pytest.raises(TypeError, match=r'cbs=\[Recorder, ...\]'): Runner(cbs=[Recorder])
    with pytest.raises(TypeError, match=r'cb_funcs=\[Recorder\(\), ...\]'): Runner(cb_funcs=[Recorder()])

CLASS_IN_CBS = r"cbs=\[Recorder, ...\]: cbs takes callback instances, e.g. Recorder\(\); a class .* goes in the Learner's or Runner's cb_funcs"

def test_a_class_in_cbs_is_refused_everywhere_alike():
    for make in (lambda: Learner(mlp(), tiny_data(), F.cross_entropy, cbs=[Recorder]), lambda: Runner(cbs=[Recorder]),
                 lambda: Learner(mlp(), tiny_data(), F.cross_entropy).fit(1, cbs=[Recorder])):
        with pytest.raises(TypeError, match=CLASS_IN_CBS): make()

def test_cb_funcs_not_callable_named():
    with pytest.raises(TypeError, match=r"cb_funcs=\['recorder', ...\]: 'recorder' \(str\) is not callable"):
        Learner(mlp(), tiny_data(), F.cross_entropy, cb_funcs=['recorder'])

def test_opt_func_returning_no_optimizer():
    learn = Learner(mlp(), tiny_data(), F.cross_entropy, opt_func=lambda ps, lr: partial(sgd_opt, ps))
    with pytest.raises(TypeError, match=r'returned a partial, not an optimizer'): learn.fit(1)

def test_torch_optim_with_list_groups_points_at_pg_dicts():
    split = lambda m: [list(m[0].parameters()), list(m[2].parameters())]
    learn = Learner(mlp(), tiny_data(), F.cross_entropy, opt_func=torch.optim.SGD, splitter=split)
    with pytest.raises(TypeError, match=r'pg_dicts\(my_splitter\(m\)\)'): learn.fit(1)
    learn = Learner(mlp(), tiny_data(), F.cross_entropy, opt_func=torch.optim.SGD, splitter=lambda m: pg_dicts(split(m)))
    learn.fit(1)
    assert len(learn.opt.param_groups) == 2

@pytest.mark.parametrize('epochs', [1.5, '2', True])
def test_fit_bad_epochs(epochs):
    with pytest.raises(TypeError, match=rf'fit\({epochs!r}\): the number of epochs must be an int'):
        Learner(mlp(), tiny_data(), F.cross_entropy).fit(epochs)

def test_fit_negative_epochs_is_a_value_error():
    with pytest.raises(ValueError, match=r'fit\(-1\): the number of epochs must be >= 0: pass .* e.g. fit\(1\)'):
        Learner(mlp(), tiny_data(), F.cross_entropy).fit(-1)

class _Iterable(torch.utils.data.IterableDataset):
    def __iter__(self): return iter(zip(torch.randn(8, 10), torch.randint(0, 2, (8,))))
class _Triples(torch.utils.data.Dataset):
    def __len__(self): return 8
    def __getitem__(self, i): return torch.randn(10), i % 2, i

def test_iterable_dataset_and_triples():
    dls = [torch.utils.data.DataLoader(_Iterable(), batch_size=4) for _ in range(2)]
    with pytest.raises(TypeError, match=r'data.train_dl has no length.*not an IterableDataset'):
        Learner(mlp(), DataBunch(*dls), F.cross_entropy).fit(1)
    dls = [torch.utils.data.DataLoader(_Triples(), batch_size=4) for _ in range(2)]
    with pytest.raises(TypeError, match=r'a batch of the DataLoader is 3 items: the loop needs \(xb, yb\) pairs') as e:
        Learner(mlp(), DataBunch(*dls), F.cross_entropy).fit(1)
    hint = str(e.value).split('e.g. ')[-1]                          # the collate_fn the message suggests works
    assert hint.startswith('collate_fn=')
    collate = eval(hint[len('collate_fn='):], {'torch': torch})
    dls = [torch.utils.data.DataLoader(_Triples(), batch_size=4, collate_fn=collate) for _ in range(2)]
    Learner(mlp(), DataBunch(*dls), F.cross_entropy).fit(1)

class CancelsAfterFit(Callback):
    def after_fit(self): raise CancelBatchException()

def test_cancel_in_after_fit():
    with pytest.raises(RuntimeError, match=r'CancelsAfterFit.after_fit raised CancelBatchException: .* return instead'):
        Learner(mlp(), tiny_data(), F.cross_entropy).fit(1, cbs=[CancelsAfterFit()])

# ---- learn.recorder after a fit with a Recorder of its own
def test_course_lr_find_then_recorder_plot():
    "The course's 09b: learn.fit(1, cbs=[LR_Find(), Recorder()]); learn.recorder.plot(3)"
    learn = Learner(mlp(), tiny_data(n=256), F.cross_entropy)
    learn.fit(1, cbs=[LR_Find(max_iter=10), Recorder()])
    learn.recorder.plot(3); plt.close('all')
    assert len(learn.recorder.lrs[0]) == 10 and learn.recorder not in learn.cbs

def test_a_permanent_callback_passed_to_fit_again_stays_once():
    learn = Learner(mlp(), tiny_data(), F.cross_entropy, cb_funcs=[Recorder])
    rec = learn.recorder
    learn.fit(1, cbs=[learn.recorder, rec])
    assert learn.recorder is rec and sum(o is rec for o in learn.cbs) == 1
    assert len(rec.losses) == 4                                     # it ran once per batch, not twice
    learn.fit(1)
    assert learn.recorder is rec and len(rec.losses) == 4

def test_permanent_recorder_restored_after_a_fit_only_one():
    rec = Recorder()
    learn = Learner(mlp(), tiny_data(), F.cross_entropy, cbs=[rec])
    learn.fit(1, cbs=[Recorder()])
    assert learn.recorder is rec and rec in learn.cbs and len(rec.losses) == 4
    assert sum(isinstance(o, Recorder) for o in learn.cbs) == 1

# ---- ProgressCallback with a stdout that has no isatty
class _Tee:
    def __init__(self): self.buf = io.StringIO()
    def write(self, s): return self.buf.write(s)
    def flush(self): pass

def test_progress_without_isatty(monkeypatch):
    tee = _Tee(); monkeypatch.setattr(sys, 'stdout', tee)
    learn = Learner(mlp(), tiny_data(), F.cross_entropy, cb_funcs=[partial(AvgStatsCallback, accuracy), ProgressCallback])
    learn.fit(1)
    monkeypatch.undo()
    assert 'train_loss' in tee.buf.getvalue() and '1/1 epochs' in tee.buf.getvalue()

# ---- 8. np_to_float: every mode in [0, 1] with its meaning, or refused
def test_np_to_float_modes():
    a16 = np.array([[0, 65535], [32768, 1000]], dtype=np.uint16)
    assert PIL.Image.fromarray(a16).mode == 'I;16'
    assert torch.allclose(np_to_float(PIL.Image.fromarray(a16)), torch.tensor(a16/65535., dtype=torch.float32)[None])
    assert torch.allclose(np_to_float(PIL.Image.fromarray(a16.astype(np.int32), 'I')), torch.tensor(a16/65535., dtype=torch.float32)[None])
    bits = PIL.Image.fromarray(np.array([[0, 255], [255, 0]], np.uint8)).convert('1')
    assert torch.equal(np_to_float(bits), torch.tensor([[[0., 1.], [1., 0.]]]))
    f = PIL.Image.fromarray(np.array([[0., 0.25], [0.5, 1.]], np.float32), 'F')
    assert torch.equal(np_to_float(f), torch.tensor([[[0., 0.25], [0.5, 1.]]]))
    rgb = PIL.Image.fromarray(np.random.RandomState(0).randint(0, 256, (4, 5, 3), dtype=np.uint8))
    pal = rgb.quantize(8)
    assert np_to_float(pal).shape == (3, 4, 5)
    assert torch.allclose(np_to_float(pal), np_to_float(pal.convert('RGB')))    # colours, not palette indices
    t = np_to_float(rgb)
    assert t.shape == (3, 4, 5) and 0 <= t.min() and t.max() <= 1

@pytest.mark.parametrize('mode, a, msg', [
    ('I', np.array([[0, 70000]], np.int32), r'mode I with values in \[0, 70000\].*\[0, 65535\]'),
    ('I', np.array([[-5, 3]], np.int32), r'mode I with values in \[-5, 3\]'),
    ('F', np.array([[0., 2.]], np.float32), r'mode F with values in \[0, 2\]'),
    ('F', np.array([[0., np.nan]], np.float32), r'mode F with values')])
def test_np_to_float_out_of_range_refused(mode, a, msg):
    with pytest.raises(ValueError, match=msg): np_to_float(PIL.Image.fromarray(a, mode))

# ---- 9. sizes and scales
@pytest.mark.parametrize('size', [(128, 96, 3), None, [], 0, (32, 0), True])
def test_random_resized_crop_bad_size(size):
    with pytest.raises(ValueError, match=r'size .*: pass a positive int, or a \(width, height\) pair'): RandomResizedCrop(size)

def test_sizes_still_taken():
    assert RandomResizedCrop(128).size == (128, 128) and RandomResizedCrop([64]).size == (64, 64)
    assert RandomResizedCrop((128, 96)).size == (128, 96)

@pytest.mark.parametrize('kw, msg', [(dict(scale=0.35), r'scale=0.35 must be a \(min, max\) pair.*e.g. scale=\(0.35, 1\)'),
                                     (dict(scale=None), r'scale=None must be a \(min, max\) pair'),
                                     (dict(scale=[]), r'scale=\[\] must be a \(min, max\) pair'),
                                     (dict(ratio=1.), r'ratio=1.0 must be a \(min, max\) pair')])
def test_random_resized_crop_bad_scale(kw, msg):
    with pytest.raises(ValueError, match=msg): RandomResizedCrop(128, **kw)

@pytest.mark.parametrize('ratio', [1., (2., 1.), (0, 1.), None])
def test_random_affine_bad_ratio(ratio):
    with pytest.raises(ValueError, match=r'random_affine \(width/height\): ratio='): random_affine(4, ratio=ratio)

# ---- 10, 11 and the batch path's unclear errors
def test_affine_nan_matrix():
    mats = rotation_matrix(torch.zeros(3)); mats[1, 0, 2] = float('nan')
    with pytest.raises(ValueError, match=r'matrix 1 of mats has NaN or infinite values'): affine_augment(torch.rand(3, 1, 8, 8), mats=mats)

def test_affine_default_matrices_are_not_checked(monkeypatch):
    "random_affine's matrices are finite by construction: no per-batch check (a host sync on a GPU)"
    def no_check(mats, n): raise AssertionError('checked')
    monkeypatch.setattr(_exp, '_check_mats', no_check)
    assert affine_augment(torch.rand(3, 1, 8, 8)).shape == (3, 1, 8, 8)
    with pytest.raises(AssertionError, match='checked'): affine_augment(torch.rand(3, 1, 8, 8), mats=rotation_matrix(torch.zeros(3)))

@pytest.mark.parametrize('kw, msg', [(dict(max_deg=float('inf')), r'max_deg=inf must be a finite number'),
                                     (dict(ratio=(1., float('inf'))), r'ratio=\(1.0, inf\) must be a \(min, max\) pair .*\(finite\)')])
def test_random_affine_infinite_arguments(kw, msg):
    with pytest.raises(ValueError, match=msg): random_affine(4, **kw)

def _axis_angle(img):
    "The direction (degrees) of the brightest line through the centre of `img` (h, w)"
    ys, xs = np.nonzero(img > 0.5 * img.max())
    xs, ys = xs - xs.mean(), ys - ys.mean()
    _, v = np.linalg.eigh(np.cov(np.stack([xs, ys])))
    return np.degrees(np.arctan2(v[1, -1], v[0, -1])) % 180

@pytest.mark.parametrize('h, w', [(32, 64), (64, 32), (48, 48)])
def test_rotation_is_a_rotation_in_pixels(h, w):
    "A horizontal and a vertical line rotated by 10 degrees stay perpendicular, each turned by 10 degrees"
    x = torch.zeros(2, 1, h, w)
    x[0, 0, h//2-1:h//2+1, w//4:3*w//4] = 1.                   # a horizontal bar
    x[1, 0, h//4:3*h//4, w//2-1:w//2+1] = 1.                   # a vertical bar
    out = affine_augment(x, mats=rotation_matrix(torch.tensor([10., 10.])))
    a0, a1 = _axis_angle(out[0, 0].numpy()), _axis_angle(out[1, 0].numpy())
    assert abs(((a1 - a0) % 180) - 90) < 1.5
    assert abs(min(a0, 180-a0) - 10) < 1.5

@pytest.mark.parametrize('x, err, msg', [
    (torch.rand(3, 8, 8), ValueError, r'a single image: pass a batch of one, x\[None\]'),
    (torch.rand(4, 784), ValueError, r'a flat batch: reshape it'),
    (torch.randint(0, 255, (2, 3, 8, 8), dtype=torch.uint8), TypeError, r'x is a torch.uint8 batch: it needs floats')])
def test_affine_bad_batches(x, err, msg):
    with pytest.raises(err, match=msg): affine_augment(x)

def test_affine_empty_batch_and_mats_count():
    assert affine_augment(torch.rand(0, 3, 8, 8), size=4).shape == (0, 3, 4, 4)
    with pytest.raises(ValueError, match=r'mats has shape \(3, 2, 3\): it needs one \(2,3\) matrix per image, \(4, 2, 3\)'):
        affine_augment(torch.rand(4, 3, 8, 8), mats=rotation_matrix(torch.zeros(3)))

def test_batch_augment_before_the_mnist_view():
    x, y = torch.rand(32, 784), torch.randint(0, 10, (32,))
    data = DataBunch(*get_dls(Dataset(x, y), Dataset(x, y), 16), c_in=1, c_out=10)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    learn = Learner(model, data, F.cross_entropy, cb_funcs=[BatchAugmentCallback, partial(BatchTransformXCallback, view_tfm(1, 28, 28))])
    with pytest.raises(ValueError, match=r'BatchAugmentCallback \(_order 1\) got batches of shape \(16, 784\).*_order = 3'): learn.fit(1)
    cb = BatchAugmentCallback(); cb._order = 3
    Learner(model, data, F.cross_entropy, cbs=[cb], cb_funcs=[partial(BatchTransformXCallback, view_tfm(1, 28, 28))]).fit(1)

# ---- 12. EXIF orientation: photos upright
H, W = 24, 16
COLOURS = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]], np.uint8)   # top-left, top-right, bottom-left, bottom-right

def upright():
    a = np.zeros((H, W, 3), np.uint8)
    a[:H//2, :W//2], a[:H//2, W//2:], a[H//2:, :W//2], a[H//2:, W//2:] = COLOURS
    return a

# how a camera stores the upright picture for each EXIF orientation (the TIFF/EXIF spec's row/column meaning, written out)
STORED = {1: lambda u: u, 2: lambda u: u[:, ::-1], 3: lambda u: u[::-1, ::-1], 4: lambda u: u[::-1],
          5: lambda u: u.transpose(1, 0, 2), 6: lambda u: np.rot90(u, 1), 7: lambda u: np.rot90(u, 2).transpose(1, 0, 2),
          8: lambda u: np.rot90(u, -1)}

def phone_jpeg(path, orientation):
    exif = PIL.Image.Exif(); exif[274] = orientation
    PIL.Image.fromarray(np.ascontiguousarray(STORED[orientation](upright()))).save(path, 'JPEG', quality=95, exif=exif.tobytes())
    return path

def quadrants(t):
    "The mean colour (0-255) of each quadrant of a (3,h,w) float tensor"
    t = t.permute(1, 2, 0).numpy()*255; h, w = t.shape[:2]
    return np.stack([t[:h//2, :w//2].mean((0, 1)), t[:h//2, w//2:].mean((0, 1)), t[h//2:, :w//2].mean((0, 1)), t[h//2:, w//2:].mean((0, 1))])

@pytest.mark.parametrize('o', range(1, 9))
def test_phone_jpeg_upright_through_image_list(tmp_path, o):
    fn = phone_jpeg(tmp_path/f'o{o}.jpg', o)
    if o >= 5: assert PIL.Image.open(fn).size == (H, W)       # stored on its side: the file really needs turning
    il = ImageList.from_files(tmp_path, tfms=[make_rgb, to_byte_tensor, to_float_tensor])
    t = il[0]
    assert t.shape == (3, H, W)
    assert np.abs(quadrants(t) - COLOURS).max() < 40

@pytest.mark.parametrize('o', range(1, 9))
def test_phone_jpeg_upright_through_the_10_transforms(tmp_path, o):
    fn = phone_jpeg(tmp_path/f'o{o}.jpg', o)
    tfm_sets = [[make_rgb, CenterCrop((W, H), scale=1.), np_to_float],
                [make_rgb, RandomResizedCrop((W, H), scale=(1., 1.), ratio=(W/H, W/H)), np_to_float],
                [make_rgb, PilTiltRandomCrop((W, H), crop_size=(W, H), magnitude=0.), np_to_float],
                [make_rgb, PilRandomFlip(p=0.), PilRandomDihedral(p=0.), ResizeFixed((W, H)), np_to_float]]
    for tfms in tfm_sets:
        t = ImageList([fn], tmp_path, tfms=tfms)[0]
        assert t.shape == (3, H, W) and np.abs(quadrants(t) - COLOURS).max() < 40
        b = affine_augment(t[None], mats=rotation_matrix(torch.zeros(1)))[0]
        assert np.abs(quadrants(b) - COLOURS).max() < 40

def test_draft_of_a_phone_jpeg_stored_on_its_side(tmp_path):
    "draft is asked for the stored (sideways) size: once upright the image is never below ResizeFixed's size"
    fn = tmp_path/'side.jpg'
    exif = PIL.Image.Exif(); exif[274] = 6
    PIL.Image.new('RGB', (64, 256), 'red').save(fn, 'JPEG', exif=exif.tobytes())   # upright 256 wide, 64 tall
    img = ImageList([fn], tmp_path, tfms=[ResizeFixed((16, 64))]).get(fn)
    assert img.size[0] >= 16 and img.size[1] >= 64, img.size
    assert ImageList([fn], tmp_path, tfms=[ResizeFixed((16, 64))])[0].size == (16, 64)

# ---- 14. get_files and ~
def test_get_files_tilde_and_missing(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path))
    (tmp_path/'imgs'/'a').mkdir(parents=True)
    PIL.Image.new('RGB', (4, 4)).save(tmp_path/'imgs'/'a'/'x.png')
    assert get_files('~/imgs', image_extensions, recurse=True) == [tmp_path/'imgs'/'a'/'x.png']
    assert len(ImageList.from_files('~/imgs')) == 1
    for recurse in (True, False):
        with pytest.raises(FileNotFoundError, match=r'get_files: .*nope is not a folder'): get_files(tmp_path/'nope', recurse=recurse)
    with pytest.raises(FileNotFoundError, match=r'ImageList.from_files: .*nope is not a folder'): ImageList.from_files('~/nope')

# ---- labels that differ only in Unicode normalization
def test_labels_nfc():
    nfc, nfd = unicodedata.normalize('NFC', 'café'), unicodedata.normalize('NFD', 'café')
    assert nfc != nfd
    proc = CategoryProcessor()
    assert proc([nfc, 'tea', nfd]) == [0, 1, 0] and proc.vocab == [nfc, 'tea']
    assert proc.proc1(nfd) == 0

# ---- LSUV: overflow is called overflow
def test_lsuv_overflow_message():
    m = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Conv2d(4, 4, 3))
    with torch.no_grad(): m[0].weight.fill_(3e38)
    with pytest.raises(LSUVError, match=r'overflows to inf or NaN'): lsuv_module(m, m[1], torch.rand(8, 1, 8, 8))

# ---- 13 and the downloads' unclear errors
def _tgz(path, members):
    with tarfile.open(path, 'w:gz') as tf:
        for name, data in members:
            ti = tarfile.TarInfo(name); ti.size = len(data); tf.addfile(ti, io.BytesIO(data))

def _free_port():
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def _dead_pid():
    p = subprocess.Popen([sys.executable, '-c', 'pass']); p.wait(); return p.pid

def test_killed_download_part_removed_when_the_archive_is_there(tmp_path):
    _tgz(tmp_path/'ds.tgz', [('ds/a.txt', b'v1')])
    part = tmp_path/f'.ds.tgz.{dl._HOST}-{_dead_pid()}-abcdef.part'       # what a download killed by SIGKILL leaves
    part.write_bytes(b'half')
    url = f'http://127.0.0.1:{_free_port()}/ds.tgz'                        # never reached: the archive is already there
    assert (untar_data(url, dest=tmp_path)/'a.txt').read_text() == 'v1'
    assert sorted(o.name for o in tmp_path.iterdir()) == ['ds', 'ds.tgz']

def test_killed_download_part_removed_when_the_dataset_is_extracted(tmp_path):
    "The usual case: the folder is there, untar_data returns early, and a killed download's .part still goes"
    _tgz(tmp_path/'ds.tgz', [('ds/a.txt', b'v1')])
    url = f'http://127.0.0.1:{_free_port()}/ds.tgz'
    untar_data(url, dest=tmp_path)
    part = tmp_path/f'.ds.tgz.{dl._HOST}-{_dead_pid()}-abcdef.part'
    part.write_bytes(b'half')
    assert (untar_data(url, dest=tmp_path)/'a.txt').read_text() == 'v1'
    assert sorted(o.name for o in tmp_path.iterdir()) == ['ds', 'ds.tgz']

def test_exp_data_is_a_file(tmp_path, monkeypatch):
    (tmp_path/'f').write_text('x'); monkeypatch.setenv('EXP_DATA', str(tmp_path/'f'))
    with pytest.raises(NotADirectoryError, match=r"EXP_DATA='.*f' is a file, not a folder"): data_dir()

def test_dangling_symlink_dest(tmp_path):
    _tgz(tmp_path/'ds.tgz', [('ds/a.txt', b'v1')])
    (tmp_path/'ds').symlink_to(tmp_path/'gone')
    with pytest.raises(FileNotFoundError, match=r'ds is a symlink to .*gone, which does not exist'):
        untar_data(f'http://127.0.0.1:{_free_port()}/ds.tgz', dest=tmp_path)
    assert sorted(o.name for o in tmp_path.iterdir()) == ['ds', 'ds.tgz']

@pytest.mark.parametrize('local', ['/local/path/ds.tgz', './ds.tgz', '~/ds.tgz', Path('ds.tgz')])
def test_untar_local_path(tmp_path, local):
    with pytest.raises(ValueError, match=r'this is a local path.*safe_extract'): untar_data(local, dest=tmp_path)

def test_untar_upper_case_extension_and_no_extension(tmp_path):
    _tgz(tmp_path/'DS.TGZ', [('DS/a.txt', b'up')])
    url = f'http://127.0.0.1:{_free_port()}/'
    assert (untar_data(url+'DS.TGZ', dest=tmp_path)/'a.txt').read_text() == 'up'
    assert not (tmp_path/'DS.TGZ.tgz').exists()
    _tgz(tmp_path/'plain.tgz', [('plain/a.txt', b'p')])
    with pytest.warns(UserWarning, match=r'has no archive extension .*downloading .*plain.tgz'):
        assert untar_data(url+'plain', dest=tmp_path) == tmp_path/'plain'

def test_safe_extract_upper_case_zip(tmp_path):
    import zipfile
    with zipfile.ZipFile(tmp_path/'A.ZIP', 'w') as zf: zf.writestr('a/x.txt', 'z')
    assert (safe_extract(tmp_path/'A.ZIP', tmp_path/'out')/'a'/'x.txt').read_text() == 'z'
