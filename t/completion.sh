#!/bin/sh
# t/completion.sh - the bash completion offers commands and their options.
. "$srcdir/t/tap.sh"

command -v bash >/dev/null || skip_all "bash not installed"
plan 17
comp() {
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _caom2ingest;
		echo "${COMPREPLY[*]}"' sh "$srcdir/etc/bash-completion/caom2ingest" "$@"
}
is "status stats show store" "$(comp caom2ingest s)" "commands by prefix"
is "reingest rescan resume reload" "$(comp caom2ingest re)" "more commands"
is "--failed --force" "$(comp caom2ingest reingest --f)" "reingest options"
is "--wait" "$(comp caom2ingest reingest OMM/C1 --w)" "reingest --wait"
is "--wait --timeout" "$(comp caom2ingest rescan --)" "rescan options"
is "--timeout" "$(comp caom2ingest reload --wait --t)" "reload --wait --timeout"
is "wait" "$(comp caom2ingest w)" "the wait command"
is "failed" "$(comp caom2ingest list --state fa)" "states for list --state"
is "--json" "$(comp caom2ingest -s /x --j)" "global options after -s SOCKET"
is "--lineage --local" "$(comp caom2ingest map --l)" "map options"
is "--push" "$(comp caom2ingest map --p)" "map --push"
is "--config --collection" "$(comp caom2ingest map --co)" "map --collection"
is "--outdir" "$(comp caom2ingest map --ou)" "map --outdir"
is "--cert --ca-path" "$(comp caom2ingest map --ce) $(comp caom2ingest map --ca)" \
	"and its TLS options"
is "--stretch" "$(comp caom2ingest preview x.fits --st)" "preview options"
is "zscale" "$(comp caom2ingest preview --scale z)" "and their values"
is "--uri --uri-template" "$(comp caom2ingest store --ur)" "store options"
