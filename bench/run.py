"""Benchmarks: what our code costs next to plain PyTorch, as ratios measured side by side in one run.

    python bench/run.py            # training loop, activation stats, norm layers (alone and in a training epoch), data block
    python bench/run.py --only epochs   # just the norm layers in a training epoch of the 07 CNN
    python bench/run.py --only optim    # our optimizers (09) in a training epoch, and their step alone, vs torch.optim
    python bench/run.py --only progress # a Learner epoch with ProgressCallback's bars vs without (09c)
    python bench/run.py --only augment  # augmentation (10): our PIL pipeline vs torchvision.transforms.v2, batch vs per image
    python bench/run.py --only mixup    # an epoch with MixUp vs without (10b)
    python bench/run.py --only fp16     # an epoch with MixedPrecision and with torch.amp vs float32 (10c)
    python bench/run.py --only xresnet  # an xresnet18 epoch, our Learner vs a plain loop with torch.optim; inference (11)
    python bench/run.py --course   # also the wall time of nbdev_test for each notebook

Each figure is the median of several interleaved runs (ours, theirs, ours, theirs...), so that
drift in the machine's speed hits both sides alike. Ratios > 1 mean ours is slower (for the data
block: images/s, so > 1 means ours is faster). The training-epoch rows time each pair of epochs back to
back and report the median of the pairs' ratios, with its quartiles in brackets.
"""
import argparse, contextlib, importlib, io, os, platform, statistics, subprocess, sys, time
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT/'tools')]
from torchvision_ref import crop_pipeline              # torchvision, the reference the tests use too
from exp.nb_10 import *
import exp.nb_05, exp.nb_06

def median_times(fns, repeats):
    "Run each of `fns` `repeats` times, interleaved; the median seconds of each"
    times = [[] for _ in fns]
    for _ in range(repeats):
        for t,f in zip(times, fns):
            t0 = time.perf_counter(); f(); t.append(time.perf_counter()-t0)
    return [statistics.median(t) for t in times]

def paired_ratios(f_ours, f_ref, repeats):
    """Run `f_ours` and `f_ref` back to back `repeats` times, alternating which goes first. Returns the median
    seconds of each and the ratio ours/ref of each pair: two runs seconds apart share the machine's state, so
    their ratio is steadier than a ratio of medians when the machine's speed drifts"""
    ta,tb = [],[]
    for i in range(repeats):
        for f,t in ((f_ours, ta), (f_ref, tb)) if i % 2 == 0 else ((f_ref, tb), (f_ours, ta)):
            t0 = time.perf_counter(); f(); t.append(time.perf_counter()-t0)
    return statistics.median(ta),statistics.median(tb),[a/b for a,b in zip(ta, tb)]

def ratio_summary(ratios):
    "Median of the paired ratios, with their quartiles"
    q1,_,q3 = statistics.quantiles(ratios, n=4)
    return f'{statistics.median(ratios):.2f} ({q1:.2f}–{q3:.2f})'

def quiet(f):
    def _inner():
        with contextlib.redirect_stdout(io.StringIO()): f()
    return _inner

# ---------------------------------------------------------------- 1 and 2: the training loop
def mnist_data(bs=512):
    x_train,y_train,x_valid,y_valid = get_data()
    x_train,x_valid = normalize_to(x_train, x_valid)
    return DataBunch(*get_dls(Dataset(x_train, y_train), Dataset(x_valid, y_valid), bs), c_out=10)

NFS = [8, 16, 32, 64, 64]
def mnist_model(data):
    set_seed(0)
    model = nn.Sequential(*cnn_layers(data))
    init_cnn(model)
    return model

def cnn_layers(data):
    "The 07 notebook's CNN: 5x5 then 3x3 convs with BatchNorm, on 28x28 MNIST"
    nfs = [1] + NFS
    return [conv_layer(nfs[i], nfs[i+1], 5 if i==0 else 3) for i in range(len(nfs)-1)] + [
        nn.AdaptiveAvgPool2d(1), Lambda(flatten), nn.Linear(nfs[-1], data.c_out)]

def mnist_subset(n_train, n_valid=1024, bs=512):
    "The first `n_train` training and `n_valid` validation MNIST images, normalized, as a DataBunch"
    x_train,y_train,x_valid,y_valid = get_data()
    x_train,x_valid = normalize_to(x_train[:n_train], x_valid[:n_valid])
    return DataBunch(*get_dls(Dataset(x_train, y_train[:n_train]), Dataset(x_valid, y_valid[:n_valid]), bs),
                     c_in=1, c_out=10)

