"10_augmentation against references: torchvision's RandomResizedCrop draw for draw, PIL's flips and warps, the batch path"
import math, platform, warnings
import numpy as np
import PIL.Image
import pytest, torch
import torch.nn.functional as F
import matplotlib; matplotlib.use('Agg')
import matplotlib.pyplot as plt
import exp.nb_10 as _exp
# the lesson's names, without its test helpers (pytest would collect `test`, `test_eq`, ... as tests)
globals().update({k: v for k, v in vars(_exp).items() if not k.startswith(('_', 'test'))})

from torchvision_ref import v2 as torchvision_v2, crop_pipeline     # tools/: the reference bench/ uses too

def photo(w=120, h=90, mode='RGB', seed=0):
    "A smooth image with detail (gradients and a sine pattern), `w` x `h`"
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([x/w, y/h, 0.5+0.5*np.sin(x/3.)*np.cos(y/4.)], -1)
    return PIL.Image.fromarray((rgb*255).round().astype(np.uint8)).convert(mode)

# ---- RandomResizedCrop
SIZES = [(224, 224), (500, 375), (160, 213), (1000, 50), (50, 1000), (37, 29)]
PARAMS = [dict(), dict(scale=(0.35, 1.)), dict(scale=(0.9, 1.), ratio=(0.5, 2.)), dict(scale=(1., 1.), ratio=(1., 1.))]

@pytest.mark.parametrize('wh', SIZES, ids=lambda s: f'{s[0]}x{s[1]}')
@pytest.mark.parametrize('kw', PARAMS, ids=['default', 'scale', 'ratio', 'fixed'])
def test_random_resized_crop_draws_as_torchvision(wh, kw):
    v2 = torchvision_v2()
    ours, theirs = RandomResizedCrop(32, **kw), v2.RandomResizedCrop(32, **kw)
    im = PIL.Image.new('RGB', wh)
    for seed in range(100):
        torch.manual_seed(seed); l, t, r, b = ours.get_corners(*wh)
        torch.manual_seed(seed); p = theirs.make_params([im])
        assert (t, l, b-t, r-l) == (p['top'], p['left'], p['height'], p['width']), (seed, wh, kw)

def test_random_resized_crop_image_matches_torchvision_on_upscaling():
    "Same box, bilinear: the pixels agree where neither side antialiases (the box is smaller than the output)"
    im = photo(120, 90)
    torch.manual_seed(0); ours = np_to_float(RandomResizedCrop(128, scale=(0.1, 0.3))(im))
    torch.manual_seed(0); theirs = crop_pipeline(128, flip=False, scale=(0.1, 0.3))(im)
    assert (ours - theirs).abs().mean() < 0.01

def test_random_resized_crop_distribution():
    "Over many draws: inside the image, area and log-ratio distributed as uniform draws kept when the box fits"
    set_seed(0)
    w, h = 213, 160
    rrc = RandomResizedCrop(32, scale=(0.08, 1.), ratio=(3/4, 4/3))
    boxes = np.array([rrc.get_corners(w, h) for _ in range(5000)])
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 1] >= 0).all() and (boxes[:, 2] <= w).all() and (boxes[:, 3] <= h).all()
    bw, bh = boxes[:, 2]-boxes[:, 0], boxes[:, 3]-boxes[:, 1]
    area, logr = bw*bh/(w*h), np.log(bw/bh)
    rng = np.random.default_rng(1)
    a_, r_ = rng.uniform(0.08, 1, 400_000), rng.uniform(np.log(3/4), np.log(4/3), 400_000)
    keep = (a_*np.exp(r_) <= w/h) & (a_/np.exp(r_) <= h/w)
    for q in (0.1, 0.25, 0.5, 0.75, 0.9):
        assert abs(np.quantile(area, q) - np.quantile(a_[keep], q)) < 0.03, q
        assert abs(np.quantile(logr, q) - np.quantile(r_[keep], q)) < 0.03, q       # rounding to pixels blurs it a little
    assert area.min() >= 0.07 and np.abs(logr).max() <= np.log(4/3) + 0.05
    # the centre of the box is uniform over where it can go: left edges spread over the whole free range
    assert boxes[:, 0].min() == 0 and (w - bw - boxes[:, 0]).min() == 0

