#!/usr/bin/env bash
# A loopback sshd for the ssh tests: 127.0.0.1 only, key-only login as the current user, keys and
# config in one private folder (compute.md 3.1). No systemd needed.
#
#   tests/infra/sshd.sh start   starts it (or finds it already running) and prints the shell lines
#                               to export: KIROKU_TEST_SSH_HOST (a Host alias of the generated
#                               client config) and KIROKU_TEST_SSH_CONFIG (that config, for `ssh -F`)
#   tests/infra/sshd.sh stop    stops it
#   tests/infra/sshd.sh env     prints the export lines of a running one
#
# KIROKU_SSHD_DIR (default /tmp/kiroku-sshd-$UID) and KIROKU_SSHD_PORT (default 2222) move it.
set -euo pipefail
dir="${KIROKU_SSHD_DIR:-/tmp/kiroku-sshd-$(id -u)}"
port="${KIROKU_SSHD_PORT:-2222}"
alias_name=kiroku-test-sshd

print_env() {
  echo "export KIROKU_TEST_SSH_HOST=$alias_name"
  echo "export KIROKU_TEST_SSH_CONFIG=$dir/ssh_config"
}

running() {
  [ -s "$dir/sshd.pid" ] && kill -0 "$(cat "$dir/sshd.pid")" 2>/dev/null
}

answers() {
  ssh -F "$dir/ssh_config" "$alias_name" true >/dev/null 2>&1
}

start() {
  local sshd=/usr/sbin/sshd
  [ -x "$sshd" ] || { echo "sshd.sh: $sshd is missing (apt-get install openssh-server)" >&2; exit 1; }
  if running && answers; then print_env; return; fi
  running && kill "$(cat "$dir/sshd.pid")" 2>/dev/null || true
  mkdir -p "$dir"
  chmod 700 "$dir"
  [ -f "$dir/host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$dir/host_ed25519_key"
  [ -f "$dir/client_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$dir/client_key"
  cp "$dir/client_key.pub" "$dir/authorized_keys"
  chmod 600 "$dir/authorized_keys"
  # Privilege separation wants this folder when sshd runs as root.
  [ "$(id -u)" != 0 ] || mkdir -p /run/sshd
  cat >"$dir/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $dir/host_ed25519_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
MaxStartups 100:30:200
MaxSessions 100
CONF
  "$sshd" -t -f "$dir/sshd_config"
  "$sshd" -f "$dir/sshd_config" -E "$dir/sshd.log"
  printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1,2 "$dir/host_ed25519_key.pub")" >"$dir/known_hosts"
  cat >"$dir/ssh_config" <<CONF
Host $alias_name
  HostName 127.0.0.1
  Port $port
  User $(id -un)
  IdentityFile $dir/client_key
  IdentitiesOnly yes
  UserKnownHostsFile $dir/known_hosts
  StrictHostKeyChecking yes
  BatchMode yes
CONF
  for _ in $(seq 100); do
    if answers; then print_env; return; fi
    sleep 0.1
  done
  echo "sshd.sh: sshd on 127.0.0.1:$port does not answer; its log:" >&2
  cat "$dir/sshd.log" >&2 || true
  exit 1
}

# One caller at a time (test binaries may start it together).
mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock 9

case "${1:-}" in
  start) start ;;
  stop) if running; then kill "$(cat "$dir/sshd.pid")"; fi ;;
  env) running || { echo "sshd.sh: not running" >&2; exit 1; }; print_env ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
