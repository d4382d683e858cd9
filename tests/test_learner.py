"The 09b Learner: the Runner's event semantics, the earlier lessons' callbacks, failures that say what went wrong"
import contextlib, copy, io, math
import pytest, torch
from torch import nn
import torch.nn.functional as F
import exp.nb_09c as _exp
# the lesson's names, without its test helpers (pytest would collect `test`, `test_eq`, ... as tests)
globals().update({k: v for k, v in vars(_exp).items() if not k.startswith(('_', 'test'))})
from exp.nb_06 import n_hooks   # not star-exported: a test helper

def tiny_data(n=64, bs=16):
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, 10, generator=g), torch.randint(0, 2, (n,), generator=g)
    return DataBunch(*get_dls(Dataset(x, y), Dataset(x, y), bs), c_in=10, c_out=2)

def mlp(seed=0):
    set_seed(seed)
    return nn.Sequential(nn.Linear(10, 8), nn.ReLU(), nn.Linear(8, 2))

class EventLog(Callback):
    _order = -100
    def __init__(self): self.events = []
    def __call__(self, event): self.events.append(event); return False

class StopAfter(Callback):
    def __init__(self, n): self.n = n
    def after_step(self):
        if self.n_iter+1 >= self.n: raise CancelTrainException()

class TrainOnly(Callback):
    def __init__(self, n): self.n = n
    def begin_epoch(self): self.seen = 0
    def begin_batch(self):
        if not self.in_train: return
        if self.seen == self.n: raise CancelEpochException()
        self.seen += 1

class SkipEveryOther(Callback):
    "Cancel every other training batch"
    def begin_batch(self):
        if self.in_train and self.iter % 2: raise CancelBatchException()

def both(cbs_factory, epochs=2):
    "Events and final weights of the same fit under nb_05's Runner and under the Learner"
    data = tiny_data()
    out = []
    for kind in ('runner', 'learner'):
        log = EventLog(); cbs = [log] + cbs_factory()
        if kind == 'runner':
            learn, run = get_runner(mlp(), data, lr=0.1, cbs=cbs, opt_func=sgd_opt)
            run.fit(epochs, learn); model = learn.model
        else:
            learn = Learner(mlp(), data, F.cross_entropy, lr=0.1, cbs=cbs)
            learn.fit(epochs); model = learn.model
        out.append((log.events, [p.detach().clone() for p in model.parameters()]))
    return out

@pytest.mark.parametrize('cbs', [lambda: [], lambda: [StopAfter(3)], lambda: [TrainOnly(2)], lambda: [SkipEveryOther()],
                                 lambda: [Recorder(), AvgStatsCallback([accuracy])]],
                         ids=['plain', 'cancel_train', 'cancel_epoch', 'cancel_batch', 'recorder_stats'])
def test_same_events_and_weights_as_runner(cbs):
    with contextlib.redirect_stdout(io.StringIO()):
        (ev_r, w_r), (ev_l, w_l) = both(cbs)
    assert ev_r == ev_l
    for a, b in zip(w_r, w_l): assert torch.equal(a, b)

def fitter(kind, cbs, data=None, model=None):
    "A fit with `cbs` by nb_05's Runner or by the Learner: (fit(epochs), the object holding model and data)"
    data, model = data or tiny_data(), model or mlp()
    if kind == 'runner':
        learn, run = get_runner(model, data, lr=0.1, cbs=cbs, opt_func=sgd_opt)
        return (lambda n: run.fit(n, learn)), learn
    learn = Learner(model, data, F.cross_entropy, lr=0.1, cbs=cbs)
    return learn.fit, learn

KINDS = ['runner', 'learner']

@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('event', ['begin_epoch', 'begin_validate', 'after_epoch'])
def test_cancel_epoch_outside_the_batches_does_not_escape(event, kind):
    class C(Callback): pass
    setattr(C, event, lambda self: (_ for _ in ()).throw(CancelEpochException()))
    log = EventLog()
    fit, learn = fitter(kind, [log, C()])
    fit(2)
    assert log.events.count('after_cancel_epoch') == 2 and log.events[-1] == 'after_fit'
    if event == 'begin_epoch': assert 'after_step' not in log.events
    if event == 'begin_validate': assert log.events.count('begin_batch') == 2*len(learn.data.train_dl)

