#!/bin/sh
# t/s3.sh - runs t/s3 (the S3 client) against the S3 test server.
. "$srcdir/t/tap.sh"
. "$srcdir/t/s3server.sh"

why=$(s3server_missing)
[ -z "$why" ] || skip_all "$why"
start_s3_server
S3_TEST_ENDPOINT=$s3_endpoint S3_TEST_TMP=$tmp "$top_builddir/t/s3"
