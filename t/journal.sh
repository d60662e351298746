#!/bin/sh
. "$srcdir/t/tap.sh"
skip_all todo
