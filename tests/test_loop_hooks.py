"""The training loop and hooks under failure (issue 13), on tiny synthetic data: each test runs in well under a second.

The notebooks (05, 06) show and assert the same cases on MNIST; these run in a fresh process, where
garbage collection and hook counts are not disturbed by a notebook's other cells."""
import gc, weakref
import pytest, torch
from torch import nn, optim
import torch.nn.functional as F
from exp.nb_06 import (Callback, Runner, Learner, DataBunch, Dataset, get_dls, ParamScheduler, sched_lin, sched_cos,
                       ActivationStats, Hook, Hooks, append_stats, append_stats_hist, ProgressCallback, AvgStatsCallback,
                       accuracy, n_hooks, combine_scheds)

def small_learner(mode=True):
    torch.manual_seed(0)
    x,y = torch.randn(12, 5),torch.randint(0, 3, (12,))
    data = DataBunch(*get_dls(Dataset(x, y), Dataset(x, y), 4), c=3)
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))
    model.train(mode)
    return Learner(model, optim.SGD(model.parameters(), lr=0.1), F.cross_entropy, data)

class Boom(Callback):
    def __init__(self, at): self.at = at
    def __call__(self, name):
        if name == self.at and self.run.in_train: raise RuntimeError(f'boom in {name}')
        return super().__call__(name)

def test_misconfigured_scheduler_under_activation_stats_shows_its_own_error():
    learn = small_learner()
    run = Runner(cbs=[ActivationStats(), ParamScheduler('lr', [sched_lin(0.1, 1.), sched_lin(1., 0.1)])])
    with pytest.raises(ValueError, match='2 schedules for 1 parameter group'): run.fit(1, learn)
    assert n_hooks(learn.model) == 0

def test_failing_after_fit_does_not_hide_the_original_error():
    class BadCleanup(Callback):
        def after_fit(self): raise KeyError('cleanup')
    class GoodCleanup(Callback):
        _order = 9
        def after_fit(self): self.ran = True
    good = GoodCleanup()
    with pytest.raises(RuntimeError, match='boom in after_loss') as ei:
        Runner(cbs=[BadCleanup(), good, Boom('after_loss')]).fit(1, small_learner())
    assert any('BadCleanup.after_fit also failed' in n for n in ei.value.__notes__)
    assert good.ran                                   # the other callbacks' after_fit still ran

def test_after_fit_error_alone_is_raised():
    class BadCleanup(Callback):
        def after_fit(self): raise KeyError('cleanup')
    with pytest.raises(KeyError, match='cleanup'): Runner(cbs=BadCleanup()).fit(1, small_learner())

@pytest.mark.parametrize('mode', [True, False])
@pytest.mark.parametrize('fail', [None, 'begin_batch', 'after_backward'])
def test_mode_restored_and_no_stale_grads(mode, fail):
    learn = small_learner(mode)
    for p in learn.model.parameters(): p.grad = torch.full_like(p, 7.)
    seen = {}
    class FirstGrads(Callback):
        def begin_batch(self):
            if self.in_train and 'g' not in seen: seen['g'] = [p.grad for p in self.model.parameters()]
    cbs = [FirstGrads()] + ([Boom(fail)] if fail else [])
    if fail:
        with pytest.raises(RuntimeError): Runner(cbs=cbs).fit(1, learn)
    else: Runner(cbs=cbs).fit(1, learn)
    assert learn.model.training == mode
    assert all(g is None for g in seen['g'])                          # stale gradients cleared at fit start
    if fail: assert all(p.grad is None for p in learn.model.parameters())   # and nothing left after an error

def test_keyboard_interrupt_cleans_up():
    learn = small_learner(False)
    class Interrupt(Callback):
        def after_step(self): raise KeyboardInterrupt
    acts = ActivationStats()
    with pytest.raises(KeyboardInterrupt): Runner(cbs=[acts, Interrupt()]).fit(1, learn)
    assert n_hooks(learn.model) == 0 and not learn.model.training

def test_hooks_failing_part_way_remove_their_hooks():
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2))
    with pytest.raises(TypeError, match='item 2 of the modules'): Hooks([model[0], model[1], 'not a module'], append_stats)
    assert n_hooks(model) == 0

def test_hook_failing_inside_f_during_fit_removed_by_with():
    learn = small_learner()
    def bad(hook, mod, inp, outp): raise ValueError('in hook')
    with pytest.raises(ValueError, match='in hook'):
        with Hooks(learn.model, bad): Runner().fit(1, learn)
    assert n_hooks(learn.model) == 0