def learner_epoch(data, cbs=(), loss_func=F.cross_entropy):
    "One Learner epoch (training and validation) of the 07 CNN with SGD + momentum; `cbs` made anew for each epoch"
    set_seed(0)
    learn = Learner(nn.Sequential(Lambda(mnist_resize), *cnn_layers(data)), data, loss_func, lr=0.1,
                    opt_func=partial(optim.SGD, momentum=0.9))
    return quiet(lambda: learn.fit(1, cbs=[cb() for cb in cbs]))

def plain_epoch(model, opt, data):
    "What Runner.fit with Recorder + AvgStatsCallback + the view transform does, written as a plain loop"
    lrs,losses = [],[]
    for train,dl in ((True, data.train_dl), (False, data.valid_dl)):
        model.train(train)
        tot_loss,tot_acc,n = 0.,0.,0
        with torch.set_grad_enabled(train):
            for xb,yb in dl:
                xb = xb.view(-1, 1, 28, 28)
                pred = model(xb)
                loss = F.cross_entropy(pred, yb)
                if train:
                    loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
                    lrs.append(exp.nb_05._hypers(opt)[-1]['lr']); losses.append(loss.detach())
                bn = xb.shape[0]
                tot_loss = tot_loss + loss.detach()*bn; tot_acc = tot_acc + accuracy(pred.detach(), yb)*bn; n += bn
        print(f'{"train" if train else "valid"}: [{float(tot_loss)/n:.6f}, {float(tot_acc)/n:.6f}]')

def course_append_stats(hook, mod, inp, outp):
    "The course's 06 hook, as a second reference: mean, std and a 40-bin histogram of every training batch, on the CPU"
    if not hasattr(hook, 'stats'): hook.stats = ([], [], [])
    means,stds,hists = hook.stats
    if mod.training:
        means.append(outp.data.mean().cpu()); stds.append(outp.data.std().cpu()); hists.append(outp.data.cpu().histc(40, -7, 7))

class CourseStats(Callback):
    "The course's `Hooks(model, append_stats)` around a fit, on the layers `ActivationStats` hooks"
    def begin_fit(self): self.hooks = Hooks(exp.nb_06._stat_layers(self.model), course_append_stats)
    def after_fit(self): self.hooks.remove()

def bench_loop(repeats):
    data = mnist_data()
    cbfs = [Recorder, partial(AvgStatsCallback, accuracy), partial(BatchTransformXCallback, view_tfm(1, 28, 28))]
    def runner(extra=()):
        model = mnist_model(data)
        learn,run = get_runner(model, data, lr=0.4, cbs=cbfs+list(extra))
        return lambda: run.fit(1, learn)
    def plain():
        model = mnist_model(data)
        opt = optim.SGD(model.parameters(), lr=0.4)
        return lambda: plain_epoch(model, opt, data)
    t_run,t_plain = median_times([quiet(runner()), quiet(plain())], repeats)
    t_stats,t_nostats,ratios = paired_ratios(quiet(runner([ActivationStats])), quiet(runner()), repeats)   # epochs back to back
    t_course,t_nostats2,ratios_course = paired_ratios(quiet(runner([CourseStats])), quiet(runner()), repeats)
    per_batch = t_nostats/len(data.train_dl)
    return [('Runner.fit (Recorder, AvgStats, view) vs a plain PyTorch loop, 1 MNIST epoch', t_run, t_plain, '<= 1.05'),
            ('training with ActivationStats on every layer vs without (median of pairs, quartiles)', t_stats, t_nostats, '<= 1.05',
             ratio_summary(ratios)),
            ("training with the course's append_stats hook (mean, std, histogram) on the same layers vs without", t_course,
             t_nostats2, 'report', ratio_summary(ratios_course))] + stats_cost(data, per_batch)

