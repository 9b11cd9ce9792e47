#!/usr/bin/env bash
# The seed document's data-creation walkthrough against the bundled demo app: start
# `mite demo-app`, create users (recorded to recorder-data/users.msgpack), then sign them in
# for DURATION seconds. Needs the `mite` command on PATH (`make walkthrough` sets that up).
set -euo pipefail
cd "$(dirname "$0")"
PORT=${PORT:-8000}
DURATION=${DURATION:-10}
URL="http://127.0.0.1:$PORT"

mite demo-app --port "$PORT" &
APP=$!
trap 'kill "$APP" 2>/dev/null || true' EXIT
python3 - "$PORT" <<'PY'
import socket, sys, time
deadline = time.time() + 10
while time.time() < deadline:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.2).close()
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("the demo app did not start")
PY

echo "== creating users"
mite scenario test create_users:scenario --add-to-config=app_url:"$URL"
echo "== signing them in for $DURATION s"
mite scenario test my_file:walkthrough_scenario --add-to-config=app_url:"$URL" \
    --add-to-config=duration:"$DURATION" \
    --summary-json=walkthrough-summary.json --html-report=walkthrough-report.html
echo "== the sign-in run's report: examples/seed/walkthrough-report.html (JSON: walkthrough-summary.json)"
echo "== done: $(python3 -c 'import msgpack; print(sum(1 for _ in msgpack.Unpacker(open("recorder-data/users.msgpack", "rb"))))') users recorded in examples/seed/recorder-data/users.msgpack"
