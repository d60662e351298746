#!/bin/sh
# t/package.sh - the Debian packages built by `make deb`: the binary package
# installs the daemon, the client, the unit, the man pages and the example
# configuration; the source package ("3.0 (quilt)") unpacks; lintian finds
# no error or warning; the maintainer scripts restart a running daemon after
# an upgrade (never leave it stopped) and make the user and state directory
# at installation, with or without systemd.
#
# The package is built by `make deb`, not by `make check`: .ci/run builds it
# before it runs the suite, so CI always runs this test; the README's test
# command does not (it would add a full package build), so there it skips.
. "$srcdir/t/tap.sh"

deb=$(ls "$top_builddir"/deb-build/caom2ingest_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || skip_all "no package built: run 'make deb' first (.ci/run builds it before make check)"
dsc=$(ls "$top_builddir"/deb-build/caom2ingest_*.dsc 2>/dev/null | head -1)
plan 27

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

# The source package.
ok "a source package is built" test -n "$dsc"
like "$(sed -n 's/^Format: //p' "$dsc" 2>/dev/null)" '^3\.0 \(quilt\)$' "in format 3.0 (quilt)"
ok "and unpacks" dpkg-source --no-check -x "$dsc" "$tmp/src"
is "$(dpkg-deb -f "$deb" Version)" "$(dpkg-parsechangelog -l "$tmp/src/debian/changelog" -S Version 2>/dev/null)" \
	"its version is the binary package's"

# lintian: no error, no warning.
if command -v lintian >/dev/null; then
	out=$(lintian --fail-on none "$deb" "$dsc" 2>&1 | grep -E '^[EW]: ')
	is "" "$out" "lintian: no error or warning"
else
	skip 1 "lintian not installed"
fi

# Maintainer scripts: upgrade and reinstall.
dpkg-deb -e "$deb" "$tmp/ctl"
like "$(cat "$tmp/ctl/postinst")" "deb-systemd-invoke try-restart '?caom2ingestd.service'?" \
	"postinst restarts a running daemon after an upgrade or reinstall (try-restart)"
ok_not "and no maintainer script stops it for the upgrade" \
	grep -qs 'deb-systemd-invoke stop' "$tmp/ctl/preinst"
like "$(cat "$tmp/ctl/prerm" 2>/dev/null)" 'if \[ "\$1" = remove \]' \
	"prerm stops it on removal only"
ok_not "a fresh installation does not start it (the configuration needs editing first)" \
	grep -qE 'deb-systemd-invoke (start|restart) ' "$tmp/ctl/postinst"

# The user and the state directory at installation, without systemd: the
# postinst with stand-ins for the commands it runs, systemd-sysusers absent.
mkdir -p "$tmp/bin"
for c in adduser install getent systemctl deb-systemd-helper deb-systemd-invoke; do
	printf '#!/bin/sh\necho "%s $*" >> "%s"\n[ %s != getent ]\n' "$c" "$tmp/calls" "$c" \
		> "$tmp/bin/$c"
	chmod +x "$tmp/bin/$c"
done
# PATH is $tmp/bin only: the real systemd-sysusers and systemd-tmpfiles are not found
env -i PATH="$tmp/bin" /bin/sh -e "$tmp/ctl/postinst" configure "" >/dev/null 2>&1; rc=$?
is 0 "$rc" "the postinst runs without systemd"
like "$(cat "$tmp/calls" 2>/dev/null)" "adduser --system --group --quiet --home /var/lib/caom2ingest --no-create-home" \
	"and makes the system user with adduser"
like "$(cat "$tmp/calls" 2>/dev/null)" "install -d -m 0750 -o caom2ingest -g caom2ingest /var/lib/caom2ingest" \
	"and the state directory"
like "$(dpkg-deb -f "$deb" Depends)" 'adduser' "adduser is a dependency"
