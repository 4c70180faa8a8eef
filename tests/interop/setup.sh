#!/usr/bin/env bash
# Interop dependencies: the official RocketMQ clients and a real Apache RocketMQ 4.9.
#   - Maven: RocketMQ 4.9.7 jars (client, tools, acl, namesrv, broker) + dependencies into
#     tests/interop/java/lib/, our Java driver compiled into tests/interop/java/target/classes/
#   - Go:    rocketmq-client-go/v2 driver built to tests/interop/go/bin/gointerop
#   - C++:   checks that the `rocketmq` PyPI package (bundled librocketmq) loads
#   - Debian: faketime (libfaketime) for the calendar tests, chromium + chromium-driver for the console
#   - Python: the official RocketMQ 5 client (gRPC) in its own venv, tests/interop/py5/.venv
#   - Maven: the official Java 5 client (rocketmq-client-java 5.0.7, gRPC) + our driver for it
#     into tests/interop/java5/lib/ and java5/target/classes/ (apart from the 4.9 jars)
#   - Maven: the official Java 5 remoting client (rocketmq-client 5.3.3, POP mode) + our driver
#     for it into tests/interop/java5r/lib/ and java5r/target/classes/
#   - Maven: Apache RocketMQ 5.3.3 (namesrv, broker, proxy, controller, tools) + dependencies into
#     tests/interop/apache5/lib/: the oracle for the RocketMQ 5 features (tests/interop/apache5.py)
# Idempotent: a stamp over the inputs makes a second run take about a second.
# Called by `make interop-deps` (and so `make test`). FORCE=1 rebuilds everything.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
JAVA_DIR="$HERE/java"
JAVA5_DIR="$HERE/java5"
JAVA5R_DIR="$HERE/java5r"
APACHE5_DIR="$HERE/apache5"
GO_DIR="$HERE/go"
PY="${PY:-$ROOT/.venv/bin/python}"
[ -x "$PY" ] || PY="$(command -v python3)"

log() { echo "interop-setup: $*" >&2; }