def stats_cost(data, per_batch, n=50):
    "What ActivationStats' hook costs per training batch, part by part, on the CNN's own activations"
    model,outs = mnist_model(data),[]
    with Hooks(exp.nb_06._stat_layers(model), lambda h,m,i,o: outs.append(o.detach())):
        model(next(iter(data.train_dl))[0].view(-1, 1, 28, 28))
    recs,vals = [exp.nb_06._Record() for _ in range(3)],[(o.mean(), o.std(), o.flatten()[:40].clone()) for o in outs]
    parts = {'mean and std (two passes)': lambda: [exp.nb_06._mean_std(o) for o in outs],
             'histogram of about 32,768 values': lambda: [exp.nb_06._hist(o, 40, (-10, 10)) for o in outs],
             'storing mean, std and histogram (_Record)': lambda: [r.append(t) for v in vals for r,t in zip(recs, v)],
             'the whole hook (append_stats_hist)': lambda: [exp.nb_06.append_stats_hist(h, nn.ReLU(), None, o) for h,o in zip(hs, outs)]}
    hs = [type('H', (), {})() for _ in outs]
    return [(f'ActivationStats per training batch ({len(outs)} layers): {k}, vs a whole training batch without it',
             exp.nb_06.time_ms(f, n)/1000, per_batch, 'report') for k,f in parts.items()]

# ---------------------------------------------------------------- 3: norm layers
SHAPES = [(512, 8, 14, 14), (512, 16, 7, 7), (512, 32, 4, 4), (512, 64, 2, 2), (512, 64, 1, 1)]  # the 07 CNN's activations

def norm_pairs(nf, shape):
    return {'BatchNorm':        (BatchNorm(nf), nn.BatchNorm2d(nf)),
            'LayerNorm':        (LayerNorm(), nn.LayerNorm(shape[1:])),
            'InstanceNorm':     (InstanceNorm(nf), nn.InstanceNorm2d(nf, affine=True)),
            'GroupNorm':        (GroupNorm(4, nf), nn.GroupNorm(4, nf)),
            'RunningBatchNorm': (RunningBatchNorm(nf), nn.BatchNorm2d(nf))}

def fwd_bwd(layer, x, g, iters):
    def _inner():
        for _ in range(iters):
            x.grad = None
            layer(x).backward(g)
    return _inner

def bench_norms(repeats, iters=20):
    tot,first = {},{}
    for shape in SHAPES:
        x = torch.randn(shape, requires_grad=True); g = torch.randn(shape)
        for name,(ours,ref) in norm_pairs(shape[1], shape).items():
            if name.endswith('InstanceNorm') and shape[2]*shape[3] == 1: continue   # PyTorch refuses 1x1 maps in training
            t_ours,t_ref = median_times([fwd_bwd(ours, x, g, iters), fwd_bwd(ref, x, g, iters)], repeats)
            a,b = tot.get(name, (0., 0.))
            tot[name] = (a+t_ours/iters, b+t_ref/iters)
            first.setdefault(name, t_ours/t_ref)
    ref_name = {'LayerNorm': 'nn.LayerNorm', 'InstanceNorm': 'nn.InstanceNorm2d', 'GroupNorm': 'nn.GroupNorm'}
    return [(f'{k} vs {ref_name.get(k, "nn.BatchNorm2d")}, forward+backward, the 07 CNN\'s activation shapes' + (' (not 1x1)' if k.endswith('InstanceNorm') else '')
             + f' (largest alone: {first[k]:.2f})', a, b, 'report') for k,(a,b) in tot.items()]

# ---------------------------------------------------------------- 3b: norm layers in training
def norm_epoch_pairs():
    """(our layer, PyTorch's, conv bias, nfs) for each norm in the 07 CNN: the lesson's classes. InstanceNorm (ours and
    PyTorch's) refuses the last layer's 1x1 map, so its net stops one layer earlier (last map 2x2)"""
    BN,LN,IN,GN,RBN = BatchNorm,LayerNorm,InstanceNorm,GroupNorm,RunningBatchNorm
    return {'BatchNorm':        (BN,                    nn.BatchNorm2d,                                False, NFS),
            'LayerNorm':        (lambda nf: LN(),       lambda nf: nn.GroupNorm(1, nf),                True,  NFS),
            'InstanceNorm':     (IN,                    lambda nf: nn.InstanceNorm2d(nf, affine=True), True,  NFS[:4]),
            'GroupNorm':        (lambda nf: GN(4, nf),  lambda nf: nn.GroupNorm(4, nf),                True,  NFS),
            'RunningBatchNorm': (RBN,                   nn.BatchNorm2d,                                False, NFS)}