def test_random_resized_crop_fallback():
    l, t, r, b = RandomResizedCrop(32).get_corners(1000, 50)
    assert (r-l, b-t) == (67, 50) and l == (1000-67)//2
    l, t, r, b = RandomResizedCrop(32).get_corners(50, 1000)
    assert (r-l, b-t) == (50, 67)

# ---- flips, dihedral, warps
def test_flips_and_dihedral_against_pil_and_torch():
    im = photo(); t = to_byte_tensor(im)
    assert torch.equal(to_byte_tensor(PilRandomFlip(1.)(im)), t.flip(2))
    assert PilRandomFlip(0.)(im) is im and PilRandomDihedral(0.)(im) is im
    set_seed(0)
    outs = [to_byte_tensor(PilRandomDihedral(1.)(im)) for _ in range(4000)]
    refs = [t, t.flip(2), t.flip(1), t.rot90(1, (1, 2)), t.rot90(2, (1, 2)), t.rot90(3, (1, 2)),
            t.transpose(1, 2), t.rot90(2, (1, 2)).transpose(1, 2)]
    counts = [sum(o.shape == r.shape and torch.equal(o, r) for o in outs) for r in refs]
    assert sum(counts) == 4000 and all(abs(c/4000 - 1/8) < 0.02 for c in counts), counts
    set_seed(0)
    n_same = sum(PilRandomDihedral(0.75)(im) is im for _ in range(4000))
    assert abs(n_same/4000 - (1 - 0.75*7/8)) < 0.02

def apply_persp(c, x, y):
    return ((c[0]*x + c[1]*y + c[2]) / (c[6]*x + c[7]*y + 1), (c[3]*x + c[4]*y + c[5]) / (c[6]*x + c[7]*y + 1))

@pytest.mark.parametrize('seed', range(5))
def test_warp_maps_corners_to_a_pixel(seed):
    g = np.random.default_rng(seed)
    src = ((g.uniform(0, 40), g.uniform(0, 40)), (g.uniform(0, 40), g.uniform(160, 200)),
           (g.uniform(160, 200), g.uniform(160, 200)), (g.uniform(160, 200), g.uniform(0, 40)))
    c = find_coeffs(src, ((0, 0), (0, 64), (64, 64), (64, 0)))
    for (x, y), want in zip(((0, 0), (0, 64), (64, 64), (64, 0)), src):
        assert np.allclose(apply_persp(c, x, y), want, atol=1e-6)
    for (row, col), (x, y) in {(0, 0): (0.5, 0.5), (63, 0): (0.5, 63.5), (63, 63): (63.5, 63.5), (0, 63): (63.5, 0.5)}.items():
        dot = PIL.Image.new('L', (200, 200)); dot.putpixel(tuple(int(v) for v in apply_persp(c, x, y)), 255)
        out = np.asarray(warp(dot, (64, 64), src, resample=PIL.Image.Resampling.NEAREST))
        assert np.argwhere(out > 0).tolist() == [[row, col]]

def test_tilt_crop_stays_inside_and_magnitude_zero_is_a_crop():
    im = photo(120, 90)
    set_seed(0)
    out = PilTiltRandomCrop(32, crop_size=60, magnitude=0.)(im)
    arr = np.asarray(out)
    assert out.size == (32, 32) and arr.min() >= 0
    set_seed(0)
    for _ in range(50): assert PilTiltRandomCrop(32, magnitude=0.3)(im).size == (32, 32)

