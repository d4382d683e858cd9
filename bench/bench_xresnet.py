"""XResNet (11): a training epoch of xresnet18 with our Learner and optimizer vs the same epoch as a plain PyTorch loop
with torch.optim, and inference images/s vs torchvision's resnet18. Rows in bench/run.py's format:

    python bench/bench_xresnet.py [--repeats 5]
"""
import argparse, contextlib, io, statistics, sys, time
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT/'bench'), str(ROOT/'tools')]
from exp.nb_11 import *

from torchvision_ref import torchvision                   # the reference the tests use too
from run import paired_ratios as _paired, ratio_summary as _summary, quiet as _quiet, run_alone   # bench/run.py's helpers

def imagenette_data(n_per_class=32, size=64, bs=64):
    "A few hundred Imagenette images (train) and 10 per class (valid) at `size` px, decoded once, in memory"
    path = find_imagenette()
    splitter = partial(grandparent_splitter, valid_name='val')
    files = get_files(path, image_extensions, recurse=True)
    subset = (take_per_class([o for o in files if splitter(o) is False], n_per_class) +
              take_per_class([o for o in files if splitter(o) is True], 10))
    il = ImageList(subset, path, tfms=[make_rgb, ResizeFixed(size), to_byte_tensor, to_float_tensor])
    ll = label_by_func(SplitData.split_by_func(il, splitter), parent_labeler, proc_y=CategoryProcessor())
    mem = lambda ld: Dataset(torch.stack([ld.x[i] for i in range(len(ld))]), torch.tensor(ld.y.items))
    return DataBunch(*get_dls(mem(ll.train), mem(ll.valid), bs), c_in=3, c_out=10)

def _model():
    set_seed(0)
    return xresnet18(c_out=10)

def plain_epoch(model, opt, data, norm=None):
    "One epoch as a plain PyTorch loop: train on train_dl, then loss and accuracy on valid_dl"
    for train,dl in ((True, data.train_dl), (False, data.valid_dl)):
        model.train(train)
        tot_loss,tot_acc,n = 0.,0.,0
        with torch.set_grad_enabled(train):
            for xb,yb in dl:
                if norm is not None: xb = norm(xb)
                pred = model(xb)
                loss = F.cross_entropy(pred, yb)
                if train: loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
                bn = xb.shape[0]
                tot_loss = tot_loss + loss.detach()*bn; tot_acc = tot_acc + accuracy(pred.detach(), yb)*bn; n += bn
        print(float(tot_loss)/n, float(tot_acc)/n)

def bench_epoch(repeats, data):
    "Learner + our AdamW (adam_opt) vs a plain loop + torch.optim.AdamW; then cnn_learner's callbacks vs the plain loop"
    hyper = dict(lr=1e-3, wd=1e-2, eps=1e-5)
    def ours():
        learn = Learner(_model(), data, F.cross_entropy, opt_func=adam_opt(mom=0.9, sqr_mom=0.99, eps=hyper['eps'], wd=hyper['wd']),
                        lr=hyper['lr'], cb_funcs=[partial(AvgStatsCallback, accuracy)])
        learn.logger = lambda *a: None
        return lambda: learn.fit(1)
    def with_cnn_learner():
        learn = cnn_learner(xresnet18, data, F.cross_entropy, adam_opt(mom=0.9, sqr_mom=0.99, eps=hyper['eps'], wd=hyper['wd']),
                            lr=hyper['lr'], norm=norm_imagenette, progress=False)
        learn.logger = lambda *a: None
        return lambda: learn.fit(1)
    def plain(norm=None):
        model = _model()
        opt = torch.optim.AdamW(model.parameters(), lr=hyper['lr'], betas=(0.9, 0.99), eps=hyper['eps'], weight_decay=hyper['wd'])
        return _quiet(lambda: plain_epoch(model, opt, data, norm))
    n = len(data.train_ds)
    rows = []
    for name,f_ours,f_ref,target in [
            (f'xresnet18 training epoch ({n} Imagenette images at 64 px + {len(data.valid_ds)} valid): Learner + adam_opt '
             f'vs a plain loop + torch.optim.AdamW', ours(), plain(), '<= 1.05'),
            ('the same epoch with cnn_learner (metrics, DeviceCallback, norm callback) vs the plain loop normalizing',
             with_cnn_learner(), plain(norm_imagenette), 'report')]:
        f_ours(); f_ref()                                           # warm up: the first epoch allocates
        t_ours,t_ref,ratios = _paired(f_ours, f_ref, repeats)
        rows.append((name, t_ours, t_ref, target, _summary(ratios)))
    return rows

def torchvision_resnet18():
    "torchvision's resnet18, the reference"
    return torchvision().models.resnet18(weights=None, num_classes=10)

def bench_inference(repeats, sizes=(64, 128), bs=64):
    "Images/s of xresnet18 in eval mode, no grad, vs torchvision's resnet18 (its 7x7 stem costs less: report)"
    rows = []
    ours,ref = _model().eval(),torchvision_resnet18().eval()
    for size in sizes:
        x = torch.randn(bs, 3, size, size)
        def run(m):
            def _inner():
                with torch.no_grad(): m(x)
            return _inner
        run(ours)(); run(ref)()
        t_ours,t_ref,_ = _paired(run(ours), run(ref), repeats)
        rows.append((f'xresnet18 inference images/s (batch of {bs} at {size} px, eval, no grad) vs torchvision resnet18',
                     bs/t_ours, bs/t_ref, 'report'))
    return rows

def rows(repeats):
    "bench/run.py's rows: (name, ours, reference, target[, median ratio (quartiles)])"
    return bench_epoch(repeats, imagenette_data()) + bench_inference(repeats)

if __name__ == '__main__': run_alone(rows)
