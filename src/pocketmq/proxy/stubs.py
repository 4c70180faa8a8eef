"""The generated protobuf and gRPC stubs of ``messaging.proto`` (apache.rocketmq.v2).

Owns generating them: with grpcio-tools, into the git-ignored package ``pocketmq.proxy._stubs``
beside this file, the first time they are imported after ``messaging.proto`` changed (a stamp
holds the .proto's SHA-256). ``make venv`` runs ``python -m pocketmq.proxy.stubs`` once so that
servers never generate at start-up; generation writes to a temporary folder and renames it into
place, so processes starting together never see half a stub.

Use: ``from pocketmq.proxy.stubs import pb, pb_grpc``.
"""

from __future__ import annotations

import hashlib
import importlib
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
PROTO = HERE / "messaging.proto"
OUT = HERE / "_stubs"
STAMP = OUT / "proto.sha256"
PACKAGE_PATH = "pocketmq/proxy/_stubs"  # where the copy sits under protoc's include root


def proto_digest() -> str:
    return hashlib.sha256(PROTO.read_bytes()).hexdigest()


def up_to_date() -> bool:
    try:
        return STAMP.read_text().strip() == proto_digest()
    except OSError:
        return False


def generate() -> None:
    """Run protoc (grpcio-tools, in process) and move the result into ``_stubs``."""
    from grpc_tools import protoc
    import grpc_tools

    include = str(Path(grpc_tools.__file__).resolve().parent / "_proto")
    with tempfile.TemporaryDirectory(dir=HERE, prefix=".stubs-") as work:
        root = Path(work) / "src"
        target = root / PACKAGE_PATH
        target.mkdir(parents=True)
        shutil.copyfile(PROTO, target / "messaging.proto")
        args = ["protoc", f"-I{root}", f"-I{include}", f"--python_out={root}", f"--grpc_python_out={root}",
                f"--pyi_out={root}", str(target / "messaging.proto")]
        if protoc.main(args) != 0:
            raise RuntimeError(f"protoc failed on {PROTO}")
        (target / "messaging.proto").unlink()
        (target / "__init__.py").write_text('"""Generated from ../messaging.proto by pocketmq.proxy.stubs."""\n')
        (target / STAMP.name).write_text(proto_digest() + "\n")
        staged = Path(work) / "_stubs"
        target.rename(staged)
        try:  # move a stale copy aside (another process may have moved it already)
            OUT.rename(Path(work) / "_old")
        except FileNotFoundError:
            pass
        try:
            staged.rename(OUT)
        except OSError:  # another process put its identical copy in place first
            if not up_to_date():
                raise


def load() -> tuple[ModuleType, ModuleType]:
    if not up_to_date():
        generate()
        importlib.invalidate_caches()
    pb_module = importlib.import_module("pocketmq.proxy._stubs.messaging_pb2")
    grpc_module = importlib.import_module("pocketmq.proxy._stubs.messaging_pb2_grpc")
    return pb_module, grpc_module


pb, pb_grpc = load()


if __name__ == "__main__":
    print(f"stubs up to date in {OUT}", file=sys.stderr)
