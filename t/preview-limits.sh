#!/bin/sh
# t/preview-limits.sh - the display limits `caom2ingest preview` computes
# in C equal astropy's (ZScaleInterval with its defaults, MinMaxInterval,
# AsymmetricPercentileInterval(1, 99)) to 1e-9 relative, on the synthetic
# images t/mkimage writes (gradients, noise, stars, NaNs, BLANKs,
# infinities, constants, tiny images, cubes, length-1 axes, scaled and
# unsigned integers, tile-compressed images, an extension, a large image
# read with a stride) and on images tools/mkdemo makes from the DAO and
# OMM header dumps of the reference tree. astropy runs here, in the test
# (python3-astropy); without it the test skips.
. "$srcdir/t/tap.sh"

client=$top_builddir/src/caom2ingest
mkimage=$top_builddir/t/mkimage
mkdemo=$top_builddir/tools/mkdemo
ref=${CAOM2INGEST_REFERENCE:-}

# A python3 with astropy: the first python3 on PATH, else Debian's own.
py=
for p in python3 /usr/bin/python3; do
	if "$p" -c 'import astropy.visualization, astropy.io.fits' 2>/dev/null; then
		py=$p
		break
	fi
done
[ -n "$py" ] || skip_all "astropy is not installed (Debian: python3-astropy)"
plan_lazy

mkdir -p "$tmp/img" "$tmp/dump"
ok "t/mkimage writes the synthetic images" sh -c "'$mkimage' '$tmp/img' > '$tmp/img.list'"

# images from the header dumps ("# HDU n in FILE:" lines dropped, an END
# card appended where a dump has none, as the reference tools do), about
# 100,000 pixels each
ndump=0
if [ -n "$ref" ] && [ -d "$ref/pipelines/dao" ]; then
	for d in "$ref"/pipelines/dao/*.fits.header "$ref"/pipelines/omm/*.fits.header; do
		b=$(basename "$d" .fits.header)
		{ grep -v '^#' "$d"; grep -q '^END *$' "$d" || echo END; } > "$tmp/dump/$b.header"
		if "$mkdemo" -b 400000 "$tmp/dump/$b.header" "$tmp/dump/$b.fits" 2>>"$tmp/mkdemo.err"
		then
			ndump=$((ndump + 1))
		fi
	done
	ok "tools/mkdemo makes an image of every DAO and OMM dump ($ndump)" test "$ndump" -ge 41
else
	diag "no reference tree: the header-dump images are left out"
fi

# what the C code says: FILE SCALE hdu=... vmin=... vmax=...
limits() {
	out=$("$client" preview --print-limits --scale "$2" "$1" 2>&1) || {
		echo "FAILED $1 $2: $out" >&2
		return 1
	}
	echo "$1 $2 $out"
}
: > "$tmp/lines"
fails=0
for f in $(cat "$tmp/img.list"); do
	case $f in *spectrum*) continue ;; esac
	for s in zscale minmax percentile; do
		limits "$f" "$s" >> "$tmp/lines" 2>>"$tmp/errors" || fails=$((fails + 1))
	done
done
for f in "$tmp"/dump/*.fits; do
	[ -f "$f" ] || continue
	for s in zscale percentile; do
		limits "$f" "$s" >> "$tmp/lines" 2>>"$tmp/errors" || fails=$((fails + 1))
	done
done
is 0 "$fails" "caom2ingest preview --print-limits reads every image"
[ "$fails" -eq 0 ] || diag "$(cat "$tmp/errors")"

"$py" "$srcdir/t/preview-limits.py" < "$tmp/lines" > "$tmp/results" 2>"$tmp/py.err"
is 0 "$?" "astropy computed the limits of the same pixels" || diag "$(cat "$tmp/py.err")"
nz=$(grep -c '^ok .* zscale ' "$tmp/results")
ok "zscale agrees with astropy on at least 20 images ($nz)" test "$nz" -ge 20
ok "among them an image read with a stride" grep -q '^ok large_2500x2100.fits zscale stride 2:' \
    "$tmp/results"
ok "and a tile-compressed one" grep -q '^ok rice_uint16.fits.fz zscale' "$tmp/results"
while read -r line; do
	case $line in
	"ok "*) tap_result 0 "${line#ok }" ;;
	*) tap_result 1 "${line#not ok }" ;;
	esac
done < "$tmp/results"
