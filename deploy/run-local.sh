#!/usr/bin/env bash
# Two quantviz replicas behind a load balancer, sharing one PostgreSQL, all on this machine.
#
#   deploy/run-local.sh            # then open the printed URL; Ctrl-C stops everything
#
# Environment (all optional):
#   QUANTVIZ_LB=haproxy|nginx          load balancer (default haproxy: cookie stickiness)
#   QUANTVIZ_LB_PORT=8080              where browsers connect (a free port if 0)
#   QUANTVIZ_CLASS_CODE=QV-DEMO        the class code students type
#   QUANTVIZ_PASSCODE_HASH=scrypt$...  the instructor passcode hash, or
#   QUANTVIZ_INSTRUCTOR_PASSCODE=...   a passcode to hash now (default: demo-passcode)
#   PYTHON=.venv/bin/python            the Python that has quantviz installed (make run)
#
# It starts, in a temp dir: a PostgreSQL cluster on a free port (initdb/pg_ctl from
# /usr/lib/postgresql/*/bin; as root it runs as the `postgres` user, since PostgreSQL refuses
# root), a secrets file naming that database in [connections.board], two `streamlit run app.py`
# on free ports, and HAProxy (or nginx) on the LB port. When all answer it prints one line
#   READY http://127.0.0.1:<lb> r1=<port> r2=<port>
# and waits. SIGINT/SIGTERM stop every process it started and delete the temp dir.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
LB="${QUANTVIZ_LB:-haproxy}"
CLASS_CODE="${QUANTVIZ_CLASS_CODE:-QV-DEMO}"
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
[ -x "$PG_BIN/initdb" ] || { echo "PostgreSQL not found: apt-get install postgresql" >&2; exit 1; }
command -v "$LB" >/dev/null || { echo "$LB not found: apt-get install $LB" >&2; exit 1; }
[ -x "$PYTHON" ] || { echo "$PYTHON not found: run 'make .venv/.installed-app' first" >&2; exit 1; }

free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

WORK="$(mktemp -d /tmp/quantviz-deploy.XXXXXX)"
PIDS=()
cleanup() {
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ -f "$WORK/pg/PG_VERSION" ]; then as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg" -m fast -w stop >/dev/null 2>&1 || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

LB_PORT="${QUANTVIZ_LB_PORT:-8080}"
[ "$LB_PORT" = 0 ] && LB_PORT="$(free_port)"
PG_PORT="$(free_port)"
R1_PORT="$(free_port)"
R2_PORT="$(free_port)"

# 1. PostgreSQL, owned by a non-root user.
[ "$(id -u)" = 0 ] && chown postgres "$WORK"
as_pg "$PG_BIN/initdb" -D "$WORK/pg" -A trust -U postgres -E UTF8 >"$WORK/initdb.log" 2>&1
as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg.log" -w -t 60 \
    -o "-p $PG_PORT -k $WORK -c listen_addresses=127.0.0.1" start >/dev/null
"$PYTHON" - "$PG_PORT" <<'PY'
import sys, sqlalchemy as sa
engine = sa.create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{sys.argv[1]}/postgres",
                          isolation_level="AUTOCOMMIT")
with engine.connect() as conn:
    conn.exec_driver_sql("CREATE DATABASE quantviz")
PY

# 2. The replicas' secrets: the class and the shared database.
if [ -n "${QUANTVIZ_PASSCODE_HASH:-}" ]; then
    HASH="$QUANTVIZ_PASSCODE_HASH"
else
    HASH="$(printf '%s\n' "${QUANTVIZ_INSTRUCTOR_PASSCODE:-demo-passcode}" \
        | "$PYTHON" -m quantviz hash-passcode --bare)"
fi
cat >"$WORK/secrets.toml" <<TOML
[board]
class_code = "$CLASS_CODE"
instructor_passcode_hash = "$HASH"

[connections.board]
url = "postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/quantviz"
TOML

# 3. Two replicas of the same app.
for port in "$R1_PORT" "$R2_PORT"; do
    "$PYTHON" -m streamlit run app.py --server.port "$port" --server.address 127.0.0.1 \
        --server.headless true --browser.gatherUsageStats false \
        --secrets.files "$WORK/secrets.toml" >"$WORK/replica-$port.log" 2>&1 &
    PIDS+=("$!")
done

# 4. The load balancer.
sed -e "s|@LB_PORT@|$LB_PORT|g" -e "s|@REPLICA1_PORT@|$R1_PORT|g" \
    -e "s|@REPLICA2_PORT@|$R2_PORT|g" -e "s|@WORKDIR@|$WORK|g" \
    "deploy/$LB.$([ "$LB" = haproxy ] && echo cfg || echo conf).in" >"$WORK/$LB.conf"
if [ "$LB" = haproxy ]; then
    haproxy -db -f "$WORK/$LB.conf" >"$WORK/lb.log" 2>&1 &
else
    mkdir -p "$WORK/nginx-body" "$WORK/nginx-proxy"
    nginx -p "$WORK" -c "$WORK/$LB.conf" -g 'daemon off;' >"$WORK/lb.log" 2>&1 &
fi
PIDS+=("$!")

# 5. Ready when both replicas and the balancer answer /_stcore/health, and HAProxy routes to
#    each replica: it marks a server up only after two passing checks (2 s apart), and until then
#    answers a browser pinned to it from the other replica and re-pins it there by cookie.
show_logs() { for f in "$WORK"/*.log; do echo "== $f" >&2; tail -n 20 "$f" >&2; done; }
QV_PIDS="${PIDS[*]}" QV_LB="$LB" "$PYTHON" - "$R1_PORT" "$R2_PORT" "$LB_PORT" <<'PY' || { show_logs; exit 1; }
import os, sys, time, urllib.request
deadline = time.monotonic() + 90

def wait_for(request, ready, failure):
    """Poll until ready(answer); stop early if a started process exited, or at the deadline."""
    while True:
        dead = [p for p in os.environ["QV_PIDS"].split() if not os.path.exists(f"/proc/{p}")]
        if dead:
            sys.exit(f"process {dead[0]} exited early")
        try:
            with urllib.request.urlopen(request, timeout=2) as r:
                if ready(r):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            sys.exit(failure)
        time.sleep(0.2)

for port in sys.argv[1:]:
    wait_for(f"http://127.0.0.1:{port}/_stcore/health", lambda r: r.read().strip() == b"ok",
             f"port {port} did not become healthy")
if os.environ["QV_LB"] == "haproxy":
    for replica in ("r1", "r2"):
        request = urllib.request.Request(f"http://127.0.0.1:{sys.argv[3]}/_stcore/health",
                                         headers={"Cookie": f"QVREPLICA={replica}"})
        wait_for(request, lambda r: r.headers.get("X-Quantviz-Replica") == replica,
                 f"HAProxy does not route to {replica}")
PY
echo "READY http://127.0.0.1:$LB_PORT r1=$R1_PORT r2=$R2_PORT"
wait
