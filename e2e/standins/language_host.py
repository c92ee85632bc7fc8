"""A stand-in for `pulumi-language-python`, whose Go module the module proxy here refuses (403).

It speaks the engine's LanguageRuntime gRPC protocol and does one thing: `Run` starts the Python SDK's
own program runner, `pulumi-language-python-exec` (shipped in the served github.com/pulumi/pulumi/sdk/v3
module and copied to the cache by e2e/build), with the e2e venv's interpreter. Everything else the real
host does is deliberately left out: venv creation and `pulumi install` (InstallDependencies), reporting
the required plugins (the engine then loads providers on demand, from PATH), `pulumi about`, code
generation, debugging and policy packs. Those RPCs answer UNIMPLEMENTED, which the engine tolerates.

The interpreter is PLATFORM_E2E_PYTHON, not the project's `runtime.options.virtualenv`: the e2e run
uses its own venv, with the SDKs pinned to the plugin versions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import grpc
from google.protobuf import empty_pb2
from plugin_server import serve
from pulumi.runtime.proto import language_pb2, language_pb2_grpc, plugin_pb2

# The exit code the SDK's runner uses after it has already shown the user an error.
EXITED_AFTER_SHOWING_ERROR = 32
HOST_VERSION = os.environ.get("PLATFORM_E2E_LANGUAGE_HOST_VERSION", "0.0.0-e2e")


class LanguageHost(language_pb2_grpc.LanguageRuntimeServicer):
    def __init__(self, engine_address: str, runner: Path, python: str) -> None:
        self._engine_address = engine_address
        self._runner = runner
        self._python = python

    def GetPluginInfo(self, request: empty_pb2.Empty, context: grpc.ServicerContext) -> plugin_pb2.PluginInfo:
        return plugin_pb2.PluginInfo(version=HOST_VERSION)

    def Run(self, request: language_pb2.RunRequest, context: grpc.ServicerContext) -> language_pb2.RunResponse:
        env = dict(os.environ)
        env["PULUMI_CONFIG"] = json.dumps(dict(request.config))
        env["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(list(request.configSecretKeys))
        argv = [
            self._python,
            "-u",
            str(self._runner),
            f"--monitor={request.monitor_address}",
            f"--engine={self._engine_address}",
            f"--project={request.project}",
            f"--stack={request.stack}",
            f"--pwd={request.pwd}",
            f"--dry_run={'true' if request.dryRun else 'false'}",
            f"--parallel={request.parallel}",
            f"--organization={request.organization}",
            f"--root_directory={request.info.root_directory}",
            request.program or ".",
            *request.args,
        ]
        code = subprocess.run(argv, env=env, cwd=request.pwd or None, check=False).returncode
        if code == 0:
            return language_pb2.RunResponse()
        if code == EXITED_AFTER_SHOWING_ERROR:
            return language_pb2.RunResponse(bail=True)
        return language_pb2.RunResponse(error=f"Program exited with non-zero exit code: {code}")


def main() -> None:
    # The engine passes flags (logging, tracing) first and its own address last.
    engine_address = [a for a in sys.argv[1:] if not a.startswith("-")][-1]
    runner = Path(
        os.environ.get("PLATFORM_E2E_PYTHON_RUNNER", Path(sys.argv[0]).with_name("pulumi-language-python-exec"))
    )
    python = os.environ.get("PLATFORM_E2E_PYTHON", sys.executable)
    host = LanguageHost(engine_address, runner, python)
    serve(lambda server: language_pb2_grpc.add_LanguageRuntimeServicer_to_server(host, server))


if __name__ == "__main__":
    main()
