"""MQVersion: the names of the version ordinals clients send in every request (409 -> V4_9_8)."""

from __future__ import annotations


def _version_names() -> list[str]:
    names = ["V3_0_0_SNAPSHOT", "V3_0_0_ALPHA1"]
    names += [f"V3_0_0_BETA{i}" for i in range(1, 6)]
    for i in range(6, 10):
        names += [f"V3_0_0_BETA{i}_SNAPSHOT", f"V3_0_0_BETA{i}"]
    names.append("V3_0_0_FINAL")
    versions = [(3, 0, p) for p in range(1, 16)]
    # 3.3 to 3.9 never had an x.y.0 release
    versions += [(3, mi, p) for mi in range(1, 10) for p in range(10) if mi < 3 or p > 0]
    versions += [(ma, mi, p) for ma in (4, 5) for mi in range(10) for p in range(10)]
    for ma, mi, p in versions:
        names += [f"V{ma}_{mi}_{p}_SNAPSHOT", f"V{ma}_{mi}_{p}"]
    names.append("HIGHER_VERSION")
    return names


VERSION_NAMES = _version_names()


def version_desc(ordinal: int) -> str:
    """MQVersion.getVersionDesc: the enum name of a version ordinal (409 -> V4_9_8)."""
    if ordinal >= len(VERSION_NAMES):
        return VERSION_NAMES[-1]
    return VERSION_NAMES[max(ordinal, 0)]
