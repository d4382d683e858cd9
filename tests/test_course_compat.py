"""Code typed from the 2019 course notebooks (fastai/course-v3 `nbs/dl2` 06 ... 10) runs against `exp`.

Each test below is one way that code broke before (issue 12): a missing module or name, a different
call signature, a different return shape, a different indexing rule. The names were listed by reading
the course's exported modules `exp/nb_00.py` ... `exp/nb_10.py`; the snippets are written here to use
those names the way the course's notebooks do (no course code is copied).
"""
import importlib, typing
from functools import partial
import numpy as np
import pytest, torch
from torch import nn
import matplotlib; matplotlib.use('Agg')
import matplotlib.pyplot as plt

def star(mod):
    "The namespace a notebook gets from `from exp.<mod> import *`"
    ns = {}
    exec(f'from exp.{mod} import *', ns)
    return ns

# What each of the course's modules added to the star-import chain (its public globals: the course's
# modules had no `__all__`, so their imports were re-exported too). Left out on purpose: `datasets`
# (fastai v1's module, imported by the course's nb_01 only to download MNIST; we have `URLs`/`untar_data`).
COURSE_NAMES = {
    'nb_00':  'TEST',
    'nb_01':  'test test_eq near test_near operator Path set_trace pickle gzip math torch mpl plt tensor MNIST_URL',
    'nb_02':  'get_data normalize test_near_zero init mse nn',
    'nb_03':  'F accuracy optim Dataset DataLoader SequentialSampler RandomSampler get_dls',
    'nb_04':  'DataBunch get_model Learner re camel2snake Callback TrainEvalCallback listify Runner AvgStats '
              'AvgStatsCallback partial',
    'nb_05':  'create_learner get_model_func annealer sched_lin sched_cos sched_no sched_exp combine_scheds Recorder '
              'ParamScheduler pg_dicts cos_1cycle_anneal',
    'nb_05b': 'CancelTrainException CancelEpochException CancelBatchException LR_Find',
    'nb_06':  'normalize_to Lambda flatten CudaCallback BatchTransformXCallback view_tfm get_runner children Hook '
              'append_stats ListContainer Hooks get_cnn_layers conv_layer GeneralRelu init_cnn get_cnn_model '
              'get_learn_run display Javascript nb_auto_export',
    'nb_07':  'init_cnn_ RunningBatchNorm',
    'nb_07a': 'get_batch find_modules is_lin_layer lsuv_module',
    'nb_08':  'PIL os mimetypes image_extensions setify get_files compose ItemList ImageList Transform MakeRGB make_rgb '
              'grandparent_splitter split_by_func SplitData OrderedDict uniqueify Processor CategoryProcessor '
              'parent_labeler LabeledData label_by_func ResizeFixed to_byte_tensor to_float_tensor show_image '
              'databunchify normalize_chan norm_imagenette prev_pow_2 model_summary',
    'nb_09':  'sgd_step Recorder ParamScheduler LR_Find weight_decay l2_reg maybe_update get_defaults Optimizer sgd_opt '
              'StatefulOptimizer Stat momentum_step lin_comb AverageGrad AverageSqrGrad StepCount debias adam_step adam_opt',
    'nb_09b': 'param_getter Learner AvgStatsCallback get_learner',
    'nb_09c': 'time master_bar progress_bar format_time AvgStatsCallback ProgressCallback',
    'nb_10':  'random randint show_image show_batch PilTransform PilRandomFlip PilRandomDihedral process_sz default_crop_size '
              'GeneralCrop CenterCrop RandomResizedCrop FloatTensor LongTensor find_coeffs warp uniform PilTiltRandomCrop np np_to_float',
    'nb_10b': 'Beta NoneReduce unsqueeze reduce_loss MixUp LabelSmoothingCrossEntropy',
    'nb_10c': 'get_master to_master_grads to_model_params test_overflow grad_overflow MixedPrecision',
    'nb_11':  'noop Flatten conv act_fn init_cnn conv_layer ResBlock XResNet xresnet18 xresnet34 xresnet50 xresnet101 '
              'xresnet152 get_batch model_summary create_phases cnn_learner',
    'nb_11a': 'SimpleNamespace random_splitter AdaptiveConcatPool2d cb_types DebugCallback sched_1cycle',
}
CHAIN = list(COURSE_NAMES)
# Which of our modules must give (at least) the names of the course's module of the same number
# (our nb_00 is data and test helpers, our nb_05 the whole lessons 8-9 recap: course nb_00 .. nb_05)
OURS = {'nb_00': 'nb_05', 'nb_01': 'nb_05', 'nb_02': 'nb_05', 'nb_03': 'nb_05', 'nb_04': 'nb_05', 'nb_05': 'nb_05',
        'nb_05b': 'nb_05b', 'nb_06': 'nb_06', 'nb_07': 'nb_07', 'nb_07a': 'nb_07a', 'nb_08': 'nb_08',
        'nb_09': 'nb_09', 'nb_09b': 'nb_09b', 'nb_09c': 'nb_09c', 'nb_10': 'nb_10',
        'nb_10b': 'nb_10b', 'nb_10c': 'nb_10c', 'nb_11': 'nb_11', 'nb_11a': 'nb_11a'}