@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('event', ['begin_batch', 'after_pred', 'after_loss', 'after_backward', 'after_step'])
def test_returning_true_skips_the_rest_of_the_batch(event, kind):
    class Skip(Callback): pass
    setattr(Skip, event, lambda self: self.in_train)
    log = EventLog()
    fit, learn = fitter(kind, [log, Skip()])
    w = [p.detach().clone() for p in learn.model.parameters()]
    fit(1)
    order = ['begin_batch', 'after_pred', 'after_loss', 'after_backward', 'after_step']
    later = order[order.index(event)+1:]
    n, v = len(learn.data.train_dl), len(learn.data.valid_dl)
    for e in later: assert log.events.count(e) == (v if e in ('after_pred', 'after_loss') else 0), e    # validation batches only
    assert log.events.count('after_batch') == n + v
    trained = event == 'after_step'
    assert all(torch.equal(p.detach(), q) for p, q in zip(learn.model.parameters(), w)) != trained
    if event != 'after_step': assert 'after_step' not in log.events

def test_returning_true_from_begin_epoch_skips_training():
    class NoTrain(Callback):
        def begin_epoch(self): return True
    log = EventLog()
    Learner(mlp(), tiny_data(), F.cross_entropy, lr=0.1, cbs=[log, NoTrain()]).fit(1)
    assert 'after_step' not in log.events and 'begin_validate' in log.events

def test_after_fit_runs_and_mode_restored_when_a_batch_fails():
    class Boom(Callback):
        def after_loss(self):
            if self.in_train: raise RuntimeError('boom')
    closed = []
    class Closer(Callback):
        def after_fit(self): closed.append(True)
    m = mlp().eval()
    learn = Learner(m, tiny_data(), F.cross_entropy, lr=0.1)
    with pytest.raises(RuntimeError, match='boom'): learn.fit(1, cbs=[Boom(), Closer()])
    assert closed == [True] and not m.training
    assert all(p.grad is None for p in m.parameters())
    assert not any(isinstance(cb, (Boom, Closer)) for cb in learn.cbs)
    assert isinstance(learn.boom, Boom)          # a fit's callbacks stay readable after it (issue 29: learn.recorder)

def test_failing_after_fit_does_not_hide_the_error():
    class Broken(Callback):
        def after_fit(self): raise ValueError('cleanup failed')
    class Boom(Callback):
        def begin_fit(self): raise KeyError('first')
    learn = Learner(mlp(), tiny_data(), F.cross_entropy, lr=0.1)
    with pytest.raises(KeyError) as e: learn.fit(1, cbs=[Boom(), Broken()])
    assert any('Broken.after_fit also failed' in n for n in getattr(e.value, '__notes__', ['Broken.after_fit also failed']))
    with pytest.raises(ValueError, match='cleanup failed'): learn.fit(1, cbs=[Broken()])

@pytest.mark.parametrize('kind', KINDS)
def test_bad_data_and_misplaced_cancel(kind):
    data = tiny_data()
    with pytest.raises(ValueError, match='data.valid_dl is None'): fitter(kind, [], DataBunch(data.train_dl, None))[0](1)
    with pytest.raises(ValueError, match='gives no batches'): fitter(kind, [], DataBunch(DataLoader([], batch_size=4), data.valid_dl))[0](1)
    class Early(Callback):
        def begin_validate(self): raise CancelBatchException()
    with pytest.raises(RuntimeError, match='outside a batch'): fitter(kind, [Early()])[0](1)

def test_clear_errors():
    data = tiny_data()
    learn = Learner(mlp(), data, F.cross_entropy)
    class Opt(Callback): pass
    with pytest.raises(ValueError, match="would hide Learner.opt"): learn.add_cb(Opt())
    with pytest.raises(ValueError, match="unknown event 'after_bacth'"): learn('after_bacth')
    with pytest.raises(ValueError, match='data.valid_dl is None'): Learner(mlp(), DataBunch(data.train_dl, None), F.cross_entropy).fit(1)
    empty = DataBunch(DataLoader([], batch_size=4), data.valid_dl)
    with pytest.raises(ValueError, match='gives no batches'): Learner(mlp(), empty, F.cross_entropy).fit(1)
    class Early(Callback):
        def begin_fit(self): raise CancelBatchException()
    with pytest.raises(RuntimeError, match='outside a batch'): learn.fit(1, cbs=[Early()])

def test_optimizer_made_at_fit_and_reset():
    learn = Learner(mlp(), tiny_data(), F.cross_entropy, lr=0.3, opt_func=adam_opt())
    assert learn.opt is None
    learn.fit(1); opt = learn.opt
    assert opt.hypers[0]['lr'] == 0.3 and len(opt.state) > 0
    learn.fit(1); assert learn.opt is opt
    learn.fit(1, reset_opt=True); assert learn.opt is not opt

