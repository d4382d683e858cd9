"The training loop's statistics and plots after a fit that saw no batches: a clear error, never a ZeroDivisionError"
import contextlib, io
from functools import partial
import pytest, torch
from torch import nn
import torch.nn.functional as F
from torch.utils.data import DataLoader
import matplotlib; matplotlib.use('Agg')
import exp.nb_05 as nb05, exp.nb_09c as nb09c

def data(n_valid=32):
    x,y = torch.randn(32, 10), torch.randint(0, 2, (32,))
    return nb05.DataBunch(DataLoader(nb05.Dataset(x, y), batch_size=8),
                          DataLoader(nb05.Dataset(x[:n_valid], y[:n_valid]), batch_size=8), c=2)

def runner_fit(d, epochs, *cbs):
    lin = nn.Linear(10, 2)
    with contextlib.redirect_stdout(io.StringIO()) as out:
        nb05.Runner(cbs=list(cbs)).fit(epochs, nb05.Learner(lin, torch.optim.SGD(lin.parameters(), 0.1), F.cross_entropy, d))
    return out.getvalue()

def test_empty_validation_says_so():
    stats = nb05.AvgStatsCallback([nb05.accuracy])
    out = runner_fit(data(n_valid=0), 1, stats)
    assert 'valid: no batches (data.valid_dl is empty)' in out
    assert stats.train_stats.avg_stats[0] > 0
    with pytest.raises(ValueError, match='no validation batches.*data.valid_dl'): stats.valid_stats.avg_stats

def test_stats_after_fit_0():
    stats = nb05.AvgStatsCallback([nb05.accuracy])
    runner_fit(data(), 0, stats)
    with pytest.raises(ValueError, match='no training batches'): stats.train_stats.avg_stats

@pytest.mark.parametrize('plot', ['plot_loss', 'plot_lr', 'plot'])
def test_recorder_plots_after_fit_0(plot):
    rec = nb05.Recorder()
    runner_fit(data(), 0, rec)
    with pytest.raises(ValueError, match='no training batch yet'): getattr(rec, plot)()

def test_09c_table_with_empty_validation():
    learn = nb09c.Learner(nn.Linear(10, 2), data(n_valid=0), F.cross_entropy, lr=0.1,
                          cb_funcs=[partial(nb09c.AvgStatsCallback, nb05.accuracy)])
    with contextlib.redirect_stdout(io.StringIO()) as out: learn.fit(1)
    row = out.getvalue().strip().splitlines()[-1].split()
    assert row[0] == '0' and row[3:5] == ['-', '-'], row
