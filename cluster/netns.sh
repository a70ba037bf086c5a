#!/bin/sh
# Two "hosts" on one machine, built from a topology file's two nodes (default
# topology/two-node.yaml: `spark` 10.77.0.1 and `dark` 10.77.0.2 on tandem0): one network
# namespace per node, named after it, joined by a veth pair whose ends carry the node's data-plane
# interface name and address (/24), loopback up in each. Node names and hosts resolve inside the
# namespaces through /etc/netns/<ns>/hosts, which `ip netns exec` bind-mounts over /etc/hosts.
# Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN).
#
#   cluster/netns.sh up [TOPOLOGY]       create (idempotent) from the topology's nodes
#   cluster/netns.sh down                remove everything `up` created (idempotent)
#   cluster/netns.sh status              namespaces, addresses, reachability
#   cluster/netns.sh nodes               the nodes `up` used: name host address interface
#   cluster/netns.sh exec NODE CMD...    run CMD in NODE's namespace with hostname NODE
#   cluster/netns.sh mpirun ARGS...      mpirun inside the first node over both namespaces (see
#                                        README.md; TANDEM_MPI_YIELD_WHEN_IDLE=0 turns off yielding)
#   cluster/netns.sh hostfile            print the path of the generated Open MPI hostfile
#
# `tandem up TOPOLOGY --rsh-agent cluster/netns-rsh.sh` run inside the first node's namespace
# starts the whole topology across both "hosts" (e2e/test_netns_tp.py does).
# The nodes are read with `tandem topology nodes` (TANDEM_BIN, else the newest of
# .build/release/tandem and .build/debug/tandem, else `tandem` on PATH).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PREFIX_LENGTH=24
STATE_DIR=${TANDEM_NETNS_STATE:-/run/tandem-netns}
HOSTFILE=$STATE_DIR/hostfile
NODES_FILE=$STATE_DIR/nodes
MARKER="# written by tandem cluster/netns.sh"

die() { echo "netns.sh: $*" >&2; exit 1; }
has_namespace() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$1"; }

tandem_bin() {
    if [ -n "${TANDEM_BIN:-}" ]; then echo "$TANDEM_BIN"; return; fi
    release=$ROOT/.build/release/tandem debug=$ROOT/.build/debug/tandem
    if [ -x "$release" ] && { [ ! -x "$debug" ] || [ "$release" -nt "$debug" ]; }; then echo "$release"; return; fi
    if [ -x "$debug" ]; then echo "$debug"; return; fi
    command -v tandem >/dev/null 2>&1 && { command -v tandem; return; }
    die "no tandem binary (build it with 'swift build', or set TANDEM_BIN)"
}

