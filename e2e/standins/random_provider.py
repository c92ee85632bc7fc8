"""A stand-in for `pulumi-resource-random`, whose Go modules (provider/v4 and its shim) the module proxy here
refuses (403).

It implements, over the engine's ResourceProvider gRPC protocol, the three resources the platform uses,
with the real provider's contract: the same type tokens, inputs and outputs; every input forces a
replacement (so bumping `keepers` regenerates the value); values come from the OS's CSPRNG; the outputs
are unknown during preview. Left out on purpose: the other random resources, `bcryptHash` (always empty),
import, and the schema (the Python SDK does not need it at run time).

Secrecy is not the provider's business: the SDK marks `result`, `base64` and `hex` as additional secret
outputs, and the engine encrypts them in the state. That is what e2e/run checks.
"""

from __future__ import annotations

import base64
import secrets
import string
import uuid
from typing import Any

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from plugin_server import serve
from pulumi.runtime.proto import plugin_pb2, provider_pb2, provider_pb2_grpc

VERSION = "4.21.4"  # the version of the pulumi-random SDK in the e2e venv, whose contract this follows
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
PASSWORD = "random:index/randomPassword:RandomPassword"
BYTES = "random:index/randomBytes:RandomBytes"
UUID = "random:index/randomUuid:RandomUuid"
# terraform-provider-random's default special characters.
SPECIAL = "!@#$%&*()-_=+[]{}<>:?"
PASSWORD_DEFAULTS = {
    "lower": True,
    "upper": True,
    "numeric": True,
    "special": True,
    "minLower": 0,
    "minUpper": 0,
    "minNumeric": 0,
    "minSpecial": 0,
}


def _type(urn: str) -> str:
    return urn.split("::")[-2].split("$")[-1]


def _to_dict(props: struct_pb2.Struct) -> dict[str, Any]:
    values: dict[str, Any] = json_format.MessageToDict(props)
    return values


def _to_struct(values: dict[str, Any]) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(values)
    return out


def _password(inputs: dict[str, Any]) -> str:
    length = int(inputs["length"])
    classes = [
        (inputs["lower"], string.ascii_lowercase, int(inputs["minLower"])),
        (inputs["upper"], string.ascii_uppercase, int(inputs["minUpper"])),
        (inputs["numeric"], string.digits, int(inputs["minNumeric"])),
        (inputs["special"], inputs.get("overrideSpecial") or SPECIAL, int(inputs["minSpecial"])),
    ]
    alphabet = "".join(chars for on, chars, _ in classes if on)
    chars = [secrets.choice(pool) for on, pool, minimum in classes if on for _ in range(minimum)]
    chars += [secrets.choice(alphabet) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def _outputs(kind: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The resource's id and its full state (inputs plus generated values)."""
    if kind == PASSWORD:
        return "none", {**inputs, "result": _password(inputs), "bcryptHash": ""}
    if kind == BYTES:
        raw = secrets.token_bytes(int(inputs["length"]))
        return "none", {**inputs, "base64": base64.b64encode(raw).decode(), "hex": raw.hex()}
    value = str(uuid.uuid4())
    return value, {**inputs, "result": value}


def _unknown_outputs(kind: str, inputs: dict[str, Any]) -> dict[str, Any]:
    generated = {PASSWORD: ["result", "bcryptHash"], BYTES: ["base64", "hex"], UUID: ["result"]}[kind]
    return {**inputs, **dict.fromkeys(generated, UNKNOWN)}


class RandomProvider(provider_pb2_grpc.ResourceProviderServicer):
    def GetPluginInfo(self, request: empty_pb2.Empty, context: grpc.ServicerContext) -> plugin_pb2.PluginInfo:
        return plugin_pb2.PluginInfo(version=VERSION)

    def CheckConfig(
        self, request: provider_pb2.CheckRequest, context: grpc.ServicerContext
    ) -> provider_pb2.CheckResponse:
        return provider_pb2.CheckResponse(inputs=request.news)

    def DiffConfig(self, request: provider_pb2.DiffRequest, context: grpc.ServicerContext) -> provider_pb2.DiffResponse:
        return provider_pb2.DiffResponse(changes=provider_pb2.DiffResponse.DIFF_NONE)

    def Configure(
        self, request: provider_pb2.ConfigureRequest, context: grpc.ServicerContext
    ) -> provider_pb2.ConfigureResponse:
        return provider_pb2.ConfigureResponse(acceptSecrets=False, supportsPreview=True)

    def Check(self, request: provider_pb2.CheckRequest, context: grpc.ServicerContext) -> provider_pb2.CheckResponse:
        kind = _type(request.urn)
        news = _to_dict(request.news)
        if kind not in (PASSWORD, BYTES, UUID):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"the e2e random stand-in does not implement {kind}")
        failures = []
        if kind in (PASSWORD, BYTES) and "length" not in news:
            failures.append(provider_pb2.CheckFailure(property="length", reason="length is required"))
        if kind == PASSWORD:
            news = {**PASSWORD_DEFAULTS, **news}
        return provider_pb2.CheckResponse(inputs=_to_struct(news), failures=failures)

    def Diff(self, request: provider_pb2.DiffRequest, context: grpc.ServicerContext) -> provider_pb2.DiffResponse:
        olds = {k: v for k, v in _to_dict(request.old_inputs or request.olds).items()}
        news = _to_dict(request.news)
        changed = sorted(k for k in set(olds) | set(news) if olds.get(k) != news.get(k) or news.get(k) == UNKNOWN)
        # Every input of a random resource forces a new value, as in the real provider.
        changed = [k for k in changed if k not in ("result", "bcryptHash", "base64", "hex")]
        if not changed:
            return provider_pb2.DiffResponse(changes=provider_pb2.DiffResponse.DIFF_NONE)
        return provider_pb2.DiffResponse(changes=provider_pb2.DiffResponse.DIFF_SOME, replaces=changed, diffs=changed)

    def Create(self, request: provider_pb2.CreateRequest, context: grpc.ServicerContext) -> provider_pb2.CreateResponse:
        kind = _type(request.urn)
        inputs = _to_dict(request.properties)
        if request.preview:
            return provider_pb2.CreateResponse(id="", properties=_to_struct(_unknown_outputs(kind, inputs)))
        resource_id, state = _outputs(kind, inputs)
        return provider_pb2.CreateResponse(id=resource_id, properties=_to_struct(state))

    def Read(self, request: provider_pb2.ReadRequest, context: grpc.ServicerContext) -> provider_pb2.ReadResponse:
        return provider_pb2.ReadResponse(id=request.id, properties=request.properties, inputs=request.inputs)

    def Update(self, request: provider_pb2.UpdateRequest, context: grpc.ServicerContext) -> provider_pb2.UpdateResponse:
        # Never reached: Diff reports every change as a replacement.
        return provider_pb2.UpdateResponse(properties=request.olds)

    def Delete(self, request: provider_pb2.DeleteRequest, context: grpc.ServicerContext) -> empty_pb2.Empty:
        return empty_pb2.Empty()


def main() -> None:
    serve(lambda server: provider_pb2_grpc.add_ResourceProviderServicer_to_server(RandomProvider(), server))


if __name__ == "__main__":
    main()
