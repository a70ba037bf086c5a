#!/bin/sh
# Two "hosts" on one machine: network namespaces `spark` and `dark` joined by a veth pair whose
# ends are both named tandem0 (10.77.0.1/24 in spark, 10.77.0.2/24 in dark), loopback up in each.
# `spark` and `dark` resolve inside the namespaces through /etc/netns/<ns>/hosts, which
# `ip netns exec` bind-mounts over /etc/hosts. Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN).
#
#   cluster/netns.sh up                  create (idempotent)
#   cluster/netns.sh down                remove everything `up` created (idempotent)
#   cluster/netns.sh status              namespaces, addresses, reachability
#   cluster/netns.sh exec HOST CMD...    run CMD in HOST's namespace with hostname HOST
#   cluster/netns.sh mpirun ARGS...      mpirun inside spark over both namespaces (see README.md;
#                                        TANDEM_MPI_YIELD_WHEN_IDLE=0 turns off yielding)
#   cluster/netns.sh hostfile            print the path of the generated Open MPI hostfile
set -eu

SPARK_ADDRESS=${TANDEM_SPARK_ADDRESS:-10.77.0.1}
DARK_ADDRESS=${TANDEM_DARK_ADDRESS:-10.77.0.2}
PREFIX_LENGTH=24
INTERFACE=tandem0
STATE_DIR=${TANDEM_NETNS_STATE:-/run/tandem-netns}
HOSTFILE=$STATE_DIR/hostfile
MARKER="# written by tandem cluster/netns.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

die() { echo "netns.sh: $*" >&2; exit 1; }
has_namespace() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$1"; }
address_of() { case $1 in spark) echo "$SPARK_ADDRESS" ;; dark) echo "$DARK_ADDRESS" ;; *) die "unknown host '$1' (spark or dark)" ;; esac; }

write_hosts() {
    mkdir -p "/etc/netns/$1"
    if [ -e "/etc/netns/$1/hosts" ] && ! grep -qF "$MARKER" "/etc/netns/$1/hosts"; then
        die "/etc/netns/$1/hosts exists and was not written by this script; not touching it"
    fi
    printf '%s\n127.0.0.1 localhost\n%s spark\n%s dark\n' "$MARKER" "$SPARK_ADDRESS" "$DARK_ADDRESS" \
        > "/etc/netns/$1/hosts"
}

up() {
    [ "$(id -u)" = 0 ] || die "must run as root"
    for ns in spark dark; do
        has_namespace "$ns" || ip netns add "$ns"
        ip -n "$ns" link set lo up
    done
    if ! ip -n spark link show "$INTERFACE" >/dev/null 2>&1 || ! ip -n dark link show "$INTERFACE" >/dev/null 2>&1; then
        # A half-made pair from an interrupted run: start the link over.
        ip -n spark link del "$INTERFACE" 2>/dev/null || true
        ip -n dark link del "$INTERFACE" 2>/dev/null || true
        ip link del tnd-spark 2>/dev/null || true
        ip link add tnd-spark type veth peer name tnd-dark
        ip link set tnd-spark netns spark
        ip link set tnd-dark netns dark
        ip -n spark link set tnd-spark name "$INTERFACE"
        ip -n dark link set tnd-dark name "$INTERFACE"
    fi
    for ns in spark dark; do
        ip -n "$ns" addr replace "$(address_of "$ns")/$PREFIX_LENGTH" dev "$INTERFACE"
        ip -n "$ns" link set "$INTERFACE" up
        write_hosts "$ns"
    done
    mkdir -p "$STATE_DIR"
    printf 'spark slots=1\ndark slots=1\n' > "$HOSTFILE"
    echo "up: spark $SPARK_ADDRESS and dark $DARK_ADDRESS on $INTERFACE; hostfile $HOSTFILE"
}

down() {
    for ns in spark dark; do
        if has_namespace "$ns"; then ip netns del "$ns"; fi  # takes its end of the veth pair along
        if [ -f "/etc/netns/$ns/hosts" ] && grep -qF "$MARKER" "/etc/netns/$ns/hosts"; then
            rm -f "/etc/netns/$ns/hosts"
            rmdir "/etc/netns/$ns" 2>/dev/null || true
        fi
    done
    rmdir /etc/netns 2>/dev/null || true
    ip link del tnd-spark 2>/dev/null || true
    rm -f "$HOSTFILE"
    rmdir "$STATE_DIR" 2>/dev/null || true
    echo "down: namespaces spark and dark removed"
}

status() {
    for ns in spark dark; do
        if has_namespace "$ns"; then
            echo "$ns: $(ip -n "$ns" -brief addr show "$INTERFACE" 2>/dev/null || echo "no $INTERFACE")"
        else
            echo "$ns: absent"
        fi
    done
    if has_namespace spark && has_namespace dark; then
        echo "route spark -> dark: $(ip netns exec spark ip -brief route get "$DARK_ADDRESS" 2>&1 | head -n 1)"
    fi
    [ -f "$HOSTFILE" ] && echo "hostfile: $HOSTFILE"
    return 0
}

# Runs in HOST's network namespace (and its /etc/netns hosts file); with unshare available, also
# in a private UTS namespace whose hostname is HOST, so each "machine" knows its own name.
run_in() {
    host=$1; shift
    address_of "$host" >/dev/null
    has_namespace "$host" || die "namespace $host is absent: run '$0 up' first"
    if command -v unshare >/dev/null 2>&1; then
        exec ip netns exec "$host" unshare --uts sh -c 'hostname "$0" && exec "$@"' "$host" "$@"
    fi
    exec ip netns exec "$host" "$@"
}

mpirun_across() {
    [ -f "$HOSTFILE" ] || die "no hostfile: run '$0 up' first"
    run_in spark mpirun --allow-run-as-root --hostfile "$HOSTFILE" \
        --map-by node --bind-to none \
        --mca plm_rsh_agent "$HERE/netns-rsh.sh" --mca plm_rsh_no_tree_spawn 1 \
        --mca btl tcp,self --mca btl_tcp_if_include "$INTERFACE" --mca oob_tcp_if_include "$INTERFACE" \
        --mca mpi_yield_when_idle "${TANDEM_MPI_YIELD_WHEN_IDLE:-1}" "$@"
}

command=${1:-}
[ $# -gt 0 ] && shift
case $command in
    up) up ;;
    down) down ;;
    status) status ;;
    exec) [ $# -ge 2 ] || die "usage: $0 exec HOST CMD..."; run_in "$@" ;;
    mpirun) mpirun_across "$@" ;;
    hostfile) echo "$HOSTFILE" ;;
    *) echo "usage: $0 up|down|status|exec HOST CMD...|mpirun ARGS...|hostfile" >&2; exit 2 ;;
esac
