#!/usr/bin/env python3
"""preview-limits.py - astropy's display limits beside caom2ingest's.

Reads lines "FILE SCALE" followed by what `caom2ingest preview --print-limits`
printed for that file (hdu=N ... stride=S read=NXxNY float32=F vmin=V vmax=V)
on stdin; for each, reads the same HDU with astropy.io.fits, squeezes its
length-1 axes, takes the first plane of a cube and the same stride, computes
ZScaleInterval() (defaults), MinMaxInterval() or
AsymmetricPercentileInterval(1, 99) with astropy, and prints one line:
"ok NAME SCALE ..." when both limits agree to 1e-9 relative (and the shape
and the float32-ness too), else "not ok NAME SCALE ..." with both values.
"""
import os
import sys

import numpy as np
from astropy.io import fits
from astropy.visualization import (AsymmetricPercentileInterval, MinMaxInterval,
                                   ZScaleInterval)

INTERVALS = {
    "zscale": ZScaleInterval,
    "minmax": MinMaxInterval,
    "percentile": lambda: AsymmetricPercentileInterval(1, 99),
}


def close(a, b):
    return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b))


def check(line):
    words = line.split()
    path, scale = words[0], words[1]
    got = dict(w.split("=", 1) for w in words[2:])
    name = os.path.basename(path)
    with fits.open(path) as hdul:
        data = hdul[int(got["hdu"])].data
        data = np.squeeze(data)
        while data.ndim > 2:
            data = data[0]
        s = int(got["stride"])
        data = data[::s, ::s] if data.ndim == 2 else data[::s]
        vmin, vmax = INTERVALS[scale]().get_limits(data)
        shape = "%dx%d" % (data.shape[-1], data.shape[0] if data.ndim == 2 else 1)
        f32 = int(data.dtype.kind == "f" and data.dtype.itemsize == 4)
    cmin, cmax = float(got["vmin"]), float(got["vmax"])
    vmin, vmax = float(vmin), float(vmax)
    good = close(vmin, cmin) and close(vmax, cmax) and shape == got["read"] and \
        f32 == int(got["float32"])
    detail = "C %.17g %.17g, astropy %.17g %.17g; read %s vs %s; float32 %s vs %d" % (
        cmin, cmax, vmin, vmax, got["read"], shape, got["float32"], f32)
    print("%s %s %s stride %d: %s" % ("ok" if good else "not ok", name, scale, s, detail))


for line in sys.stdin:
    if line.strip():
        check(line)