def test_nb_05b_importable():
    "The course's 06 starts with `from exp.nb_05b import *`"
    m = importlib.import_module('exp.nb_05b')
    ns, prev = star('nb_05b'), star('nb_05')
    assert set(prev) - {'__builtins__'} <= set(ns), sorted(set(prev) - set(ns))
    for n in 'Runner Callback TrainEvalCallback AvgStatsCallback Recorder ParamScheduler LR_Find'.split(): assert n in ns, n
    assert 'nb_05b' in m.__name__

@pytest.mark.parametrize('course_mod', CHAIN)
def test_course_names_in_star_import(course_mod):
    "Every name the course's `from exp.<mod> import *` gave (up to and including `mod`) is there in ours"
    ns = star(OURS[course_mod])
    want = [n for m in CHAIN[:CHAIN.index(course_mod)+1] for n in COURSE_NAMES[m].split()]
    missing = [n for n in want if n not in ns]
    assert not missing, f"exp.{OURS[course_mod]} lacks the course's {missing}"

def test_typing_names_in_nb_08():
    "The course's nb_04 did `from typing import *`, so course code annotates with `Any`, `List`, ... unimported"
    ns = star('nb_08')
    missing = [n for n in typing.__all__ if n not in ns]
    assert not missing, missing
    exec("class SplitDataLike():\n    def __setstate__(self, data:Any): self.__dict__.update(data)\n", ns)   # course 08's annotation

def test_course_test_helpers():
    ns = star('nb_08')
    ns['test'](1, 1, ns['operator'].eq)
    with pytest.raises(AssertionError): ns['test'](1, 2, ns['operator'].eq, '==')
    assert ns['near'](torch.tensor([1., 2.]), torch.tensor([1., 2.0001]))
    assert not ns['near'](torch.tensor([1.]), torch.tensor([1.1]))
    ns['test_near_zero'](torch.tensor(1e-4))
    with pytest.raises(AssertionError): ns['test_near_zero'](torch.tensor(0.1))
    with pytest.raises(AssertionError): ns['test_near_zero'](torch.tensor(0.01), tol=1e-3)
    out, targ = torch.tensor([[1.], [2.], [4.]]), torch.tensor([1., 3., 2.])
    assert torch.allclose(ns['mse'](out, targ), torch.tensor(5/3))     # output's last dim squeezed, like the course
    assert ns['TEST'] == 'test'

def test_mnist_url_not_the_dead_one():
    url = star('nb_00')['MNIST_URL']
    assert isinstance(url, str) and url.startswith('http') and 'deeplearning.net' not in url

