#!/usr/bin/env python3
"""bench_preview.py - the Python reference path for bench/bench_preview.sh.

What the collection pipelines do, on the same files as bench_preview: read
the FITS file (astropy.io.fits), astropy's ZScaleInterval, then matplotlib:
  imsave    plt.imsave of the image subsampled to 1024 and 256 (data[::4, ::4],
            data[::16, ::16]: the cheapest way to the sizes; JPEG)
  figure    a figure of 10.24 x 10.24 in at 100 dpi, imshow, savefig (as
            caom2pipe's preview helpers do), and the same at 2.56 in (JPEG)
  spectrum  plot of flux against wavelength at 10.24 x 7.68 and 2.56 x 1.92 in (PNG)
Prints "python NAME median MS fastest MS cpu MS" (wall clock; the CPU time median).

usage: bench_preview.py N IMAGE.fits SPECTRUM.fits
"""
import io
import sys
import time

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from astropy.io import fits  # noqa: E402
from astropy.visualization import ZScaleInterval  # noqa: E402


def imsave(path):
    data = fits.getdata(path)
    vmin, vmax = ZScaleInterval().get_limits(data)
    for step in (4, 16):
        buf = io.BytesIO()
        plt.imsave(buf, data[::step, ::step], cmap="gray", vmin=vmin, vmax=vmax,
                   origin="lower", format="jpeg")


def figure(path):
    data = fits.getdata(path)
    vmin, vmax = ZScaleInterval().get_limits(data)
    for inches in (10.24, 2.56):
        fig = plt.figure(figsize=(inches, inches), dpi=100)
        ax = fig.add_axes([0, 0, 1, 1])
        ax.set_axis_off()
        ax.imshow(data, cmap="gray", vmin=vmin, vmax=vmax, origin="lower")
        buf = io.BytesIO()
        fig.savefig(buf, format="jpeg")
        plt.close(fig)


def spectrum(path):
    with fits.open(path) as hdul:
        flux = hdul[0].data
        h = hdul[0].header
    wave = h["CRVAL1"] + (np.arange(flux.size) + 1 - h["CRPIX1"]) * h["CDELT1"]
    for w, hh in ((10.24, 7.68), (2.56, 1.92)):
        fig = plt.figure(figsize=(w, hh), dpi=100)
        ax = fig.add_subplot(111)
        ax.plot(wave, flux, lw=0.8)
        ax.set_xlabel("Wavelength [Angstrom]")
        ax.set_ylabel("flux")
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        plt.close(fig)


def run(name, fn, path, n):
    times, cpu = [], []
    for _ in range(n):
        t0, c0 = time.perf_counter(), time.process_time()
        fn(path)
        times.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
    times.sort()
    cpu.sort()
    print("python %-8s median %8.1f fastest %8.1f cpu %8.1f" % (
        name, times[len(times) // 2], times[0], cpu[len(cpu) // 2]), flush=True)


n = int(sys.argv[1])
run("imsave", imsave, sys.argv[2], n)
run("figure", figure, sys.argv[2], max(1, n // 2))
run("spectrum", spectrum, sys.argv[3], n)
