#!/bin/sh
# bench/bench_preview.sh BUILDDIR SRCDIR [N] - previews in C (bench/bench_preview:
# a 1024 preview and a 256 thumbnail of a 4096 x 4096 float32 image, and
# plots of a 200,000-point spectrum) beside the Python pipelines' way
# (bench/bench_preview.py: astropy's ZScaleInterval + matplotlib) on the
# same files in the same run, N runs each; prints the medians and their
# ratios. The Python side is left out, with the reason, without python3,
# astropy or matplotlib.
set -eu
build=$1 src=$2 n=${3:-20}
dir=$(mktemp -d "${TMPDIR:-/tmp}/bench-preview.XXXXXX")
trap 'rm -rf "$dir"' EXIT
"$build/bench/bench_preview" -m "$dir"
ls -l "$dir"/*.fits | awk '{printf "input  %s %d bytes\n", $NF, $5}'
"$build/bench/bench_preview" -n "$n" "$dir/image4k.fits" "$dir/spectrum.fits" | tee "$dir/c.out"
py=
for p in python3 /usr/bin/python3; do
	if "$p" -c 'import astropy.visualization, matplotlib' 2>/dev/null; then py=$p; break; fi
done
if [ -z "$py" ]; then
	echo "python: left out (no python3 with astropy and matplotlib: python3-astropy python3-matplotlib)"
	exit 0
fi
"$py" "$src/bench/bench_preview.py" "$n" "$dir/image4k.fits" "$dir/spectrum.fits" | tee "$dir/py.out"
# the medians: wall clock (field "median") and CPU time (field "cpu")
c() { sed -n "s/.*$1.*median *\([0-9.]*\) ms.*cpu *\([0-9.]*\) ms.*/\\$2/p" "$dir/c.out"; }
p() { awk -v n="$1" -v f="$2" '$2 == n {print $f}' "$dir/py.out"; }
awk -v c="$(c 4096x4096 1)" -v cc="$(c 4096x4096 2)" -v pi="$(p imsave 4)" -v pic="$(p imsave 8)" \
    -v pf="$(p figure 4)" -v pfc="$(p figure 8)" -v cs="$(c spectrum 1)" -v csc="$(c spectrum 2)" \
    -v ps="$(p spectrum 4)" -v psc="$(p spectrum 8)" 'BEGIN {
	printf "ratio  image, wall: Python imsave / C %.1fx, Python figure / C %.1fx\n", pi / c, pf / c
	printf "ratio  image, cpu:  Python imsave / C %.1fx, Python figure / C %.1fx\n", pic / cc, pfc / cc
	printf "ratio  spectrum: Python / C %.1fx wall, %.1fx cpu\n", ps / cs, psc / csc
}'