# ---- the batch path against the per-image path
def test_batch_affine_against_pil():
    im = photo(64, 64); x = np_to_float(im)[None]
    one = torch.ones(1)
    assert (affine_augment(x, mats=flip_matrix(torch.tensor([True]))) - x.flip(3)).abs().max() < 1e-4
    for k in (1, 2, 3):
        assert (affine_augment(x, mats=rotation_matrix(90.*k*one)) - np_to_float(im.rotate(90*k))[None]).abs().max() < 1e-4
    ours = affine_augment(x, mats=rotation_matrix(12*one))[0, :, 16:-16, 16:-16]
    pil = np_to_float(im.rotate(12, resample=PIL.Image.Resampling.BILINEAR))[:, 16:-16, 16:-16]
    assert (ours - pil).abs().mean() < 0.01
    # a box of half the size at the top-left quarter, enlarged to 64
    ours = affine_augment(x, mats=crop_matrix(0.5*one, 0.5*one, -0.5*one, -0.5*one))
    pil = np_to_float(im.resize((64, 64), PIL.Image.Resampling.BILINEAR, box=(0, 0, 32, 32)))[None]
    assert (ours - pil)[..., 1:-1, 1:-1].abs().mean() < 0.01

def test_batch_affine_per_image_and_reproducible():
    x = np_to_float(photo(64, 64))[None].repeat(8, 1, 1, 1)
    set_seed(0); a = affine_augment(x, 32)
    set_seed(0); b = affine_augment(x, 32)
    assert a.shape == (8, 3, 32, 32) and torch.equal(a, b)
    assert len({o.numpy().tobytes() for o in a}) == 8                     # each image its own draw
    assert torch.equal(affine_augment(x.double(), mats=torch.eye(2, 3).repeat(8, 1, 1)), x.double())

@pytest.mark.skipif(not (torch.cuda.is_available() or getattr(torch.backends, 'mps', None) and torch.backends.mps.is_available()),
                    reason='needs a GPU')
def test_batch_affine_same_on_gpu():
    x = np_to_float(photo(64, 64))[None].repeat(4, 1, 1, 1)
    set_seed(0); a = affine_augment(x)
    set_seed(0); b = affine_augment(x.to(default_device())).cpu()
    assert (a - b).abs().max() < 1e-4

def test_batch_augment_callback_only_in_training():
    x, y = torch.rand(32, 3, 16, 16), torch.randint(0, 2, (32,))
    data = DataBunch(*get_dls(Dataset(x, y), Dataset(x, y), 8), c_in=3, c_out=2)
    seen = []
    class Look(Callback):
        _order = 3
        def begin_batch(self): seen.append((self.in_train, self.xb.shape, torch.equal(self.xb, x[:len(self.xb)]) if not self.in_train else None))
    learn = Learner(nn.Sequential(nn.Flatten(), nn.Linear(3*8*8, 2)), data, F.cross_entropy, lr=0.1,
                    cb_funcs=[partial(BatchAugmentCallback, size=8), Look])
    with pytest.raises(RuntimeError): learn.fit(1)            # validation batches are not resized: 16x16 into an 8x8 model
    assert all(s[1][-1] == 8 for s in seen if s[0])

# ---- workers: different draws in each, reproducible from the main process's seed
def worker_batches(il, workers=2, epochs=1):
    ctx = 'fork' if platform.system() == 'Linux' else None
    dl = torch.utils.data.DataLoader(il, batch_size=2, num_workers=workers, multiprocessing_context=ctx if workers else None)
    return [torch.cat(list(dl)) for _ in range(epochs)]

def test_workers_draw_differently(tmp_path):
    photo(80, 60).save(tmp_path/'a.png')
    il = ItemList([tmp_path/'a.png']*8, tmp_path, tfms=[lambda fn: PIL.Image.open(fn).convert('RGB'), RandomResizedCrop(16), PilRandomFlip(), np_to_float])
    set_seed(0); a, a2 = worker_batches(il, epochs=2)
    set_seed(0); b, _ = worker_batches(il, epochs=2)
    assert len({o.numpy().tobytes() for o in a}) == 8         # batches 0, 2 from worker 0 and 1, 3 from worker 1: all differ
    assert torch.equal(a, b) and not torch.equal(a, a2)       # reproducible, and each epoch draws anew

