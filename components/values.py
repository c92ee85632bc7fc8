"""The value types every domain's config model is built from, and the strict base model.

Each annotated type (`DnsLabel`, `Cpu`, `Image`, ...) validates one value and says what is allowed
in one sentence; the loader turns that sentence into the one-line error that names the key path.
`Model` is the base of every config model: camelCase keys as written in YAML, unknown keys
rejected, immutable.

Deliberately out of scope: rules that relate two values (those live beside each domain's model, or
in `config/checks.py` when they span domains).
"""

from __future__ import annotations

import ipaddress
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag
from pydantic.alias_generators import to_camel

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_PORT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_LABEL_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
_CPU = re.compile(r"^(\d+(\.\d+)?)(m?)$")
_MEMORY = re.compile(r"^(\d+(\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$")
_MEMORY_FACTORS = {
    None: 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}
IMAGE_REFERENCE = re.compile(
    r"^(?P<repo>[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-]{1,2}[a-z0-9]+)*)*)"
    r"(:(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(@(?P<digest>sha256:[a-f0-9]{64}))?$"
)
_HOST = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$")
_DURATION = re.compile(r"^\d+[smhdwy]$")


def dns_label(value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.match(value):
        raise ValueError(
            f"'{value}' is not a DNS-1123 label: use at most 63 lowercase letters, digits and "
            "'-', starting and ending with a letter or digit"
        )
    return value


def service_name(value: str) -> str:
    dns_label(value)
    if not value[0].isalpha():
        raise ValueError(f"'{value}' must start with a letter (Kubernetes Service names are DNS-1035 labels)")
    return value


def dns_subdomain(value: str) -> str:
    if len(value) > 253 or not _DNS_SUBDOMAIN.match(value):
        raise ValueError(
            f"'{value}' is not a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', at most 253 characters"
        )
    return value


def port_name(value: str) -> str:
    if len(value) > 15 or not _PORT_NAME.match(value) or not any(c.isalpha() for c in value):
        raise ValueError(
            f"'{value}' is not a valid port name: at most 15 lowercase letters, digits and '-', "
            "with at least one letter"
        )
    return value


def cpu_millicores(value: str) -> int:
    """Parse a Kubernetes CPU quantity ('250m', '1', '0.5') into millicores."""
    match = _CPU.match(str(value))
    if not match:
        raise ValueError(f"'{value}' is not a CPU quantity: use millicores like '250m' or cores like '1' or '0.5'")
    number = Decimal(match.group(1))
    return int(number if match.group(3) else number * 1000)


def memory_bytes(value: str) -> int:
    """Parse a Kubernetes memory quantity ('512Mi', '1Gi', '1G') into bytes."""
    match = _MEMORY.match(str(value))
    if not match:
        raise ValueError(
            f"'{value}' is not a memory quantity: use a number with a suffix Ki, Mi, Gi, Ti "
            "(or k, M, G, T), e.g. '512Mi'"
        )
    try:
        return int(Decimal(match.group(1)) * _MEMORY_FACTORS[match.group(3)])
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only decimals
        raise ValueError(f"'{value}' is not a memory quantity") from exc


def storage_bytes(value: str) -> int:
    """Parse a volume size ('10Gi', '500Mi', '1Ti') into bytes; a storage quantity is a memory-style quantity."""
    match = _MEMORY.match(str(value))
    if not match or match.group(3) is None:
        raise ValueError(
            f"'{value}' is not a storage quantity: use a number with a suffix Mi, Gi or Ti (or M, G, T), e.g. '10Gi'"
        )
    return int(Decimal(match.group(1)) * _MEMORY_FACTORS[match.group(3)])


def _storage(value: str) -> str:
    storage_bytes(value)
    return value


def _cpu(value: str) -> str:
    cpu_millicores(value)
    return value


def _memory(value: str) -> str:
    memory_bytes(value)
    return value


def _cidr(value: str) -> str:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"'{value}' is not a CIDR block with its host bits zero, e.g. '10.0.0.0/20'") from exc
    if network.version != 4:
        raise ValueError(f"'{value}' must be an IPv4 CIDR block")
    return value


