#!/bin/sh
# rsh agent for Open MPI's `--mca plm_rsh_agent` between the namespaces of cluster/netns.sh:
# takes ssh-style arguments (options, host, command words), drops the options and runs the command
# as `ip netns exec <node> sh -c '<command>'`, with the node's host name when unshare is available.
# Only the nodes of the last `cluster/netns.sh up` are accepted, by name, host or address.
set -eu

NODES_FILE=${TANDEM_NETNS_STATE:-/run/tandem-netns}/nodes

# Skip ssh options; those that take a value consume the next word too.
while [ $# -gt 0 ]; do
    case $1 in
        -[bcDEeFIiJLlmOopQRSWw]) shift 2 ;;
        -*) shift ;;
        *) break ;;
    esac
done
[ $# -ge 1 ] || { echo "netns-rsh.sh: no host given" >&2; exit 2; }
[ -f "$NODES_FILE" ] || { echo "netns-rsh.sh: no namespaces ($NODES_FILE missing): run cluster/netns.sh up first" >&2; exit 2; }
target=${1#*@}  # user@host -> host
shift
# name host address interface
line=$(awk -v t="$target" '$1 == t || $2 == t || $3 == t { print; exit }' "$NODES_FILE")
[ -n "$line" ] || { echo "netns-rsh.sh: '$target' is not one of the namespace nodes ($(awk '{print $1}' "$NODES_FILE" | tr '\n' ' '))" >&2; exit 2; }
node=$(echo "$line" | awk '{print $1}')
name=$(echo "$line" | awk '{print $2}')
echo "$name" | grep -Eq '^[0-9.]+$' && name=$node
command="$*"
if command -v unshare >/dev/null 2>&1; then
    exec ip netns exec "$node" unshare --uts sh -c 'hostname "$0" && exec sh -c "$1"' "$name" "$command"
fi
exec ip netns exec "$node" sh -c "$command"
