#!/bin/sh
# t/layers.sh - the layers hold: the mapping library (src/lib, src/caom)
# needs nothing of ours above it, caom2ingest links no daemon module and no
# SQLite, no folder of src/ includes a folder that includes it back, and no
# name of ours is one a shared library we link exports.
. "$srcdir/t/tap.sh"

command -v nm >/dev/null || skip_all "nm not installed (binutils)"
plan 16
client=$top_builddir/src/caom2ingest
daemon=$top_builddir/src/caom2ingestd
maplib=$top_builddir/src/libcaom2map.a

# The modules of a folder, as the prefixes of their public names ("state_").
prefixes() {
	for d in "$@"; do
		for f in "$srcdir"/src/"$d"/*.c; do
			b=$(basename "$f" .c)
			[ "$b" = main ] || printf '%s_\n' "$b"
		done
	done
}
# The worker pool (src/lib/work.c) serves the daemon only: the client must not link it either.
{ prefixes store sources daemon; echo work_; } > "$tmp/daemon.prefixes"
prefixes conf sinks store sources daemon client > "$tmp/above-map.prefixes"
# A symbol list filtered down to the ones a prefix list names.
named() { grep -E "^($(paste -sd'|' "$1"))" || true; }

# Functions and data defined in a binary (T, D, B, R), and what it takes from shared libraries.
nm --defined-only "$client" | awk '{print $3}' | sort -u > "$tmp/client.defined"
nm --defined-only "$daemon" | awk '{print $3}' | sort -u > "$tmp/daemon.defined"

leak=$(named "$tmp/daemon.prefixes" < "$tmp/client.defined")
is "" "$leak" "caom2ingest defines no symbol of src/store, src/sources, src/daemon or the worker pool"
found=$(named "$tmp/daemon.prefixes" < "$tmp/daemon.defined" | wc -l)
ok "and the check sees them where they are: caom2ingestd has $found" test "$found" -gt 50
ok "caom2ingestd has state_open (the check's own control)" grep -qx state_open "$tmp/daemon.defined"

sq=$(nm -u "$client" | grep -c 'sqlite3_' || true)
is 0 "$sq" "caom2ingest takes nothing from SQLite"
ok "caom2ingestd does (the control)" sh -c "nm -u '$daemon' | grep -q sqlite3_open"
if command -v readelf >/dev/null; then
	needed=$(readelf -d "$client" | grep NEEDED | grep -E 'sqlite|rabbitmq|microhttpd' || true)
	is "" "$needed" "caom2ingest needs no libsqlite3, librabbitmq or libmicrohttpd"
else
	skip 1 "readelf not installed"
fi

# The mapping library's archive: what it needs and does not define itself
# must come from outside the project (libc, cfitsio, wcslib, libxml2, ...).
nm --defined-only "$maplib" 2>/dev/null | awk 'NF == 3 {print $3}' | sort -u > "$tmp/map.defined"
nm -u "$maplib" 2>/dev/null | awk 'NF == 2 {print $2}' | sort -u > "$tmp/map.undefined"
comm -23 "$tmp/map.undefined" "$tmp/map.defined" > "$tmp/map.external"
leak=$(named "$tmp/above-map.prefixes" < "$tmp/map.external")
is "" "$leak" "libcaom2map.a needs no symbol of conf, sinks, store, sources, daemon or client"
d=$top_builddir/src/libcaom2ingestd.a
nm -u "$d" | awk 'NF == 2 {print $2}' | sort -u > "$tmp/d.undefined"
nm --defined-only "$d" | awk 'NF == 3 {print $3}' | sort -u > "$tmp/d.defined"
found=$(comm -23 "$tmp/d.undefined" "$tmp/d.defined" | named "$tmp/above-map.prefixes" | wc -l)
ok "and the check sees such needs where they are: libcaom2ingestd.a has $found (conf_, repo_, ...)" \
	test "$found" -gt 10

# Folder-level includes: each #include "DIR/x.h" in src/FROM/ is an edge
# FROM -> DIR; tsort refuses a graph with a cycle.
for f in "$srcdir"/src/*/*.[ch]; do
	from=$(basename "$(dirname "$f")")
	sed -n 's|^#include "\([a-z]*\)/[^"]*".*|\1|p' "$f" | sort -u |
	    while read -r to; do [ "$to" = "$from" ] || echo "$to $from"; done
done | sort -u > "$tmp/edges"
diag "folder includes (used-by):" "$(tr '\n' ';' < "$tmp/edges")"
out=$(tsort "$tmp/edges" 2>&1 >/dev/null)
is "" "$out" "no folder-level include cycle"
bad=$(awk '$1 != "lib" && ($2 == "lib" || ($2 == "caom" && $1 != "caom"))' "$tmp/edges")
is "" "$bad" "src/lib includes nothing of ours, src/caom only src/lib"

# Internal headers stay with the modules they are written for.
bad=$(cd "$srcdir" && grep -l '#include "caom/blueprint_int.h"' src/*/*.[ch] t/*.c t/fuzz/*.c bench/*.c 2>/dev/null |
    grep -vxE 'src/caom/(blueprint|blueprint_load|legacy)\.c' | tr '\n' ' ')
is "" "$bad" "only blueprint.c, blueprint_load.c and legacy.c include blueprint_int.h"

# A global name of ours that a linked shared library also exports replaces
# the library's own (the executable comes first in symbol lookup): a
# file_read in src/lib made cfitsio read every FITS file with it (hence
# lib/fileio's fileio_ prefix).
if command -v ldd >/dev/null; then
	for a in "$top_builddir"/src/*.a; do
		nm -g --defined-only "$a" 2>/dev/null | awk 'NF == 3 && $2 ~ /[TDBR]/ {print $3}'
	done | sort -u > "$tmp/ours"
	for b in "$client" "$daemon"; do ldd "$b"; done | awk '$2 == "=>" && $3 ~ /^\// {print $3}' |
	    sort -u | while read -r l; do
		nm -D --defined-only "$l" 2>/dev/null | awk '{sub(/@.*/, "", $NF); print $NF}'
	done | sort -u > "$tmp/theirs"
	is "" "$(comm -12 "$tmp/ours" "$tmp/theirs" | tr '\n' ' ')" \
	    "no function or variable of ours has a name a linked shared library exports"
	ok "the check sees the libraries' names (cfitsio's ffopen, file_read)" \
	    sh -c "grep -qx ffopen '$tmp/theirs' && grep -qx file_read '$tmp/theirs'"
else
	skip 2 "ldd not installed"
fi

# doc/ARCHITECTURE.md lists every module (a header or a lone .c) of src/, and
# nothing that is not there.
doc=$srcdir/doc/ARCHITECTURE.md
for f in "$srcdir"/src/*/*.[ch]; do
	d=$(basename "$(dirname "$f")")
	echo "$d/$(basename "$f" | sed 's/\.[ch]$//')"
done | sort -u > "$tmp/modules"
sed -n 's/^| `\([a-z]*\/[a-z_0-9]*\)` |.*/\1/p' "$doc" | sort -u > "$tmp/documented"
missing=$(comm -23 "$tmp/modules" "$tmp/documented" | tr '\n' ' ')
is "" "$missing" "doc/ARCHITECTURE.md lists every module of src/"
extra=$(comm -13 "$tmp/modules" "$tmp/documented" | tr '\n' ' ')
is "" "$extra" "and no module that is not there"

# Blueprint keys are compile-time names (BPK_...): no key is looked up by a
# string literal, where a misspelling would silently map nothing.
lit=$(grep -n 'bp_key("' "$srcdir"/src/*/*.c | tr '\n' ' ')
is "" "$lit" "no blueprint key looked up by a string literal in src/"
