#!/usr/bin/env bash
# Run a local PocketMQ cluster as the seed's deployment guide does: two name servers and the
# 2m-2s-sync preset (broker-a, broker-a-s, broker-b, broker-b-s), all on this machine.
#   scripts/cluster.sh start [DIR]   start everything in the background, logs under DIR
#   scripts/cluster.sh stop  [DIR]   stop what `start` started (SIGTERM, clean shutdown)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ACTION="${1:-start}"
DIR="${2:-$HOME/pocketmq-cluster}"
PRESET="${PRESET:-2m-2s-sync}"
NAMESRV_PORTS=(9876 9877)
NAMESRV_ADDR="127.0.0.1:${NAMESRV_PORTS[0]};127.0.0.1:${NAMESRV_PORTS[1]}"

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

start() {
    mkdir -p "$DIR"
    cd "$ROOT/bin"
    for port in "${NAMESRV_PORTS[@]}"; do
        echo "starting mqnamesrv on 127.0.0.1:$port"
        nohup bash mqnamesrv "--listenPort=$port" "--kvConfigPath=$DIR/namesrv-$port/kvConfig.json" \
            "--configStorePath=$DIR/namesrv-$port/namesrv.properties" > "$DIR/namesrv-$port.out" 2>&1 &
        echo $! >> "$DIR/pids"
        wait_for_line "$DIR/namesrv-$port.out" "boot success" 120
    done
    for conf in "$ROOT/conf/$PRESET"/*.properties; do
        name="$(basename "$conf" .properties)"
        echo "starting mqbroker -c ../conf/$PRESET/$name.properties"
        nohup bash mqbroker -c "../conf/$PRESET/$name.properties" -n "$NAMESRV_ADDR" > "$DIR/$name.out" 2>&1 &
        echo $! >> "$DIR/pids"
        wait_for_line "$DIR/$name.out" "boot success" 120
    done
    echo
    echo "PocketMQ cluster running: name servers $NAMESRV_ADDR, preset $PRESET; logs in $DIR"
    echo "Try: NAMESRV_ADDR='$NAMESRV_ADDR' bash bin/mqadmin clusterList    Stop: make cluster-stop"
}

stop() {
    if [ ! -f "$DIR/pids" ]; then
        echo "no cluster started from $DIR"
        return 0
    fi
    # Brokers first (they unregister from the name servers), then the name servers.
    tac "$DIR/pids" | while read -r pid; do
        kill "$pid" 2>/dev/null && echo "stopping pid $pid" || true
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    done
    rm -f "$DIR/pids"
}

case "$ACTION" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: scripts/cluster.sh start|stop [DIR]" >&2; exit 2 ;;
esac
