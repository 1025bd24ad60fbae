#!/usr/bin/env bash
# Installs the Debian packages the lab (test/lab) needs and a fresh machine lacks. Run by
# `npm run lab -- up`; idempotent and quiet when everything is there.
# nftables (and the other tools LXD probes) go in first, in their own apt run: LXD picks its
# firewall driver and storage drivers only when a daemon starts, and installing lxd may start one.
set -euo pipefail

first=(nftables iptables btrfs-progs)
# iputils-ping: not needed by the lab itself, but the obvious way to check a node from another.
# The node playbook (ansible/) installs lxd, lxcfs, bird2 and openssl on a node with apt; the lab's
# nodes share this machine's packages but their namespaces cannot reach the mirror, so they are
# installed here and the playbook finds them present (it runs apt-get update only for missing ones).
rest=(lxd lxcfs openssh-server bird2 openssl debootstrap busybox-static iputils-ping)

missing_of() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || printf '%s\n' "$p"
  done
}

mapfile -t missing_first < <(missing_of "${first[@]}")
mapfile -t missing_rest < <(missing_of "${rest[@]}")
[ ${#missing_first[@]} -eq 0 ] && [ ${#missing_rest[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "missing Debian packages: ${missing_first[*]} ${missing_rest[*]}; install them with: sudo apt-get install ${missing_first[*]} ${missing_rest[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
for group in first rest; do
  declare -n list="missing_$group"
  if [ ${#list[@]} -gt 0 ]; then
    echo "installing ${list[*]} with apt" >&2
    apt-get install -y -qq "${list[@]}" >/dev/null
  fi
done
