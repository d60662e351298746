#!/bin/sh
# t/man.sh - the man pages lint clean with groff -ww and mandoc -Tlint.
. "$srcdir/t/tap.sh"

pages="caom2ingestd.8 caom2ingest.1 caom2ingest.yml.5 caom2ingest-blueprint.5 caom2ingest-lua.5"
command -v groff >/dev/null || skip_all "groff not installed"
plan 15
for p in $pages; do
	f=$top_builddir/man/$p
	ok "$p exists" test -s "$f"
	out=$(groff -t -man -ww -z "$f" 2>&1)
	# and as man(1) lays it out on an 80-column terminal: tables must fit
	# ("cannot adjust line" is left out: it depends on the length of the
	# paths substituted, long under make distcheck)
	out=$out$(groff -t -man -ww -Wbreak -z -Tutf8 -rLL=80n "$f" 2>&1)
	is "" "$out" "$p: groff -t -man -ww is silent (also -Tutf8 at 80 columns)"
	if command -v mandoc >/dev/null; then
		# mandoc reports the Debian-only .EX/.EE as STYLE notes; keep errors and warnings.
		out=$(mandoc -Tlint -W warning "$f" 2>&1)
		is "" "$out" "$p: mandoc -Tlint -W warning is silent"
	else
		skip 1 "mandoc not installed"
	fi
done
