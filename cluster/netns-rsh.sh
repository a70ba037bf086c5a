#!/bin/sh
# rsh agent for Open MPI's `--mca plm_rsh_agent` between the `spark` and `dark` namespaces of
# cluster/netns.sh: takes ssh-style arguments (options, host, command words), drops the options
# and runs the command as `ip netns exec <host> sh -c '<command>'`, with hostname <host> when
# unshare is available. Only the project's namespaces (or their 10.77.0.x addresses) are accepted.
set -eu

# Skip ssh options; those that take a value consume the next word too.
while [ $# -gt 0 ]; do
    case $1 in
        -[bcDEeFIiJLlmOopQRSWw]) shift 2 ;;
        -*) shift ;;
        *) break ;;
    esac
done
[ $# -ge 1 ] || { echo "netns-rsh.sh: no host given" >&2; exit 2; }
host=${1#*@}  # user@host -> host
shift
case $host in
    spark|10.77.0.1) host=spark ;;
    dark|10.77.0.2) host=dark ;;
    *) echo "netns-rsh.sh: '$host' is not one of the tandem namespaces (spark, dark)" >&2; exit 2 ;;
esac
command="$*"
if command -v unshare >/dev/null 2>&1; then
    exec ip netns exec "$host" unshare --uts sh -c 'hostname "$0" && exec sh -c "$1"' "$host" "$command"
fi
exec ip netns exec "$host" sh -c "$command"