def norm_model(norm, bias, nfs, c_out=10):
    "The 07 CNN with `norm(nf)` after each conv's activation"
    set_seed(0)
    nfs = [1] + nfs
    model = nn.Sequential(*[conv_norm(nfs[i], nfs[i+1], norm(nfs[i+1]), 5 if i==0 else 3, bias=bias) for i in range(len(nfs)-1)],
                          nn.AdaptiveAvgPool2d(1), Lambda(flatten), nn.Linear(nfs[-1], c_out))
    init_cnn(model)
    return model

def bench_norm_epochs(repeats, n_train=10240, n_valid=2048):
    "A training epoch (plain loop, SGD, batch size 512) of the 07 CNN with each of our norms vs the same with PyTorch's"
    x_train,y_train,x_valid,y_valid = get_data()
    x_train,x_valid = normalize_to(x_train, x_valid)
    data = DataBunch(*get_dls(Dataset(x_train[:n_train], y_train[:n_train]), Dataset(x_valid[:n_valid], y_valid[:n_valid]), 512), c_out=10)
    def epoch(norm, bias, nfs):
        model = norm_model(norm, bias, nfs)
        opt = optim.SGD(model.parameters(), lr=0.4)
        return lambda: plain_epoch(model, opt, data)
    rows = []
    for name,(ours,ref,bias,nfs) in norm_epoch_pairs().items():
        f_ours,f_ref = quiet(epoch(ours, bias, nfs)),quiet(epoch(ref, bias, nfs))
        f_ours(); f_ref()                                                   # warm up: the first epoch allocates
        t_ours,t_ref,ratios = paired_ratios(f_ours, f_ref, repeats)
        ref_name = {'LayerNorm': 'nn.GroupNorm(1, nf)', 'InstanceNorm': 'nn.InstanceNorm2d', 'GroupNorm': 'nn.GroupNorm'}.get(name, 'nn.BatchNorm2d')
        rows.append((f'training epoch of the 07 CNN ({n_train//1000}k MNIST images + {n_valid} valid) with our {name} (the lesson\'s) vs {ref_name}'
                     + (' (4 conv layers: no 1x1 map)' if name == 'InstanceNorm' else ''), t_ours, t_ref, 'report', ratio_summary(ratios)))
    return rows

# ---------------------------------------------------------------- 4: data block
def bench_data(repeats, n_per_class=40, size=64):
    path = find_imagenette()
    files = take_per_class([o for o in get_files(path, image_extensions, recurse=True) if grandparent_splitter(o, 'val') is False], n_per_class)
    il = ImageList(files, path, tfms=[make_rgb, ResizeFixed(size), to_byte_tensor, to_float_tensor])
    sd = SplitData(il, il.new(files[:1]))
    ll = label_by_func(sd, parent_labeler, proc_y=CategoryProcessor())
    def ours(workers):
        dl = DataLoader(ll.train, batch_size=64, num_workers=workers, multiprocessing_context='fork' if workers else None)
        return lambda: [None for _ in dl]
    def plain():
        for fn in files: PIL.Image.open(fn).convert('RGB').resize((size, size), PIL.Image.Resampling.BILINEAR)
    t0,t_plain,t2 = median_times([ours(0), plain, ours(2)], repeats)
    n = len(files)
    # images/s ratios: ours/plain, so > 1 means ours is faster
    return [(f'data block images/s ({n} Imagenette files, {size}px), 0 workers vs a plain PIL loop', n/t0, n/t_plain, '>= 0.9'),
            (f'data block images/s, 2 workers vs a plain PIL loop', n/t2, n/t_plain, 'report')]