# ---- bad input
def test_bad_arguments():
    for bad in (0, -3, (32, 0), (1.5, 2), 'x'):
        with pytest.raises(ValueError, match='size'): RandomResizedCrop(bad)
    with pytest.raises(ValueError, match='magnitude=-0.1'): PilTiltRandomCrop(32, magnitude=-0.1)
    for scale in ((0., 1.), (0.5, 1.5), (0.8, 0.2), (-1, 1)):
        with pytest.raises(ValueError, match='scale'): RandomResizedCrop(32, scale=scale)
    with pytest.raises(ValueError, match='ratio'): RandomResizedCrop(32, ratio=(2., 1.))
    with pytest.raises(ValueError, match='p=2'): PilRandomFlip(2)
    with pytest.raises(ValueError, match='scale=0.5'): CenterCrop(32, scale=0.5)
    with pytest.raises(ValueError, match='scale'): random_affine(4, scale=(0., 1.))
    with pytest.raises(ValueError, match='max_deg'): random_affine(4, max_deg=-1)

@pytest.mark.parametrize('mode', ['L', 'RGBA', 'P', 'RGB'])
def test_modes_give_the_right_image(mode):
    im = photo(70, 50, mode=mode)
    for t in (RandomResizedCrop(24), PilRandomFlip(1.), PilRandomDihedral(1.), CenterCrop(24), PilTiltRandomCrop(24, magnitude=0.2)):
        set_seed(0); out = t(im)
        assert out.mode == mode
    want = {'L': 1, 'RGBA': 4, 'RGB': 3}
    if mode in want: assert np_to_float(RandomResizedCrop(24)(im)).shape == (want[mode], 24, 24)
    assert np_to_float(make_rgb(im)).shape == (3, 50, 70)

def test_image_smaller_than_crop(tmp_path):
    photo(20, 10).save(tmp_path/'small.png')
    im = PIL.Image.open(tmp_path/'small.png')
    with pytest.raises(ValueError, match=r"crop_size \(32, 32\) is larger than the image \(20, 10\).*small.png"): GeneralCrop(16, crop_size=32)(im)
    with pytest.raises(ValueError, match='larger than the image'): PilTiltRandomCrop(16, crop_size=32)(im)
    assert RandomResizedCrop(64)(im).size == (64, 64)          # relative boxes always fit: the box is enlarged
    assert CenterCrop(64)(im).size == (64, 64)

def test_np_to_float_numpy2_and_no_warnings():
    im = photo()
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        out = np_to_float(im)
    assert out.dtype == torch.float32 and torch.allclose(out, to_float_tensor(to_byte_tensor(im)))
    assert np_to_float._order == 30 and PilTransform._order == 11 and make_rgb._order == 0

def test_crops_decode_at_full_resolution(tmp_path):
    "A JPEG with a crop in its transforms is not decoded at a reduced scale: the crop needs every pixel"
    photo(600, 400).save(tmp_path/'big.jpg')
    il = ImageList([tmp_path/'big.jpg'], tmp_path, tfms=[make_rgb, RandomResizedCrop(128)])
    assert il.draft_size() is None and il.get(tmp_path/'big.jpg').size == (600, 400)
    assert ImageList([tmp_path/'big.jpg'], tmp_path, tfms=[make_rgb, ResizeFixed(128)]).get(tmp_path/'big.jpg').size == (300, 200)   # 1/2 scale: 1/4 would be under 128

def test_course_show_image_orders():
    im = np_to_float(photo())
    _, ax = plt.subplots()
    assert show_image(im, ax) is ax                              # course 10: show_image(im, ax)
    ax2 = show_image(im, (2, 2))                                 # course 08: show_image(im, figsize)
    assert tuple(ax2.figure.get_size_inches()) == (2, 2)
    show_batch(torch.stack([im]*6), c=3); plt.close('all')
