#!/bin/sh
# Builds a debian:bookworm-slim base image as a root file system tarball, for machines that reach
# an apt mirror but no container registry:
#
#   sh container/debian-base.sh /var/cache/veilnet/bookworm-slim.tar [MIRROR]
#   podman import --change 'CMD ["bash"]' \
#     --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
#     /var/cache/veilnet/bookworm-slim.tar docker.io/library/debian:bookworm-slim
#
# `debootstrap --variant=minbase bookworm`, then what Debian's official "slim" image does
# (debuerreotype): no documentation, man pages or translations, apt configured to keep no caches,
# apt lists empty. MIRROR defaults to the first bookworm URI of this host's apt sources; the image's
# apt sources are this host's enabled ones (so `apt-get install` in a build uses the same mirror).
# Needs root and debootstrap. Writes OUT atomically (OUT.tmp, then rename).
set -eu

out=${1:?usage: debian-base.sh OUT.tar [MIRROR]}
mirror=${2:-}

host_sources() {
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && echo "$f"
  done
  return 0
}

if [ -z "$mirror" ]; then
  for f in $(host_sources); do
    mirror=$(sed -nE 's/^URIs:[[:space:]]*([^[:space:]]+).*/\1/p; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+)[[:space:]]+bookworm[[:space:]].*/\2/p' "$f" |
      grep -v security | head -n 1)
    [ -n "$mirror" ] && break
  done
  mirror=${mirror:-http://deb.debian.org/debian}
fi

root=$(mktemp -d "${TMPDIR:-/tmp}/veilnet-debian-base.XXXXXX")
trap 'rm -rf "$root"' EXIT INT TERM

echo "debootstrap --variant=minbase bookworm from $mirror" >&2
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1 || {
  tail -n 30 "$root.log" >&2
  rm -f "$root.log"
  exit 1
}
rm -f "$root.log"

# apt sources: this host's enabled ones (deb822 or one-line), else the mirror used above.
rm -f "$root/etc/apt/sources.list"
copied=0
for f in $(host_sources); do
  cp "$f" "$root/etc/apt/${f#/etc/apt/}"
  copied=1
done
if [ "$copied" = 0 ]; then
  echo "deb $mirror bookworm main" >"$root/etc/apt/sources.list"
fi

# The slim variant's dpkg and apt settings (as in Debian's official images).
mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
# "slim": files that containers normally do not need are not installed.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
echo 'force-unsafe-io' >"$root/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
echo 'Acquire::Languages "none";' >"$root/etc/apt/apt.conf.d/docker-no-languages"
echo 'Acquire::GzipIndexes "true";' >"$root/etc/apt/apt.conf.d/docker-gzip-indexes"
echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$root/etc/apt/apt.conf.d/docker-autoremove-suggests"

# Remove what those settings would not have installed, and every cache.
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$root/usr/share/man/"* "$root/usr/share/info/"* "$root/usr/share/groff/"* \
  "$root/usr/share/lintian/overrides/"* "$root/usr/share/locale/"* \
  "$root/var/cache/apt/"*.bin "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"* \
  "$root/var/log/"*.log "$root/var/cache/debconf/"*-old "$root/var/lib/dpkg/"*-old \
  "$root/debootstrap"
: >"$root/etc/machine-id"
rm -f "$root/etc/hostname" "$root/etc/resolv.conf"

tar --numeric-owner --xattrs -C "$root" -cf "$out.tmp" .
mv -f "$out.tmp" "$out"
echo "wrote $out ($(du -h "$out" | cut -f1))" >&2
