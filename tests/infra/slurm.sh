#!/usr/bin/env bash
# A real single-node Slurm (Debian 12's 22.05) with two fake GPUs, for the Slurm job tests
# (tests/jobs_slurm.rs). Run as root; no systemd, cgroups or slurmdbd needed. Adapted from
# ../shared/reference/slurm-single-node.sh (verified on this kind of machine).
#
#   tests/infra/slurm.sh start   install if missing, fresh state, start munged, slurmctld and
#                                slurmd, wait until the node is idle; prints `export SLURM_CONF=…`
#   tests/infra/slurm.sh stop    cancel its jobs, stop the daemons it started
#
# /etc/slurm/slurm.conf is linked to the generated one (when no other is there), so Slurm
# commands run through ssh on 127.0.0.1 (the login-node test) find the cluster too.
#
# The state folder is $KIROKU_SLURM_DIR (default /tmp/kiroku-slurm), wiped at each start so no
# job of an earlier run is recovered. Without slurmdbd there is no sacct; finished jobs stay in
# squeue/scontrol for MinJobAge=300 s and are written to $KIROKU_SLURM_DIR/log/jobcomp.txt.
set -euo pipefail
BASE=${KIROKU_SLURM_DIR:-/tmp/kiroku-slurm}
NODE=$(hostname -s)   # slurmd finds its NodeName by the short host name
DEFAULT_CONF=/etc/slurm/slurm.conf

stop_daemons() {
  local name pid
  # Cancel what still runs first: slurmstepd outlives its daemons and would keep the job going.
  if [ -f "$BASE/slurm.conf" ]; then
    export SLURM_CONF="$BASE/slurm.conf"
    if squeue -h -o %i 2>/dev/null | xargs -r scancel 2>/dev/null; then
      for _ in $(seq 1 100); do   # up to 10 s for them to end
        [ -z "$(squeue -h -t running,completing,suspended -o %i 2>/dev/null)" ] && break
        sleep 0.1
      done
    fi
  fi
  for name in slurmd slurmctld; do
    pid=$(cat "$BASE/run/$name.pid" 2>/dev/null || true)
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do   # up to 10 s for it to go
      { [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; } && break
      sleep 0.1
    done
  done
}

start() {
  export DEBIAN_FRONTEND=noninteractive
  if ! dpkg -s slurmctld slurmd slurm-client munge >/dev/null 2>&1; then
    apt-get update -qq
    # In containers policy-rc.d keeps the packages from starting daemons; this script starts them.
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
  fi
  stop_daemons
  rm -rf "$BASE"
  mkdir -p "$BASE"/{state,spool,log,run,dev}
  # Fake GPUs: gres/gpu needs File= (slurmd 22.05 drops file-less GPUs and drains the node).
  # Char devices with /dev/null's numbers are valid ones.
  for i in 0 1; do mknod "$BASE/dev/nvidia$i" c 1 3; done
  cat >"$BASE/slurm.conf" <<CONF
ClusterName=kiroku-ci
SlurmctldHost=${NODE}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$BASE/state
SlurmdSpoolDir=$BASE/spool
SlurmctldPidFile=$BASE/run/slurmctld.pid
SlurmdPidFile=$BASE/run/slurmd.pid
SlurmctldLogFile=$BASE/log/slurmctld.log
SlurmdLogFile=$BASE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$BASE/log/jobcomp.txt
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
MinJobAge=300
GresTypes=gpu
# 8 CPUs whatever the box has (config_overrides), so the tests' jobs do not queue behind each
# other for CPUs: only GPUs are scarce.
SlurmdParameters=config_overrides
NodeName=${NODE} NodeAddr=127.0.0.1 CPUs=8 RealMemory=1000 Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=${NODE} Default=YES MaxTime=INFINITE State=UP
CONF
  cat >"$BASE/gres.conf" <<CONF
NodeName=${NODE} Name=gpu File=$BASE/dev/nvidia[0-1]
CONF
  export SLURM_CONF="$BASE/slurm.conf"   # daemons and clients read slurm.conf and gres.conf here
  install -d -o munge -g munge -m 0755 /run/munge
  pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged
  /usr/sbin/slurmctld   # both daemonize; their pids land in $BASE/run
  /usr/sbin/slurmd
  local state=""
  for _ in $(seq 1 240); do   # up to 60 s
    state=$(sinfo -h -n "$NODE" -o %T 2>/dev/null || true)
    [ "$state" = idle ] && break
    sleep 0.25
  done
  if [ "$state" != idle ]; then
    echo "slurm: node $NODE is '${state:-unknown}', not idle, after 60 s; logs in $BASE/log:" >&2
    tail -n 20 "$BASE/log/slurmctld.log" "$BASE/log/slurmd.log" >&2 || true
    exit 1
  fi
  # Commands run through ssh (the login-node test) get no SLURM_CONF: the default path points
  # here too, unless it holds a slurm.conf that is not ours.
  if [ ! -e "$DEFAULT_CONF" ] || [ "$(readlink "$DEFAULT_CONF")" = "$SLURM_CONF" ]; then
    mkdir -p "$(dirname "$DEFAULT_CONF")"
    ln -sfn "$SLURM_CONF" "$DEFAULT_CONF"
  fi
  echo "slurm: $(sinfo -h -N -o '%N %T %G')" >&2
  echo "export SLURM_CONF=$SLURM_CONF"
}

case "${1:-}" in
  start) start ;;
  stop)
    stop_daemons
    if [ "$(readlink "$DEFAULT_CONF")" = "$BASE/slurm.conf" ]; then rm -f "$DEFAULT_CONF"; fi
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