apt_install() {
    # Install Debian packages only when asked for; `apt-get update` once per run.
    if ! command -v apt-get >/dev/null; then
        log "cannot install $* (no apt-get)"; return 1
    fi
    if [ -z "${_APT_UPDATED:-}" ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || true
        _APT_UPDATED=1
    fi
    log "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# ---- tools -------------------------------------------------------------------------------
command -v java >/dev/null && command -v javac >/dev/null || apt_install openjdk-17-jdk-headless
command -v mvn >/dev/null || apt_install maven
if ! command -v go >/dev/null; then
    for d in /usr/local/go/bin /usr/lib/go/bin; do [ -x "$d/go" ] && export PATH="$d:$PATH" && break; done
    command -v go >/dev/null || apt_install golang-go
fi

# libfaketime: the calendar tests start real processes at a chosen date and time.
compgen -G "/usr/lib/*/faketime/libfaketime.so.1" >/dev/null || apt_install faketime
# Debian's Chromium and its driver: the console is tested in a real headless browser.
{ [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; } || apt_install chromium chromium-driver
# etcd: the controller's highly available store (controllerStoreType=etcd) is tested on a real one.
command -v etcd >/dev/null || apt_install etcd-server

# The RocketMQ 5 Python client: its own venv (idempotent, checked on every run).
bash "$HERE/py5/setup.sh"

# ---- stamp -------------------------------------------------------------------------------
inputs_hash() {
    (
        cd "$HERE"
        cat setup.sh java/pom.xml java5/pom.xml java5r/pom.xml apache5/pom.xml go/go.mod go/go.sum go/main.go
        find java/src java5/src java5r/src -type f -name '*.java' | LC_ALL=C sort | xargs cat
        java -version 2>&1 | head -1
        go version
    ) | sha256sum | cut -d' ' -f1
}
STAMP="$JAVA_DIR/target/.interop-setup.stamp"
HASH="$(inputs_hash)"

outputs_ok() {
    compgen -G "$JAVA_DIR/lib/rocketmq-broker-*.jar" >/dev/null &&
        compgen -G "$JAVA_DIR/lib/rocketmq-tools-*.jar" >/dev/null &&
        [ -f "$JAVA_DIR/target/classes/pocketmq/interop/Driver.class" ] &&
        [ -f "$JAVA5_DIR/target/classes/pocketmq/interop5/Driver5.class" ] &&
        [ -f "$JAVA5R_DIR/target/classes/pocketmq/interop5r/Driver5r.class" ] &&
        compgen -G "$APACHE5_DIR/lib/rocketmq-controller-5.3.3.jar" >/dev/null &&
        [ -x "$GO_DIR/bin/gointerop" ]
}

check_cpp() {
    # The rocketmq wheel bundles librocketmq.so; it needs only libstdc++ from the system.
    if "$PY" -c 'import rocketmq.client' 2>/dev/null; then
        return 0
    fi
    log "python rocketmq (C++ client) does not load; trying system libraries"
    "$PY" -c 'import rocketmq.client' 2>&1 | tail -3 >&2 || true
    apt_install libstdc++6 zlib1g || true
    if ! "$PY" -c 'import rocketmq.client'; then
        log "WARNING: the C++ client (pip package rocketmq==0.4.4) cannot be loaded; C++ interop tests will fail"
        return 1
    fi
}

if [ "${FORCE:-0}" != 1 ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$HASH" ] && outputs_ok; then
    check_cpp || true
    exit 0
fi

start=$(date +%s)

# ---- Java: jars + driver -----------------------------------------------------------------
log "resolving Apache RocketMQ jars and compiling the Java driver (Maven)"
rm -rf "$JAVA_DIR/lib" "$JAVA_DIR/target"
# compile runs copy-dependencies (bound in pom.xml) into java/lib/.
# (sed drops the bare colour codes Debian's Maven prints even with -q -B; pipefail keeps mvn's status)
mvn -q -B -Dstyle.color=never -f "$JAVA_DIR/pom.xml" compile 2>&1 | sed -u 's/\x1b\[[0-9;]*m//g' | grep -v '^$' >&2 || [ "${PIPESTATUS[0]}" = 0 ]

log "resolving the Java 5 client (rocketmq-client-java) and compiling its driver (Maven)"
rm -rf "$JAVA5_DIR/lib" "$JAVA5_DIR/target"
mvn -q -B -Dstyle.color=never -f "$JAVA5_DIR/pom.xml" compile 2>&1 | sed -u 's/\x1b\[[0-9;]*m//g' | grep -v '^$' >&2 || [ "${PIPESTATUS[0]}" = 0 ]

log "resolving the Java 5 remoting client (rocketmq-client 5.3.3) and compiling its driver (Maven)"
rm -rf "$JAVA5R_DIR/lib" "$JAVA5R_DIR/target"
mvn -q -B -Dstyle.color=never -f "$JAVA5R_DIR/pom.xml" compile 2>&1 | sed -u 's/\x1b\[[0-9;]*m//g' | grep -v '^$' >&2 || [ "${PIPESTATUS[0]}" = 0 ]
log "resolving Apache RocketMQ 5.3.3 (namesrv, broker, proxy, controller, tools) for the 5.x oracle (Maven)"
rm -rf "$APACHE5_DIR/lib"
mvn -q -B -Dstyle.color=never -f "$APACHE5_DIR/pom.xml" package 2>&1 | sed -u 's/\x1b\[[0-9;]*m//g' | grep -v '^$' >&2 || [ "${PIPESTATUS[0]}" = 0 ]

# ---- Go: driver --------------------------------------------------------------------------
log "building the Go driver (rocketmq-client-go/v2)"
mkdir -p "$GO_DIR/bin"
(cd "$GO_DIR" && go build -o bin/gointerop .)

# ---- C++: load check ---------------------------------------------------------------------
check_cpp || true

outputs_ok || { log "setup finished but outputs are missing"; exit 1; }
mkdir -p "$(dirname "$STAMP")"
echo "$HASH" >"$STAMP"
log "done in $(( $(date +%s) - start ))s"