def test_splitter_makes_groups():
    m = mlp()
    learn = Learner(m, tiny_data(), F.cross_entropy, lr=0.1, splitter=lambda m: [m[0].parameters(), m[2].parameters()],
                    cb_funcs=[Recorder, partial(ParamScheduler, 'lr', [sched_no(0.1, 0.1), sched_no(0.01, 0.01)])])
    learn.fit(1)
    assert len(learn.opt.param_groups) == 2 and learn.recorder.lrs[1][-1] == 0.01

# ---- the earlier lessons' callbacks with the Learner
def test_device_and_batch_transform_callbacks():
    seen = []
    class Look(Callback):
        _order = 5
        def begin_batch(self): seen.append((self.xb.device, self.xb.abs().max().item()))
    learn = Learner(mlp(), tiny_data(), F.cross_entropy, lr=0.1,
                    cb_funcs=[DeviceCallback, partial(BatchTransformXCallback, lambda x: x*0), Look])
    learn.fit(1)
    assert all(d == default_device() and v == 0 for d, v in seen)

def test_activation_stats_and_hooks_removed():
    learn = Learner(mlp(), tiny_data(), F.cross_entropy, lr=0.1, cb_funcs=[ActivationStats])
    learn.fit(1)
    assert len(learn.activation_stats.means) == 2 and len(learn.activation_stats.means[0]) == len(learn.data.train_dl)   # training batches
    assert n_hooks(learn.model) == 0

def test_early_stopping_restores_best():
    x, y = torch.randn(32, 10), torch.randint(0, 2, (32,))
    xv, yv = torch.randn(64, 10), torch.randint(0, 2, (64,))
    data = DataBunch(*get_dls(Dataset(x, y), Dataset(xv, yv), 8), c_in=10, c_out=2)
    learn = Learner(mlp(), data, F.cross_entropy, lr=0.5, cb_funcs=[partial(EarlyStoppingCallback, patience=2)])
    learn.fit(40)
    es = learn.early_stopping
    assert es.stopped_epoch is not None and es.stopped_epoch - es.best_epoch == 2

def test_lr_find_restores_and_recorder_plots():
    learn = Learner(mlp(), tiny_data(), F.cross_entropy, lr=0.1, opt_func=partial(StatefulOptimizer, steppers=[momentum_step], stats=AverageGrad()))
    learn.fit(1)
    before = copy.deepcopy(learn.model.state_dict()); state = copy.deepcopy(learn.opt.state_dict())
    learn.fit(5, cbs=[LR_Find(max_iter=8), Recorder()])
    for k, v in learn.model.state_dict().items(): assert torch.equal(v, before[k])
    for i, st in state['state'].items(): assert torch.equal(learn.opt.state_dict()['state'][i]['grad_avg'], st['grad_avg'])
    assert learn.opt.hypers[0]['lr'] == 0.1

def test_progress_callback_plain_log(capsys):
    learn = Learner(mlp(), tiny_data(), F.cross_entropy, lr=0.1, cb_funcs=[partial(AvgStatsCallback, accuracy), ProgressCallback])
    learn.fit(2)
    out = [l for l in capsys.readouterr().out.splitlines() if l.strip()]
    assert out[0].split() == ['epoch', 'train_loss', 'train_accuracy', 'valid_loss', 'valid_accuracy', 'time']
    assert len(out) == 4 and out[-1].startswith('2/2 epochs')
    assert learn.logger is not None and learn.logger.__name__ == '_print_log'

def test_progress_callback_bars():
    "bars= draws with the bars it is given, even into a pipe; a subclass that skips __init__ falls back to the default"
    class Bar:
        made = []
        def __init__(self, *args, **kwargs): Bar.made.append(type(self).__name__)
        def write(self, line, table=False): pass
        def update(self, val): pass
        def on_iter_end(self): pass
    class Master(Bar): pass
    class Progress(Bar): pass
    learn = Learner(mlp(), tiny_data(), F.cross_entropy, lr=0.1,
                    cb_funcs=[partial(ProgressCallback, bars=(Master, Progress))])
    learn.fit(1)
    assert Bar.made == ['Master', 'Progress', 'Progress']      # one master bar; one bar for training, one for validation
    class NoInit(ProgressCallback):
        def __init__(self): pass
    learn = Learner(mlp(), tiny_data(), F.cross_entropy, lr=0.1, cb_funcs=[NoInit])
    with contextlib.redirect_stdout(io.StringIO()) as out: learn.fit(1)
    assert '1/1 epochs' in out.getvalue()
