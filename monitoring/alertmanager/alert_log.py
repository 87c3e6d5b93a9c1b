"""A webhook receiver for Alertmanager that prints every notification as one JSON line.

Standard library only (runs in any python image). `docker compose logs alert-log` shows what
was delivered; tests read it there.
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

PORT = 9095


class AlertLog(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            notification = json.loads(body)
        except json.JSONDecodeError:
            self.send_response(400)
            self.end_headers()
            return
        for alert in notification.get("alerts", []):
            line = {
                "status": alert.get("status"),
                "alertname": alert.get("labels", {}).get("alertname"),
                "labels": alert.get("labels", {}),
                "summary": alert.get("annotations", {}).get("summary"),
                "startsAt": alert.get("startsAt"),
            }
            print("alert " + json.dumps(line, sort_keys=True), flush=True)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:  # the JSON lines are the log
        pass


if __name__ == "__main__":
    print(f"alert-log: listening on :{PORT}", file=sys.stderr, flush=True)
    HTTPServer(("0.0.0.0", PORT), AlertLog).serve_forever()