def test_dropped_hook_is_collected_and_removed():
    model = nn.Sequential(nn.Linear(2, 2))
    h = Hook(model[0], append_stats)
    model(torch.randn(3, 2))
    assert len(h.stats[0]) == 1
    ref = weakref.ref(h)
    del h
    assert ref() is None, 'the module kept the Hook alive'
    assert n_hooks(model) == 0
    hs = Hooks(model, append_stats); ref = weakref.ref(hs[0]); del hs; gc.collect()
    assert ref() is None and n_hooks(model) == 0

def test_append_stats_course_shape_and_stable():
    h = type('H', (), {})()
    x = (torch.randn(100_000) + 1e4)
    append_stats(h, nn.Identity(), None, x)
    ms,ss = h.stats
    assert abs(ss[0] - x.double().std()) < 1e-3 and abs(ms[0] - x.double().mean()) < 1e-2
    g = type('H', (), {})()
    append_stats_hist(g, nn.Identity(), None, x.half())
    assert len(g.stats) == 3 and g.stats[1][0].dtype == torch.float32
    assert abs(g.stats[1][0] - x.half().double().std()) < 1e-3 * x.half().double().std()

def test_progress_callback_restores_logger_and_prints_stats(capsys):
    learn = small_learner()
    run = Runner(cbs=[ProgressCallback(), AvgStatsCallback([accuracy])])
    run.fit(2, learn)
    assert run.logger is print
    out = capsys.readouterr().out
    assert out.count('train: [') == 2 and out.count('valid: [') == 2 and '2/2 epochs' in out

# ---- ActivationStats says what it saw (issue 24): before any batch, no children, a tuple output
import matplotlib; matplotlib.use('Agg')

@pytest.mark.parametrize('plot', ['plot_stats', 'color_dim', 'dead_chart', 'means', 'stds'])
def test_activation_stats_before_any_batch(plot):
    acts = ActivationStats()
    with pytest.raises(RuntimeError, match='recorded nothing yet.*[Ff]it first'):
        f = getattr(acts, plot)
        if callable(f): f()

def test_activation_stats_after_fit_with_no_training_batch():
    learn = small_learner()
    run = Runner(cbs=[acts := ActivationStats()])
    run.fit(0, learn)
    with pytest.raises(RuntimeError, match="Layer '0': no statistics recorded yet"): acts.plot_stats()

def test_activation_stats_model_without_children_hooks_the_model():
    x,y = torch.randn(12, 5),torch.randint(0, 3, (12,))
    model = nn.Linear(5, 3)
    learn = Learner(model, optim.SGD(model.parameters(), lr=0.1), F.cross_entropy, DataBunch(*get_dls(Dataset(x, y), Dataset(x, y), 4), c=3))
    run = Runner(cbs=[acts := ActivationStats()])
    run.fit(1, learn)
    assert len(acts.means) == 1 and len(acts.means[0]) == 3 and n_hooks(model) == 0
    acts.plot_stats(); acts.color_dim(); acts.dead_chart()

def test_activation_stats_model_without_parameters_fails_at_fit_start():
    x,y = torch.randn(12, 3),torch.randint(0, 3, (12,))
    model = nn.Sequential(nn.ReLU(), nn.Identity())
    learn = Learner(model, optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1), F.cross_entropy,
                    DataBunch(*get_dls(Dataset(x, y), Dataset(x, y), 4), c=3))
    seen = []
    class Count(Callback):
        def begin_batch(self): seen.append(1)
    with pytest.raises(ValueError, match=r'no layer with parameters.*modules='): Runner(cbs=[ActivationStats(), Count()]).fit(1, learn)
    assert not seen and n_hooks(model) == 0

def test_activation_stats_tuple_output_names_the_layer():
    class Pair(nn.Module):
        def __init__(self): super().__init__(); self.lin = nn.Linear(5, 3)
        def forward(self, x): return self.lin(x), x
    x,y = torch.randn(12, 5),torch.randint(0, 3, (12,))
    model = nn.Sequential(nn.Linear(5, 5), Pair())
    learn = Learner(model, optim.SGD(model.parameters(), lr=0.1), F.cross_entropy, DataBunch(*get_dls(Dataset(x, y), Dataset(x, y), 4), c=3))
    with pytest.raises(TypeError, match=r"layer '1': its output is a tuple, not a tensor"): Runner(cbs=[ActivationStats()]).fit(1, learn)
    assert n_hooks(model) == 0

def test_get_hist_of_a_hook_that_saw_nothing():
    from exp.nb_06 import get_hist, get_min
    model = nn.Sequential(nn.Linear(2, 2))
    h = Hook(model[0], append_stats_hist)
    model.eval()(torch.randn(3, 2))                    # eval batches are not recorded
    for f in (get_hist, get_min):
        with pytest.raises(RuntimeError, match='no statistics recorded yet'): f(h)
    h.remove()
