#!/bin/sh
# t/layers.sh - the layers hold: the mapping library (src/lib, src/caom)
# needs nothing of ours above it, caom2ingest links no daemon module and no
# SQLite, and no folder of src/ includes a folder that includes it back.
. "$srcdir/t/tap.sh"

command -v nm >/dev/null || skip_all "nm not installed (binutils)"
plan 12
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

# No function or variable of ours is exported from a binary: one that a shared library
# also defines (cfitsio's file driver has file_read, file_open...) would take the
# library's place in the library's own calls.
ours=$(for a in "$top_builddir"/src/*.a; do nm --defined-only "$a" 2>/dev/null; done |
	awk 'NF == 3 && $2 ~ /[TDBR]/ {print $3}' | sort -u)
printf '%s\n' "$ours" > "$tmp/ours"
for b in "$client" "$daemon"; do
	nm -D --defined-only "$b" | awk '{print $3}' | sed 's/@.*//' | sort -u > "$tmp/dyn"
	is "" "$(comm -12 "$tmp/ours" "$tmp/dyn" | tr '\n' ' ')" \
		"$(basename "$b") exports none of its own symbols to shared libraries"
done

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