def test_course_dataset_urls():
    "The datasets lessons 11 and 12 download, by the course's names (`untar_data(URLs.PETS)` in its 11a)"
    URLs = star('nb_11a')['URLs']
    for name,archive in [('IMAGENETTE_160', 'imagenette2-160.tgz'), ('IMAGEWOOF_160', 'imagewoof2-160.tgz'),
                         ('PETS', 'oxford-iiit-pet.tgz')]:
        assert getattr(URLs, name) == 'https://s3.amazonaws.com/fast-ai-imageclas/' + archive

def test_course_nb_05_helpers():
    ns = star('nb_08')
    pgs = ns['pg_dicts']([[nn.Parameter(torch.zeros(1))], [nn.Parameter(torch.ones(1))]])
    assert [list(d) for d in pgs] == [['params'], ['params']]
    x, y = torch.randn(64, 5), torch.randint(0, 3, (64,))
    data = ns['DataBunch'](*ns['get_dls'](ns['Dataset'](x, y), ns['Dataset'](x, y), 16), c_in=5, c_out=3)
    learn = ns['create_learner'](ns['get_model_func'](0.3), ns['F'].cross_entropy, data)
    assert isinstance(learn, ns['Learner']) and learn.opt.param_groups[0]['lr'] == 0.3

# ---- nb_06: append_stats as the course exported it ----
def hooked_linear(f, x, n=3):
    ns = star('nb_08')
    lin = nn.Linear(x.shape[1], 8).train()
    with ns['Hooks']([lin], f) as hooks:
        for _ in range(n): lin(x)
        lin.eval(); lin(x)              # an evaluation batch records nothing
    return lin, hooks[0]

def test_append_stats_two_lists():
    ns = star('nb_08')
    x = torch.randn(32, 4)
    lin, h = hooked_linear(ns['append_stats'], x)
    ms, ss = h.stats                    # course 07's Q3 plot: `ms,ss = h.stats`
    assert len(ms) == len(ss) == 3
    with torch.no_grad(): o = lin(x)
    assert abs(float(ms[0]) - o.mean().item()) < 1e-5 and abs(float(ss[0]) - o.std().item()) < 1e-4

def test_append_stats_stable_at_large_mean():
    "std of data with mean 1e4 and std 1 is 1 (not 0 or 0.7: the E[x^2]-E[x]^2 formula in float32)"
    ns = star('nb_08')
    f = ns['Lambda'](lambda x: x)
    with ns['Hooks']([f], ns['append_stats']) as hooks:
        torch.manual_seed(0); f.train()(1e4 + torch.randn(64, 1000))
    assert abs(float(hooks[0].stats[1][0]) - 1) < 1e-2, hooks[0].stats[1][0]

def test_append_stats_hist_three_lists():
    ns = star('nb_08')
    assert 'append_stats_hist' in ns, "the histogram variant has its own name (course 06 defines one without exporting it)"
    lin, h = hooked_linear(ns['append_stats_hist'], torch.randn(32, 4))
    ms, ss, hists = h.stats
    assert len(ms) == len(ss) == len(hists) == 3
    hist = ns['get_hist'](h)
    assert hist.ndim == 2 and hist.shape[1] == 3       # bins x batches, as the course's `get_hist`

# ---- nb_06: ListContainer / nb_08: ItemList indexing ----
def test_list_container_indexing():
    LC = star('nb_08')['ListContainer']
    t = LC(range(10))
    assert t[3] == 3
    assert list(t[:2]) == [0, 1]
    assert list(t[[1, 2]]) == [1, 2]
    assert list(t[[False]*8 + [True, False]]) == [8]
    with pytest.raises((AssertionError, IndexError)): t[[True, False]]     # mask of the wrong length

