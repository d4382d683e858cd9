"The 07 lesson's private training helpers: a clear error before any validation, NaN for a diverged run; and what `from exp.nb_07 import *` gives"
from types import SimpleNamespace
from functools import partial
import math
import pytest, torch
from torch import nn, optim
import exp.nb_07 as nb07
from exp.nb_07 import _valid_acc, _fit_quiet, _diverged

def _tiny_run():
    x,y = torch.randn(16, 4),torch.randint(0, 3, (16,))
    ds = nb07.Dataset(x, y)
    data = nb07.DataBunch(nb07.DataLoader(ds, batch_size=8), nb07.DataLoader(ds, batch_size=8), c=3)
    model = nn.Linear(4, 3)
    learn = nb07.Learner(model, optim.SGD(model.parameters(), lr=0.1), nn.functional.cross_entropy, data)
    run = nb07.Runner(cb_funcs=[nb07.Recorder, partial(nb07.AvgStatsCallback, nb07.accuracy)])
    return learn, run

def test_valid_acc_after_fit_0_is_a_clear_error():
    learn,run = _tiny_run()
    with pytest.raises(ValueError, match='no validation batches were seen'): _fit_quiet(0, learn, run)
    with pytest.raises(ValueError, match='fit at least one epoch'): _valid_acc(run)

def test_valid_acc_without_avg_stats_is_a_clear_error():
    with pytest.raises(ValueError, match='has no AvgStatsCallback'): _valid_acc(SimpleNamespace())

def test_fit_quiet_returns_the_accuracy():
    learn,run = _tiny_run()
    acc = _fit_quiet(1, learn, run)
    assert 0 <= acc <= 1 and acc == run.avg_stats.valid_stats.avg_stats[1]

def _fake_run(losses, valid_loss):
    stats = SimpleNamespace(count=10, avg_stats=[valid_loss, 0.0991])
    return SimpleNamespace(recorder=SimpleNamespace(losses=[torch.tensor(l) for l in losses]), avg_stats=SimpleNamespace(valid_stats=stats))

@pytest.mark.parametrize('losses,valid_loss', [([2.3, float('nan')], float('nan')), ([2.3, float('inf')], 2.0), ([2.3, 1.9], float('nan'))])
def test_diverged_run_is_nan_not_an_accuracy(losses, valid_loss):
    run = _fake_run(losses, valid_loss)
    assert _diverged(run) and math.isnan(_valid_acc(run))

def test_finite_run_is_its_accuracy():
    run = _fake_run([2.3, 1.9], 1.5)
    assert not _diverged(run) and _valid_acc(run) == 0.0991

def test_star_import_has_no_speed_code_and_no_private_helpers():
    ns = {}
    exec('from exp.nb_07 import *', ns)
    gone = ['FusedNorm', 'RowNorm', 'FAST', 'FastBatchNorm', 'FastLayerNorm', 'FastInstanceNorm', 'FastGroupNorm',
            'FastRunningBatchNorm', 'check_nchw', 'one_value_error', 'compare_norm', 'fit_quiet', 'valid_acc']
    assert not [n for n in gone if n in ns]
    for n in ['BatchNorm', 'LayerNorm', 'InstanceNorm', 'GroupNorm', 'RunningBatchNorm', 'conv_layer', 'init_cnn_',
              'get_learn_run', 'append_stats', 'conv_ln', 'conv_in', 'conv_gn', 'conv_rbn', 'conv_bn', 'mean_var']:
        assert n in ns, n
    assert not [n for n in dir(nb07) if n.startswith(('Fast', 'Fused', 'RowNorm'))]
