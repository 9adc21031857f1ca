"""A throwaway Redis server for tests, on loopback and a free port, without persistence."""

from __future__ import annotations

import shutil
import subprocess
import time

from scripts.servers import free_port


def available() -> bool:
    return shutil.which("redis-server") is not None


class TempRedis:
    def __init__(self) -> None:
        self.port = free_port()
        self.process = None

    def start(self) -> TempRedis:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            ping = subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True)
            if ping.stdout.strip() == "PONG":
                return self
            time.sleep(0.2)
        raise TimeoutError("redis-server did not start")

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=10)