def tagged_item_list(ns):
    class TaggedList(ns['ItemList']):
        def get(self, i): return ('read', i)          # like ImageList.get opening a file
    return TaggedList(['a', 'b', 'c', 'd'], tfms=[lambda o: o + ('tfm',)])

def test_item_list_indexing_applies_get():
    ns = star('nb_08')
    il = tagged_item_list(ns)
    r = lambda i: ('read', i, 'tfm')
    assert il[0] == r('a')
    assert list(il[:1]) == [r('a')]                   # course 08: `il[:1]`
    assert list(il[1:3]) == [r('b'), r('c')]
    assert list(il[[0, 3]]) == [r('a'), r('d')]
    assert list(il[[True, False, False, True]]) == [r('a'), r('d')]
    assert list(il[np.array([False, True, False, False])]) == [r('b')]
    assert list(il[torch.tensor([2, 1])]) == [r('c'), r('b')]

def test_course_typed_item_list_subclass():
    "A student who types the course's ItemList (its own `_get`, `isinstance(res, list)`) on our ListContainer"
    ns = star('nb_08')
    class CourseItemList(ns['ListContainer']):
        def _get(self, i): return ('got', i)
        def __getitem__(self, idx):
            res = super().__getitem__(idx)
            if isinstance(res, list): return [self._get(o) for o in res]
            return self._get(res)
    il = CourseItemList(list('abcd'))
    assert il[1] == ('got', 'b')
    assert il[:2] == [('got', 'a'), ('got', 'b')]
    assert il[[0, 2]] == [('got', 'a'), ('got', 'c')]
    assert il[[False, False, False, True]] == [('got', 'd')]

# ---- nb_07a: lsuv_module(m, xb), the course's call ----
def test_lsuv_module_course_call():
    ns = star('nb_08')
    torch.manual_seed(0)
    x, y = torch.randn(256, 784), torch.randint(0, 10, (256,))
    ds = ns['Dataset'](x, y)
    data = ns['DataBunch'](*ns['get_dls'](ds, ds, 64), c_in=1, c_out=10)
    # Course 07a, run in a notebook's namespace: `mdl` is the student's global, as in the course
    g = dict(ns, data=data, __name__='__main__')
    exec("mnist_view = view_tfm(1,28,28)\n"
         "learn,run = get_learn_run([8,16,32], data, 0.6, ConvLayer, cbs=[CudaCallback, partial(BatchTransformXCallback, mnist_view)])\n"
         "xb,yb = get_batch(data.train_dl, run)\n"
         "mods = find_modules(learn.model, lambda o: isinstance(o,ConvLayer))\n"
         "mdl = learn.model\n"
         "res = [lsuv_module(m, xb) for m in mods]\n", g)
    assert len(g['res']) == len(g['mods']) == 6      # 3 stem layers (08's get_cnn_layers) + nfs
    for mean, std in g['res']: assert abs(std - 1) < 1e-2, g['res']
    # and the new call, with the model named
    g['res2'] = [ns['lsuv_module'](g['learn'].model, m, g['xb']) for m in g['mods']]
    for mean, std in g['res2']: assert abs(std - 1) < 1e-2

# ---- nb_08: show_image(im, figsize) ----
def test_show_image_course_arguments():
    show_image = star('nb_08')['show_image']
    im = torch.rand(3, 16, 16)
    plt.close('all')
    show_image(im, (2, 2))                         # figsize second, positionally, as the course's signature
    assert tuple(plt.gcf().get_size_inches()) == (2, 2)
    show_image(im, figsize=(3, 3))
    assert tuple(plt.gcf().get_size_inches()) == (3, 3)
    fig, ax = plt.subplots()
    show_image(im, ax=ax)                          # ours: draw into a given axis (grids)
    assert len(ax.images) == 1
    plt.close('all')