# ---------------------------------------------------------------- 5: optimizers (09) and progress bars (09c)
def bench_optimizers(repeats, n_train=10240, n_valid=2048, steps=200):
    "A training epoch (plain loop) of the MNIST CNN with our SGD+momentum / Adam vs torch.optim's; and the step alone"
    x_train,y_train,x_valid,y_valid = get_data()
    x_train,x_valid = normalize_to(x_train, x_valid)
    data = DataBunch(*get_dls(Dataset(x_train[:n_train], y_train[:n_train]), Dataset(x_valid[:n_valid], y_valid[:n_valid]), 512), c_out=10)
    pairs = {'SGD + momentum': (partial(StatefulOptimizer, steppers=[weight_decay, momentum_step], stats=AverageGrad(), mom=0.9, lr=0.1),
                                partial(optim.SGD, momentum=0.9, lr=0.1), 'torch.optim.SGD(momentum=0.9)'),
             'Adam': (adam_opt(wd=1e-2, lr=1e-3), partial(optim.AdamW, lr=1e-3, betas=(0.9, 0.99), eps=1e-5, weight_decay=1e-2),
                      'torch.optim.AdamW')}
    rows = []
    for name,(ours,ref,ref_name) in pairs.items():
        def epoch(opt_func):
            model = mnist_model(data); opt = opt_func(model.parameters())
            return quiet(lambda: plain_epoch(model, opt, data))
        f_ours,f_ref = epoch(ours),epoch(ref)
        f_ours(); f_ref()
        t_ours,t_ref,ratios = paired_ratios(f_ours, f_ref, repeats)
        rows.append((f'training epoch of the MNIST CNN ({n_train//1000}k images) with our {name} vs {ref_name}', t_ours, t_ref, '<= 1.05',
                     ratio_summary(ratios)))
        def step(opt_func):
            model = mnist_model(data); opt = opt_func(model.parameters())
            for p in model.parameters(): p.grad = torch.randn_like(p)*1e-3
            def _inner():
                for _ in range(steps): opt.step()
            return _inner
        t_ours,t_ref = median_times([step(ours), step(ref)], repeats)
        rows.append((f'{name}: optimizer step alone ({steps} steps, the CNN\'s {len(list(mnist_model(data).parameters()))} tensors) vs {ref_name}',
                     t_ours, t_ref, 'report'))
    return rows

def bench_progress(repeats, n_train=10240):
    "A Learner epoch with ProgressCallback's console bars (drawn, as in a terminal) vs without"
    x_train,y_train,x_valid,y_valid = get_data()
    data = DataBunch(*get_dls(Dataset(x_train[:n_train], y_train[:n_train]), Dataset(x_valid[:2048], y_valid[:2048]), 256), c_in=1, c_out=10)
    def fit(extra):
        learn = Learner(nn.Sequential(Lambda(mnist_resize), *cnn_layers(data)), data, F.cross_entropy, lr=0.1,
                        cb_funcs=[partial(AvgStatsCallback, accuracy)] + extra)
        return quiet(lambda: learn.fit(1))
    f_bar,f_plain = fit([partial(ProgressCallback, bars=(master_bar, progress_bar))]),fit([])   # bars drawn, even into a pipe
    f_bar(); f_plain()
    t_bar,t_plain,ratios = paired_ratios(f_bar, f_plain, repeats)
    return [(f'Learner epoch ({n_train//1000}k MNIST images) with ProgressCallback\'s bars vs without', t_bar, t_plain, '<= 1.01', ratio_summary(ratios))]

# ---------------------------------------------------------------- 6: augmentation (10)
class _Files(torch.utils.data.Dataset):
    "Image files read with PIL and passed through `tfm`"
    def __init__(self, files, tfm): self.files,self.tfm = files,tfm
    def __len__(self): return len(self.files)
    def __getitem__(self, i): return self.tfm(PIL.Image.open(self.files[i]).convert('RGB'))

def bench_augment(repeats, n_per_class=40, size=128):
    "Images/s of decode + random resized crop + flip + to tensor: ours (PIL) vs torchvision.transforms.v2; batch vs per-image augmentation"
    files = take_per_class([o for o in get_files(find_imagenette(), image_extensions, recurse=True) if grandparent_splitter(o, 'val') is False], n_per_class)
    ours = _Files(files, lambda im: compose(im, [RandomResizedCrop(size), PilRandomFlip(), np_to_float]))
    theirs = _Files(files, crop_pipeline(size))
    def run(ds, workers):
        dl = DataLoader(ds, batch_size=64, num_workers=workers, multiprocessing_context='fork' if workers else None)
        return lambda: [None for _ in dl]
    n,rows = len(files),[]
    for workers in (0, 2):
        t_ours,t_theirs = median_times([run(ours, workers), run(theirs, workers)], repeats)
        rows.append((f'augmented images/s ({n} Imagenette files -> {size}px: decode, random resized crop, flip, to tensor), {workers} workers, '
                     f'ours (PIL) vs torchvision.transforms.v2', n/t_ours, n/t_theirs, '>= 0.9'))
    ims = [PIL.Image.open(f).convert('RGB').resize((160, 160)) for f in files[:64]]
    xb = torch.stack([np_to_float(im) for im in ims])
    per_image = lambda: torch.stack([np_to_float(compose(im, [RandomResizedCrop(size), PilRandomFlip()])) for im in ims])
    t_batch,t_img = median_times([lambda: affine_augment(xb, size), per_image], repeats)
    rows.append((f'augmenting a batch of 64 decoded 160px images to {size}px on the CPU: affine_augment (flip, rotate, crop) vs the per-image PIL path',
                 t_batch, t_img, 'report'))
    return rows

