"""The data block API (nb_08): what needs a process of its own, and each way it used to lose data silently.

The notebook `08_data_block.ipynb` shows and asserts the same cases next to the code; these tests
also run where the notebook is not executed, and cover DataLoader workers started by `spawn`
(what Windows and macOS use) and importing the module on a machine with a GPU.
"""
import os, subprocess, sys, warnings
from functools import partial
from pathlib import Path
import numpy as np
import PIL.Image
import pytest, torch

from exp import nb_08 as db

def _img(p, size=(8, 6), color=(10, 200, 30)):
    p.parent.mkdir(parents=True, exist_ok=True)
    PIL.Image.new('RGB', size, color=color).save(p)
    return p

@pytest.fixture
def folder(tmp_path):
    "train/{cat,dog} and valid/{cat,dog}, as the course's default `grandparent_splitter` expects"
    for rel in ['train/cat/a.png', 'train/dog/b.png', 'train/dog/c.png', 'valid/cat/d.png', 'valid/dog/e.png']: _img(tmp_path/rel)
    return tmp_path

def _labelled(path, splitter=db.grandparent_splitter, size=8):
    il = db.ImageList.from_files(path, tfms=[db.make_rgb, db.ResizeFixed(size), db.to_byte_tensor, db.to_float_tensor])
    return db.label_by_func(db.SplitData.split_by_func(il, splitter), db.parent_labeler, proc_y=db.CategoryProcessor())

# ---- DataLoader workers ----
@pytest.mark.parametrize('ctx', ['spawn', 'fork'])
def test_workers_give_the_same_batches(folder, ctx):
    if ctx not in __import__('multiprocessing').get_all_start_methods(): pytest.skip(f'no {ctx} here')
    ll = _labelled(folder)
    ref = torch.cat([x for x,_ in db.databunchify(ll, 2, c_in=3, c_out=2, num_workers=0).valid_dl])
    data = db.databunchify(ll, 2, c_in=3, c_out=2, num_workers=2, multiprocessing_context=ctx)
    assert data.valid_dl.num_workers == 2
    assert torch.equal(torch.cat([x for x,_ in data.valid_dl]), ref)

def test_import_touches_no_gpu():
    out = subprocess.run([sys.executable, '-c', 'import torch, exp.nb_08; print(torch.cuda.is_initialized())'],
                         capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1]).stdout.strip()
    assert out == 'False'

# ---- splitting: nothing left out silently ----
def test_course_default_on_imagenette2_layout_is_an_error(tmp_path):
    "imagenette2's validation folder is `val/`: the default valid_name='valid' would leave it all out"
    for rel in ['train/n1/a.JPEG', 'train/n2/b.JPEG', 'val/n1/c.JPEG', 'val/n2/d.JPEG', 'val/n2/e.JPEG']: _img(tmp_path/rel)
    il = db.ImageList.from_files(tmp_path)
    with pytest.raises(ValueError, match=r"the validation split is empty.*left out 3.*'val' \(3 files\).*valid_name='val'"):
        db.SplitData.split_by_func(il, db.grandparent_splitter)
    with pytest.warns(UserWarning, match='left out 3'): train,valid = db.split_by_func(il.items, db.grandparent_splitter)
    assert (len(train), len(valid)) == (2, 0)
    sd = db.SplitData.split_by_func(il, partial(db.grandparent_splitter, valid_name='val'))
    assert (len(sd.train), len(sd.valid)) == (2, 3)

