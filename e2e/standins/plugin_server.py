"""What both stand-in plugins do to serve the engine: a gRPC server on a loopback port the kernel
picks, that port printed on stdout (the plugin handshake), then serving until the engine's SIGINT."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from concurrent import futures

import grpc


def serve(register: Callable[[grpc.Server], None]) -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    register(server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:  # the engine stops plugins with SIGINT when it is done
        server.stop(0)