# ---------------------------------------------------------------- 7: the course
def bench_course():
    out = subprocess.run(['nbdev_test', '--timing', '--n_workers', '1'], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, 'MPLBACKEND': 'Agg'})
    print(out.stdout[-3000:], out.stderr[-3000:])
    return [l for l in out.stdout.splitlines() if l.endswith('secs')]

# ---------------------------------------------------------------- 8: lesson 12, one file each beside this one
LESSON_12 = {'mixup': 'bench_mixup', 'fp16': 'bench_fp16', 'xresnet': 'bench_xresnet'}
sys.path.insert(0, str(ROOT/'bench'))

def machine():
    "The CPU (model and the vector extensions PyTorch's kernels use), threads and versions: ratios depend on them"
    cpu = platform.processor() or platform.machine()
    if Path('/proc/cpuinfo').exists():
        cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), cpu)
    elif sys.platform == 'darwin':
        cpu = subprocess.run(['sysctl', '-n', 'machdep.cpu.brand_string'], capture_output=True, text=True).stdout.strip() or cpu
    return (f'{cpu} ({platform.machine()}), {os.cpu_count()} cores, PyTorch kernels {torch.backends.cpu.get_cpu_capability()}, '
            f'torch {torch.__version__}, {torch.get_num_threads()} threads, Python {platform.python_version()}')

def print_table(rows):
    "The rows as bench/README.md's markdown table: seconds (ms under 1 s), or images/s for the throughput rows"
    print('\n| benchmark | ours | reference | ratio | target |\n|---|---|---|---|---|')
    for name,a,b,target,*ratio in rows:
        unit = 'img/s' if 'images/s' in name else 's'
        fmt = (lambda v: f'{v:.0f} {unit}') if unit == 'img/s' else (lambda v: f'{v*1000:.1f} ms' if v < 1 else f'{v:.2f} s')
        print(f'| {name} | {fmt(a)} | {fmt(b)} | {ratio[0] if ratio else f"{a/b:.2f}"} | {target} |')

def run_alone(rows_fn):
    "A lesson's benchmark file run by itself: `python bench/bench_X.py [--repeats N]`"
    ap = argparse.ArgumentParser()
    ap.add_argument('--repeats', type=int, default=5)
    repeats = ap.parse_args().repeats
    print('machine:', machine())
    print_table(rows_fn(repeats))

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--repeats', type=int, default=5)
    ap.add_argument('--course', action='store_true', help='also time nbdev_test on each notebook')
    ap.add_argument('--only', choices=['loop', 'norms', 'epochs', 'data', 'optim', 'progress', 'augment', *LESSON_12],
                    default=None)
    args = ap.parse_args()
    print('machine:', machine())
    rows = []
    if args.only in (None, 'loop'):  rows += bench_loop(args.repeats)
    if args.only in (None, 'norms'): rows += bench_norms(args.repeats)
    if args.only in (None, 'epochs'): rows += bench_norm_epochs(args.repeats)
    if args.only in (None, 'data'):  rows += bench_data(args.repeats)
    if args.only in (None, 'optim'): rows += bench_optimizers(args.repeats)
    if args.only in (None, 'progress'): rows += bench_progress(args.repeats)
    if args.only in (None, 'augment'): rows += bench_augment(args.repeats)
    for k,mod in LESSON_12.items():
        if args.only in (None, k): rows += importlib.import_module(mod).rows(args.repeats)
    print(f'\nOn {machine()}. The ours and reference columns are the times the ratio divides (an epoch, for the epoch rows):'
          '\na fixed cost per batch weighs more where an epoch is faster.')
    print_table(rows)
    if args.course:
        print('\nnbdev_test wall time per notebook:')
        for l in bench_course(): print(' ', l)