# ---- the course's callbacks run where there is no GPU ----
def test_cuda_callback_runs_anywhere():
    "Course 07/07a/08 put `CudaCallback` in every callback list; it must fall back to the CPU"
    ns = star('nb_08')
    torch.manual_seed(0)
    x, y = torch.randn(64, 784), torch.randint(0, 10, (64,))
    ds = ns['Dataset'](x, y)
    data = ns['DataBunch'](*ns['get_dls'](ds, ds, 32), c_in=1, c_out=10)
    cbfs = [ns['Recorder'], ns['CudaCallback'], partial(ns['BatchTransformXCallback'], ns['view_tfm'](1, 28, 28))]
    learn, run = ns['get_learn_run']([8, 16], data, 0.1, ns['conv_layer'], cbs=cbfs)
    run.fit(1, learn)
    assert len(run.recorder.losses) == 2

# ---- nb_09, nb_09b, nb_09c: the optimizer and the Learner as the course's 09, 09b and 09c use them ----
def tiny_bunch(ns, n=64):
    x, y = torch.randn(n, 10), torch.randint(0, 2, (n,))
    return ns['DataBunch'](*ns['get_dls'](ns['Dataset'](x, y), ns['Dataset'](x, y), 16), c_in=10, c_out=2)

def test_course_09_defaults_and_student_stat():
    ns = star('nb_09')
    model = nn.Linear(10, 2)
    opt = ns['sgd_opt'](model.parameters(), lr=0.1)                     # course 09: wd from weight_decay's _defaults
    assert opt.hypers[0]['wd'] == 0. and opt.hypers[0]['lr'] == 0.1
    assert ns['sgd_opt'](model.parameters(), lr=0.1, wd=1e-4).hypers[0]['wd'] == 1e-4
    class AverageGrad(ns['Stat']):                                      # the first version course 09 types in
        _defaults = dict(mom=0.9)
        def init_state(self, p): return {'grad_avg': torch.zeros_like(p.grad.data)}
        def update(self, p, state, mom, **kwargs):
            state['grad_avg'].mul_(mom).add_(p.grad.data)
            return state
    sgd_mom_opt = partial(ns['StatefulOptimizer'], steppers=[ns['momentum_step'], ns['weight_decay']], stats=AverageGrad(), wd=0.01)
    learn, run = ns['get_runner'](model, tiny_bunch(ns), lr=0.1, opt_func=sgd_mom_opt, cbs=[partial(ns['AvgStatsCallback'], ns['accuracy'])])
    run.logger = lambda *a: None
    run.fit(1, learn)
    assert all('grad_avg' in st for st in learn.opt.state.values()) and len(learn.opt.state) == 2

def test_course_09b_learner_and_fit_callbacks():
    ns = star('nb_09b')
    data = tiny_bunch(ns)
    learn = ns['Learner'](nn.Linear(10, 2), data, torch.nn.functional.cross_entropy, lr=0.4,
                          cb_funcs=[partial(ns['AvgStatsCallback'], ns['accuracy']), ns['CudaCallback'], ns['Recorder']])
    learn.logger = lambda *a: None
    phases = ns['combine_scheds']([0.3, 0.7], ns['cos_1cycle_anneal'](0.2, 0.6, 0.2))
    learn.fit(1, ns['ParamScheduler']('lr', phases))                     # course 09b: a callback for this fit only
    learn.recorder.plot_lr(); learn.recorder.plot_loss(); plt.close('all')
    assert len(learn.recorder.lrs[0]) == len(data.train_dl)

def test_course_09c_progress_table(capsys):
    ns = star('nb_09c')
    learn = ns['Learner'](nn.Linear(10, 2), tiny_bunch(ns), torch.nn.functional.cross_entropy, lr=0.4,
                          cb_funcs=[partial(ns['AvgStatsCallback'], ns['accuracy']), ns['CudaCallback'], ns['ProgressCallback']])
    learn.fit(2)
    out = capsys.readouterr().out
    assert out.split()[:6] == ['epoch', 'train_loss', 'train_accuracy', 'valid_loss', 'valid_accuracy', 'time']
