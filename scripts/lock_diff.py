"""Print the packages whose locked version changed between two uv.lock files (`make upgrade`)."""

from __future__ import annotations

import sys

import tomllib


def versions(path: str) -> dict[str, set[str]]:
    with open(path, "rb") as f:
        lock = tomllib.load(f)
    found: dict[str, set[str]] = {}
    for package in lock.get("package", []):
        found.setdefault(package["name"], set()).add(package.get("version", "?"))
    return found


def main(before: str, after: str) -> int:
    old, new = versions(before), versions(after)
    changed = [
        (name, ", ".join(sorted(old.get(name, {"-"}))), ", ".join(sorted(new.get(name, {"-"}))))
        for name in sorted(old.keys() | new.keys())
        if old.get(name) != new.get(name)
    ]
    if not changed:
        print("uv.lock: no version changed")
    for name, was, now in changed:
        print(f"uv.lock: {name} {was} -> {now}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
