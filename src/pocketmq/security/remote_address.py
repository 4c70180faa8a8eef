"""White remote addresses of plain ACL (upstream RemoteAddressStrategyFactory): ``*`` (any),
blank (none), one address, several (``a,b,c`` or ``192.168.1.{1,2}``) and IPv4 ranges
(``192.168.1.*``, ``192.168.1-10.*``, ``10.*.*.*``). IPv6 addresses may be listed one by one;
IPv6 ranges are refused when the file is loaded (PocketMQ does not implement them).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Callable

Matcher = Callable[[str], bool]


class AclConfigError(ValueError):
    """plain_acl.yml (or tools.yml) holds something upstream would refuse to load."""


def _canonical(address: str) -> str | None:
    """The address in one spelling (IPv6 expanded), or None if it is not an IP address."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    return ip.exploded.upper() if ip.version == 6 else str(ip)


def _never(address: str) -> bool:
    return False


def _always(address: str) -> bool:
    return True


def address_matcher(spec: str | None) -> Matcher:
    """The matcher for one whiteRemoteAddress / globalWhiteRemoteAddresses entry."""
    spec = "" if spec is None else str(spec)
    if not spec.strip():
        return _never
    if spec in ("*", "*.*.*.*", "*:*:*:*:*:*:*:*"):
        return _always
    if spec.endswith("}"):
        return _multiple(_expand_braces(spec))
    if "," in spec:
        return _multiple([part for part in spec.split(",") if part])
    if "*" in spec or "-" in spec:
        if ":" in spec:
            raise AclConfigError(f"IPv6 address ranges are not supported: {spec}")
        return _ipv4_range(spec)
    one = _canonical(spec)
    if one is None:
        raise AclConfigError(f"Netaddress examine Exception netaddress is {spec}")
    return lambda address: _canonical(address) == one


def _expand_braces(spec: str) -> list[str]:
    separator = ":" if ":" in spec else "."
    head, _, last = spec.rpartition(separator)
    if not last.startswith("{") or (separator == "." and spec.count(".") < 3):
        raise AclConfigError(f"MultipleRemoteAddressStrategy netaddress examine scope Exception netaddress {spec}")
    return [f"{head}{separator}{item}" for item in last[1:-1].split(",") if item]


def _multiple(addresses: list[str]) -> Matcher:
    allowed: set[str] = set()
    for address in addresses:
        canonical = _canonical(address)
        if canonical is None:
            raise AclConfigError(f"Netaddress examine Exception netaddress is {address}")
        allowed.add(canonical)
    return lambda address: _canonical(address) in allowed


@dataclass(frozen=True)
class _Range:
    head: tuple[str, ...]  # the exact leading octets
    index: int  # the octet that must lie in [start, end]
    start: int
    end: int

    def __call__(self, address: str) -> bool:
        parts = address.split(".")
        if len(parts) != 4 or _canonical(address) is None or tuple(parts[:self.index]) != self.head:
            return False
        return self.start <= int(parts[self.index]) <= self.end


def _ipv4_range(spec: str) -> Matcher:
    parts = [part.strip() for part in spec.split(".")]
    if len(parts) != 4:
        raise AclConfigError(f"Netaddress examine scope Exception netaddress is {spec}")
    for index in (1, 2, 3):
        value = parts[index]
        if value == "*":
            start, end = 0, 255
        elif "-" in value:
            low, _, high = value.partition("-")
            if not low or not low.isdigit() or not high.isdigit():
                raise AclConfigError(f"RangeRemoteAddressStrategy netaddress examine scope Exception value {value} ")
            start, end = int(low), int(high)
            if not (0 <= start <= end <= 255):
                raise AclConfigError(
                    f"RangeRemoteAddressStrategy netaddress examine scope Exception start is {start} , end is {end}")
        else:
            continue
        head = tuple(parts[:index])
        if not all(octet.isdigit() and 0 <= int(octet) <= 255 for octet in head):
            raise AclConfigError(f"Netaddress examine scope Exception netaddress is {spec}")
        return _Range(head, index, start, end)
    raise AclConfigError(f"Netaddress examine scope Exception netaddress is {spec}")