def test_items_left_out_warn_and_empty_splits_raise(folder):
    _img(folder/'test'/'cat'/'f.png')
    with pytest.warns(UserWarning, match=r"left out 1 .*'test' \(1 file\)"):
        sd = db.SplitData.split_by_func(db.ImageList.from_files(folder), db.grandparent_splitter)
    assert (len(sd.train), len(sd.valid)) == (3, 2)
    with warnings.catch_warnings():
        warnings.simplefilter('error')              # not listed: nothing is left out, no warning
        db.SplitData.split_by_func(db.ImageList.from_files(folder, include=['train', 'valid']), db.grandparent_splitter)
    with pytest.raises(ValueError, match='the training split is empty'):
        db.SplitData.split_by_func(db.ImageList.from_files(folder, include=['valid']), db.grandparent_splitter)
    ll = _labelled(folder/'train', splitter=lambda fn: False if fn.name < 'c' else True)
    with pytest.raises(ValueError, match='the validation set is empty'):
        db.databunchify(db.SplitData(ll.train, ll.valid.x.new([])), 2)

def test_splitter_results_like_the_course():
    "False/True as in the course (`m==False`, `m==True`): NumPy and tensor booleans and 0/1 count too; anything else is an error"
    items = list(range(6))
    outs = [False, np.bool_(True), torch.tensor(False), 1, None, 0]
    with pytest.warns(UserWarning, match='left out 1'): train,valid = db.split_by_func(items, lambda i: outs[i])
    assert (train, valid) == ([0, 2, 5], [1, 3])
    with pytest.raises(TypeError, match="the splitter returned 'x' for 5"): db.split_by_func(items, lambda i: (outs[:5]+['x'])[i])

# ---- symlinked folders ----
def test_symlinked_class_folder_is_listed_and_a_loop_ends(folder, tmp_path_factory):
    other = tmp_path_factory.mktemp('elsewhere')
    _img(other/'birds'/'g.png')
    try:
        (folder/'train'/'bird').symlink_to(other/'birds', target_is_directory=True)
        (folder/'train'/'dog'/'up').symlink_to(folder, target_is_directory=True)
    except OSError as e: pytest.skip(f'no symlinks here: {e}')
    with pytest.warns(UserWarning, match='symlink loop'):
        files = db.get_files(folder, db.image_extensions, recurse=True)
    assert [str(f.relative_to(folder)) for f in files] == [
        'train/bird/g.png', 'train/cat/a.png', 'train/dog/b.png', 'train/dog/c.png', 'valid/cat/d.png', 'valid/dog/e.png']

# ---- 16-bit and float images ----
def test_16bit_png_and_float_tiff_convert_to_8bit(tmp_path):
    ramp = np.linspace(0, 1, 4*32).reshape(4, 32)
    want = np.round(ramp*255)
    PIL.Image.fromarray(np.round(ramp*65535).astype(np.uint16)).save(tmp_path/'a.png')
    PIL.Image.fromarray(ramp.astype(np.float32)).save(tmp_path/'b.tif')
    for fn in ('a.png', 'b.tif'):
        x = db.ImageList([tmp_path/fn], tmp_path, tfms=[db.make_rgb, db.to_byte_tensor])[0]
        assert x.shape == (3, 4, 32) and x.dtype == torch.uint8
        assert np.abs(x[0].numpy().astype(float) - want).max() <= 1, fn

def test_images_with_no_8bit_range_are_errors_naming_the_file(tmp_path):
    PIL.Image.fromarray(np.full((4, 4), 300., np.float32)).save(tmp_path/'hdr.tif')
    PIL.Image.fromarray(np.full((4, 4), 5000, np.uint16)).save(tmp_path/'deep.png')
    with pytest.raises(ValueError, match=r"hdr\.tif: mode F with values in \[300, 300\]"):
        db.ImageList([tmp_path/'hdr.tif'], tmp_path, tfms=db.make_rgb)[0]
    with pytest.raises(ValueError, match=r"got mode I;16 from .*deep\.png: put make_rgb before it"):
        db.ImageList([tmp_path/'deep.png'], tmp_path, tfms=db.to_byte_tensor)[0]

def test_corrupt_image_names_the_file(folder):
    bad = folder/'train'/'cat'/'bad.png'
    bad.write_bytes(b'not a png')
    with pytest.raises(db.ImageReadError, match=f'could not read image {bad}'): db.ImageList([bad], folder)[0]
