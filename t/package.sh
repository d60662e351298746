#!/bin/sh
# t/package.sh - the Debian package built by `make deb` installs the
# daemon, the client, the unit, the man pages and the example configuration.
. "$srcdir/t/tap.sh"

deb=$(ls "$top_builddir"/deb-build/caom2ingest_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || skip_all "no package built (run 'make deb' first)"
plan 14

root=$tmp/root
dpkg-deb -x "$deb" "$root"
for f in usr/sbin/caom2ingestd usr/bin/caom2ingest; do
	ok "$f is executable" test -x "$root/$f"
done
for f in etc/caom2ingest/caom2ingest.yml lib/systemd/system/caom2ingestd.service \
    usr/lib/sysusers.d/caom2ingest.conf usr/share/man/man8/caom2ingestd.8.gz \
    usr/share/man/man1/caom2ingest.1.gz usr/share/man/man5/caom2ingest.yml.5.gz \
    usr/share/caom2ingest/xsd/CAOM-2.4.xsd usr/lib/systemd/catalog/caom2ingest.catalog; do
	ok "$f is installed" test -s "$root/$f"
done
like "$("$root/usr/sbin/caom2ingestd" --version)" '^caom2ingestd [0-9]' "the packaged daemon runs"
is "OK" "$("$root/usr/sbin/caom2ingestd" --check-config -c "$root/etc/caom2ingest/caom2ingest.yml")" \
	"and accepts the packaged configuration"
ok "the unit runs /usr/sbin/caom2ingestd" \
	grep -q '^ExecStart=/usr/sbin/caom2ingestd -f -c /etc/caom2ingest/caom2ingest.yml' \
	"$root/lib/systemd/system/caom2ingestd.service"
like "$(dpkg-deb -f "$deb" Depends)" 'libev4' "shared library dependencies are declared"