# The nodes of the last `up` (name host address interface per line).
nodes() { [ -f "$NODES_FILE" ] || die "no namespaces made: run '$0 up [TOPOLOGY]' first"; cat "$NODES_FILE"; }
node_field() { nodes | awk -v n="$1" -v f="$2" '$1 == n { print $f; found = 1 } END { exit !found }'; }
node_names() { nodes | awk '{print $1}'; }
first_node() { node_names | head -n 1; }
interface_of() { i=$(node_field "$1" 4) || die "unknown node '$1' (nodes: $(node_names | tr '\n' ' '))"; [ "$i" = - ] && i=tandem0; echo "$i"; }
address_of() { node_field "$1" 3 || die "unknown node '$1' (nodes: $(node_names | tr '\n' ' '))"; }
is_ipv4() { echo "$1" | grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$'; }

# Reads TOPOLOGY's nodes into the state folder; exactly two, each with an IPv4 data-plane address,
# both in one /24 (the veth pair is one link).
read_topology() {
    topology=$1
    [ -f "$topology" ] || die "topology file '$topology' does not exist"
    lines=$("$(tandem_bin)" topology nodes "$topology") || die "'$topology' is not a valid topology (see the errors above)"
    count=$(printf '%s\n' "$lines" | grep -c .)
    [ "$count" = 2 ] || die "$topology has $count nodes; the namespace simulation joins exactly two with one veth pair"
    printf '%s\n' "$lines" | while read -r name host address interface; do
        is_ipv4 "$address" || die "$topology: node '$name' has data-plane address '$address'; the simulation needs an IPv4 address (nodes[].address)"
        [ ${#name} -le 15 ] || die "$topology: node name '$name' is longer than 15 characters (a network namespace name here)"
    done
    subnets=$(printf '%s\n' "$lines" | awk '{split($3, a, "."); print a[1] "." a[2] "." a[3]}' | sort -u | wc -l)
    [ "$subnets" = 1 ] || die "$topology: the two data-plane addresses are not in one /24; the simulation joins them on one link"
    mkdir -p "$STATE_DIR"
    printf '%s\n' "$lines" > "$NODES_FILE"
}

write_hosts() {
    mkdir -p "/etc/netns/$1"
    if [ -e "/etc/netns/$1/hosts" ] && ! grep -qF "$MARKER" "/etc/netns/$1/hosts"; then
        die "/etc/netns/$1/hosts exists and was not written by this script; not touching it"
    fi
    {
        printf '%s\n127.0.0.1 localhost\n' "$MARKER"
        nodes | while read -r name host address interface; do
            if is_ipv4 "$host" || [ "$host" = "$name" ]; then echo "$address $name"; else echo "$address $name $host"; fi
        done
    } > "/etc/netns/$1/hosts"
}

up() {
    [ "$(id -u)" = 0 ] || die "must run as root"
    read_topology "${1:-${TANDEM_TOPOLOGY:-$ROOT/topology/two-node.yaml}}"
    a=$(first_node) b=$(node_names | sed -n 2p)
    ia=$(interface_of "$a") ib=$(interface_of "$b")
    for ns in "$a" "$b"; do
        has_namespace "$ns" || ip netns add "$ns"
        ip -n "$ns" link set lo up
    done
    if ! ip -n "$a" link show "$ia" >/dev/null 2>&1 || ! ip -n "$b" link show "$ib" >/dev/null 2>&1; then
        # A half-made pair from an interrupted run: start the link over.
        ip -n "$a" link del "$ia" 2>/dev/null || true
        ip -n "$b" link del "$ib" 2>/dev/null || true
        ip link del tnd-veth0 2>/dev/null || true
        ip link add tnd-veth0 type veth peer name tnd-veth1
        ip link set tnd-veth0 netns "$a"
        ip link set tnd-veth1 netns "$b"
        ip -n "$a" link set tnd-veth0 name "$ia"
        ip -n "$b" link set tnd-veth1 name "$ib"
    fi
    for ns in "$a" "$b"; do
        i=$(interface_of "$ns")
        ip -n "$ns" addr replace "$(address_of "$ns")/$PREFIX_LENGTH" dev "$i"
        ip -n "$ns" link set "$i" up
        write_hosts "$ns"
    done
    node_names | sed 's/$/ slots=1/' > "$HOSTFILE"
    echo "up: $a $(address_of "$a") on $ia, $b $(address_of "$b") on $ib; hostfile $HOSTFILE"
}

down() {
    names=$( [ -f "$NODES_FILE" ] && node_names || echo "spark dark")
    for ns in $names; do
        if has_namespace "$ns"; then ip netns del "$ns"; fi  # takes its end of the veth pair along
        if [ -f "/etc/netns/$ns/hosts" ] && grep -qF "$MARKER" "/etc/netns/$ns/hosts"; then
            rm -f "/etc/netns/$ns/hosts"
            rmdir "/etc/netns/$ns" 2>/dev/null || true
        fi
    done
    rmdir /etc/netns 2>/dev/null || true
    ip link del tnd-veth0 2>/dev/null || true
    rm -f "$HOSTFILE" "$NODES_FILE"
    rmdir "$STATE_DIR" 2>/dev/null || true
    echo "down: namespaces $(echo $names) removed"
}

status() {
    [ -f "$NODES_FILE" ] || { echo "no namespaces made (run '$0 up [TOPOLOGY]')"; return 0; }
    for ns in $(node_names); do
        if has_namespace "$ns"; then
            echo "$ns: $(ip -n "$ns" -brief addr show "$(interface_of "$ns")" 2>/dev/null || echo "no $(interface_of "$ns")")"
        else
            echo "$ns: absent"
        fi
    done
    a=$(first_node) b=$(node_names | sed -n 2p)
    if has_namespace "$a" && has_namespace "$b"; then
        echo "route $a -> $b: $(ip netns exec "$a" ip -brief route get "$(address_of "$b")" 2>&1 | head -n 1)"
    fi
    [ -f "$HOSTFILE" ] && echo "hostfile: $HOSTFILE"
    return 0
}

# Runs in NODE's network namespace (and its /etc/netns hosts file); with unshare available, also
# in a private UTS namespace whose hostname is NODE's host (its name when the host is an address),
# so each "machine" knows its own name as mpirun and `tandem up` see it.
run_in() {
    node=$1; shift
    address_of "$node" >/dev/null
    has_namespace "$node" || die "namespace $node is absent: run '$0 up' first"
    name=$(node_field "$node" 2)
    is_ipv4 "$name" && name=$node
    if command -v unshare >/dev/null 2>&1; then
        exec ip netns exec "$node" unshare --uts sh -c 'hostname "$0" && exec "$@"' "$name" "$@"
    fi
    exec ip netns exec "$node" "$@"
}

mpirun_across() {
    [ -f "$HOSTFILE" ] || die "no hostfile: run '$0 up' first"
    INTERFACE=$(interface_of "$(first_node)")
    run_in "$(first_node)" mpirun --allow-run-as-root --hostfile "$HOSTFILE" \
        --map-by node --bind-to none \
        --mca plm_rsh_agent "$HERE/netns-rsh.sh" --mca plm_rsh_no_tree_spawn 1 \
        --mca btl tcp,self --mca btl_tcp_if_include "$INTERFACE" --mca oob_tcp_if_include "$INTERFACE" \
        --mca mpi_yield_when_idle "${TANDEM_MPI_YIELD_WHEN_IDLE:-1}" "$@"
}

command=${1:-}
[ $# -gt 0 ] && shift
case $command in
    up) up "$@" ;;
    down) down ;;
    status) status ;;
    exec) [ $# -ge 2 ] || die "usage: $0 exec NODE CMD..."; run_in "$@" ;;
    mpirun) mpirun_across "$@" ;;
    hostfile) echo "$HOSTFILE" ;;
    nodes) nodes ;;
    *) echo "usage: $0 up [TOPOLOGY]|down|status|nodes|exec NODE CMD...|mpirun ARGS...|hostfile" >&2; exit 2 ;;
esac
