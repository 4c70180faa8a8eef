"""A bridge network of network namespaces, one per process: each namespace gets a veth whose
other end is joined to a bridge in the root namespace, which also holds an address on the
subnet, so clients run in the root namespace reach every node. A partition cuts a node's veth
(link down inside its namespace): it then reaches nothing and nothing reaches it.

Names (namespaces, links) carry a random tag and the subnet is one no route of the root
namespace uses yet, so parallel runs never clash; ``destroy`` removes everything made here and
is safe to call after a half-made setup."""

from __future__ import annotations

import random
import subprocess
import uuid
from dataclasses import dataclass


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=30)


def _free_subnet(rng: random.Random) -> str:
    """A 10.x.y.0/24 prefix ("10.x.y") that no route of the root namespace covers."""
    routes = ip("-4", "route", "show").stdout
    for _ in range(200):
        prefix = f"10.{rng.randrange(100, 250)}.{rng.randrange(1, 255)}"
        if f"{prefix}." not in routes:
            return prefix
    raise RuntimeError("no free 10.x.y.0/24 subnet found")


@dataclass
class Node:
    """One namespace: its name, its end of the veth and its address."""

    name: str
    ns: str
    dev: str
    host_dev: str
    addr: str


class Lab:
    """The bridge, its subnet and the namespaces joined to it."""

    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:6]
        self.bridge = f"nm{self.tag}br"
        self.prefix = _free_subnet(random.Random())
        self.host_addr = f"{self.prefix}.1"
        self.nodes: dict[str, Node] = {}
        self._made_bridge = False

    def up(self) -> None:
        ip("link", "add", self.bridge, "type", "bridge")
        self._made_bridge = True
        ip("addr", "add", f"{self.host_addr}/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")

    def add(self, name: str) -> Node:
        index = len(self.nodes) + 1
        node = Node(name, f"nm{self.tag}-{name}", f"nm{self.tag}n{index}", f"nm{self.tag}h{index}",
                    f"{self.prefix}.{10 + index}")
        self.nodes[name] = node
        ip("netns", "add", node.ns)
        ip("link", "add", node.host_dev, "type", "veth", "peer", "name", node.dev)
        ip("link", "set", node.dev, "netns", node.ns)
        ip("link", "set", node.host_dev, "master", self.bridge)
        ip("link", "set", node.host_dev, "up")
        ip("-n", node.ns, "addr", "add", f"{node.addr}/24", "dev", node.dev)
        ip("-n", node.ns, "link", "set", node.dev, "up")
        ip("-n", node.ns, "link", "set", "lo", "up")
        return node

    def cut(self, name: str) -> None:
        node = self.nodes[name]
        ip("-n", node.ns, "link", "set", node.dev, "down")

    def heal(self, name: str) -> None:
        node = self.nodes[name]
        ip("-n", node.ns, "link", "set", node.dev, "up")

    def destroy(self) -> None:
        for node in self.nodes.values():
            ip("netns", "del", node.ns, check=False)  # takes its veth pair with it
        if self._made_bridge:
            ip("link", "del", self.bridge, check=False)

    def leftovers(self) -> list[str]:
        """Namespaces or links of this lab still present (empty after ``destroy``)."""
        names = ip("netns", "list").stdout + ip("-o", "link", "show").stdout
        return sorted({word.rstrip(":").split("@")[0] for word in names.split() if f"nm{self.tag}" in word})
