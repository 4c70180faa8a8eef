#!/usr/bin/env bash
# Run a local PocketMQ cluster as the seed's deployment guide does: two name servers and a broker
# preset (default 2m-2s-sync: broker-a, broker-a-s, broker-b, broker-b-s), all on this machine,
# every store and log under one folder, plus the built-in web console on CONSOLE_PORT (8082).
# PRESET=controller (RocketMQ 5 controller mode) starts its controller first (CONTROLLER_STORE=etcd:
# an etcd and two controllers on it).
#   scripts/cluster.sh [run]   [--preset NAME] [--dir DIR]   start, show clusterList, stop on Ctrl-C
#   scripts/cluster.sh start   [--preset NAME] [--dir DIR]   start in the background and return
#   scripts/cluster.sh stop    [--dir DIR]                   stop what `start` started (SIGTERM)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ACTION="run"
case "${1:-}" in run|start|stop) ACTION="$1"; shift ;; esac
PRESET="${PRESET:-2m-2s-sync}"
DIR="${CLUSTER_DIR:-$HOME/pocketmq-cluster}"
while [ $# -gt 0 ]; do
    case "$1" in
        --preset) PRESET="$2"; shift 2 ;;
        --dir) DIR="$2"; shift 2 ;;
        *) echo "usage: scripts/cluster.sh [run|start|stop] [--preset NAME] [--dir DIR]" >&2; exit 2 ;;
    esac
done
NAMESRV_PORTS=(9876 9877)
CONSOLE_PORT="${CONSOLE_PORT:-8082}"   # the built-in web console (mqconsole); 0 leaves it off
NAMESRV_ADDR="127.0.0.1:${NAMESRV_PORTS[0]};127.0.0.1:${NAMESRV_PORTS[1]}"
PIDS="$DIR/pids"

wait_for_line() {  # file, text, seconds
    local file="$1" text="$2" deadline=$((SECONDS + $3))
    until grep -q "$text" "$file" 2>/dev/null; do
        if [ $SECONDS -ge $deadline ]; then
            echo "timed out waiting for '$text' in $file:" >&2
            tail -20 "$file" >&2
            return 1
        fi
        sleep 0.2
    done
}

start_controllers() {
    # A controller-mode preset (conf/controller): its controller before the brokers. By default one
    # controller with its fsynced file store (controller-standalone.conf, 9878); with
    # CONTROLLER_STORE=etcd an etcd on 127.0.0.1:2379 and two controllers sharing it (9878, 9879).
    [ -f "$ROOT/conf/$PRESET/controller-standalone.conf" ] || return 0
    local confs=(controller-standalone)
    if [ "${CONTROLLER_STORE:-file}" = etcd ]; then
        command -v etcd >/dev/null || { echo "CONTROLLER_STORE=etcd needs etcd (Debian: etcd-server)" >&2; exit 2; }
        echo "starting etcd on 127.0.0.1:2379"
        nohup etcd --name e0 --data-dir "$DIR/etcd" --listen-client-urls http://127.0.0.1:2379 \
            --advertise-client-urls http://127.0.0.1:2379 --listen-peer-urls http://127.0.0.1:2380 \
            --initial-advertise-peer-urls http://127.0.0.1:2380 --initial-cluster e0=http://127.0.0.1:2380 \
            > "$DIR/etcd.out" 2>&1 &
        echo $! >> "$PIDS"
        wait_for_line "$DIR/etcd.out" "ready to serve client requests" 60
        confs=(controller-etcd-n0 controller-etcd-n1)
    fi
    for name in "${confs[@]}"; do
        echo "starting bash mqcontroller -c ../conf/$PRESET/$name.conf"
        HOME="$DIR/$name" nohup bash mqcontroller -c "../conf/$PRESET/$name.conf" > "$DIR/$name.out" 2>&1 &
        echo $! >> "$PIDS"
        wait_for_line "$DIR/$name.out" "boot success" 120
    done
}

start() {
    [ -d "$ROOT/conf/$PRESET" ] || { echo "no preset conf/$PRESET" >&2; exit 2; }
    mkdir -p "$DIR"
    : > "$PIDS"
    cd "$ROOT/bin"
    for port in "${NAMESRV_PORTS[@]}"; do
        echo "starting mqnamesrv on 127.0.0.1:$port"
        HOME="$DIR/namesrv-$port" nohup bash mqnamesrv "--listenPort=$port" > "$DIR/namesrv-$port.out" 2>&1 &
        echo $! >> "$PIDS"
        wait_for_line "$DIR/namesrv-$port.out" "boot success" 120
    done
    start_controllers
    # Masters first, so each slave finds its master at its first registration.
    for conf in $(ls "$ROOT/conf/$PRESET"/*.properties | grep -v -- '-s\.properties$') \
                $(ls "$ROOT/conf/$PRESET"/*.properties | grep -- '-s\.properties$'); do
        name="$(basename "$conf" .properties)"
        echo "starting bash mqbroker -c ../conf/$PRESET/$name.properties -n \"$NAMESRV_ADDR\""
        HOME="$DIR/$name" nohup bash mqbroker -c "../conf/$PRESET/$name.properties" -n "$NAMESRV_ADDR" \
            "--storePathRootDir=$DIR/store/$name" > "$DIR/$name.out" 2>&1 &
        echo $! >> "$PIDS"
        wait_for_line "$DIR/$name.out" "boot success" 120
    done
    if [ "$CONSOLE_PORT" != 0 ]; then
        echo "starting mqconsole on port $CONSOLE_PORT"
        HOME="$DIR/console" nohup bash mqconsole -n "$NAMESRV_ADDR" "--consolePort=$CONSOLE_PORT" \
            > "$DIR/console.out" 2>&1 &
        echo $! >> "$PIDS"
        wait_for_line "$DIR/console.out" "boot success" 120
    fi
    echo
    echo "PocketMQ cluster up: name servers $NAMESRV_ADDR, preset $PRESET, data and logs under $DIR"
    [ "$CONSOLE_PORT" = 0 ] || echo "Web console: http://127.0.0.1:$CONSOLE_PORT/"
}

show() {
    # Slaves learn their master at their first registration; give clusterList a moment to see all.
    sleep 2
    NAMESRV_ADDR="$NAMESRV_ADDR" bash "$ROOT/bin/mqadmin" clusterList || true
}

stop() {
    [ -f "$PIDS" ] || { echo "no cluster started from $DIR"; return 0; }
    # Brokers first (they unregister from the name servers), then the name servers.
    tac "$PIDS" | while read -r pid; do
        if kill "$pid" 2>/dev/null; then
            for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        fi
    done
    rm -f "$PIDS"
    echo "PocketMQ cluster stopped"
}

case "$ACTION" in
    start) start ;;
    stop) stop ;;
    run)
        trap 'echo; stop; exit 0' INT TERM
        start
        show
        echo "Press Ctrl-C to stop the cluster."
        while true; do sleep 1; done
        ;;
esac