def _image(value: str) -> str:
    match = IMAGE_REFERENCE.match(value)
    if not match:
        raise ValueError(f"'{value}' is not an image reference like 'registry/name:1.2.3' or 'name@sha256:<64 hex>'")
    tag, digest = match.group("tag"), match.group("digest")
    if tag == "latest":
        raise ValueError(f"'{value}' uses the 'latest' tag; pin a version tag or a sha256 digest")
    if not tag and not digest:
        raise ValueError(f"'{value}' has no tag, which means 'latest'; pin a version tag or a sha256 digest")
    return value


def _host(value: str) -> str:
    if len(value) > 253 or not _HOST.match(value):
        raise ValueError(f"'{value}' is not a fully qualified lowercase host name such as 'api.example.com'")
    return value


def _path(value: str) -> str:
    if not value.startswith("/") or " " in value:
        raise ValueError(f"'{value}' is not an HTTP path: it must start with '/' and contain no spaces")
    return value


def _duration(value: str) -> str:
    if not _DURATION.match(value):
        raise ValueError(f"'{value}' is not a duration like '15d', '12h' or '30m'")
    return value


def _label_value(value: str) -> str:
    if not _LABEL_VALUE.match(value):
        raise ValueError(f"'{value}' is not a valid label value: at most 63 characters of [A-Za-z0-9-_.]")
    return value


def _labels(value: dict[str, str]) -> dict[str, str]:
    for key, item in value.items():
        if not _LABEL_KEY.match(key):
            raise ValueError(f"'{key}' is not a valid label key")
        if not _LABEL_VALUE.match(item):
            raise ValueError(
                f"'{item}' (label '{key}') is not a valid label value: at most 63 characters of [A-Za-z0-9-_.]"
            )
    return value


DnsLabel = Annotated[str, AfterValidator(dns_label)]
ServiceName = Annotated[str, AfterValidator(service_name)]
DnsSubdomain = Annotated[str, AfterValidator(dns_subdomain)]
PortName = Annotated[str, AfterValidator(port_name)]
Cpu = Annotated[str, AfterValidator(_cpu)]
Memory = Annotated[str, AfterValidator(_memory)]
Storage = Annotated[str, AfterValidator(_storage)]
Cidr = Annotated[str, AfterValidator(_cidr)]
Image = Annotated[str, AfterValidator(_image)]
Host = Annotated[str, AfterValidator(_host)]
HttpPath = Annotated[str, AfterValidator(_path)]
Duration = Annotated[str, AfterValidator(_duration)]
Labels = Annotated[dict[str, str], AfterValidator(_labels)]
LabelValue = Annotated[str, AfterValidator(_label_value)]
Port = Annotated[int, Field(ge=1, le=65535)]


def _kind_of(value: Any) -> str:
    return "number" if isinstance(value, int) and not isinstance(value, bool) else "name"


# A port by number or by name; the discriminator keeps errors to the one form that was meant.
PortRef = Annotated[
    Annotated[Port, Tag("number")] | Annotated[PortName, Tag("name")],
    Discriminator(_kind_of),
]
Percent = Annotated[int, Field(ge=1, le=100)]


class Model(BaseModel):
    """Strict base: camelCase keys as written in YAML, unknown keys rejected, immutable.

    A one-line docstring under each field is its description (`use_attribute_docstrings`): the
    generated reference (docs/reference.md) and the stack-file JSON Schema show it.
    """

    model_config = ConfigDict(
        extra="forbid",
        use_attribute_docstrings=True,
        alias_generator=to_camel,
        populate_by_name=False,
        frozen=True,
        strict=False,
    )


class ResourceValues(Model):
    cpu: Cpu
    """e.g. `250m` or `1`."""
    memory: Memory
    """e.g. `512Mi` or `2Gi`."""


class Resources(Model):
    """A container's requests and limits."""

    requests: ResourceValues
    """`{cpu, memory}` Kubernetes quantities."""
    limits: ResourceValues
    """`{cpu, memory}`."""
