"""Assembles ESG's wheel from Bazel outputs with the standard library only (zipfile).

  build_wheel.py --out esg-V-cpXY-cpXY-linux_ARCH.whl --version V --esg BIN [--esgctl BIN] FILE...

FILEs are the package's files as Bazel gives them (paths ending in esg/<name>); they land in esg/ with the
`_esg` extension. The native executables land in esg/bin/ (mode 0755); console scripts `esg` and `esgctl`
(esg.main:esg_command / esgctl_command) exec them. This wheel (linux_ARCH) still links the build machine's
shared libraries (gRPC, protobuf, spdlog, fmt, OpenSSL); tools/build-wheels.sh turns it into a
self-contained manylinux wheel with auditwheel. It is for the one CPython the build used (Requires-Python).
"""

import argparse
import base64
import hashlib
import os
import re
import sys
import zipfile

FIXED_TIME = (2020, 1, 1, 0, 0, 0)  # reproducible archives


def record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--esg", required=True)
    parser.add_argument("--esgctl")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()

    name = os.path.basename(args.out)
    m = re.match(r"^esg-(?P<version>[^-]+)-(?P<py>[^-]+)-(?P<abi>[^-]+)-(?P<plat>[^-]+)\.whl$", name)
    if not m or m.group("version") != args.version:
        sys.exit(f"build_wheel: bad output name {name!r} for version {args.version}")
    entries = []  # (archive name, bytes, executable)
    for path in args.files:
        rel = path.replace(os.sep, "/")
        index = rel.rfind("/esg/")
        if index < 0:
            sys.exit(f"build_wheel: {path} is not inside an esg/ package directory")
        with open(path, "rb") as f:
            entries.append((rel[index + 1:], f.read(), False))
    py = re.match(r"^cp3(\d+)$", m.group("py"))
    if not py:
        sys.exit(f"build_wheel: {m.group('py')!r} is not a CPython 3 tag")
    init = dict((n, d) for n, d, _ in entries).get("esg/__init__.py", b"").decode()
    found = re.search(r'^__version__ = "([^"]+)"', init, re.M)
    if not found or found.group(1) != args.version:
        sys.exit(f"build_wheel: esg/__init__.py says {found and found.group(1)!r}, the build says {args.version!r}")
    for exe_name, exe in (("esg", args.esg), ("esgctl", args.esgctl)):
        if exe:
            with open(exe, "rb") as f:
                entries.append((f"esg/bin/{exe_name}", f.read(), True))

    dist = f"esg-{args.version}.dist-info"
    scripts = ["esg = esg.main:esg_command"] + (["esgctl = esg.main:esgctl_command"] if args.esgctl else [])
    metadata = "\n".join([
        "Metadata-Version: 2.1",
        "Name: esg",
        f"Version: {args.version}",
        "Summary: ESG, an application server for Python web apps (ASGI 3, ASGI 2, WSGI) with a C++ engine",
        f"Requires-Python: ==3.{py.group(1)}.*",
        "Provides-Extra: gunicorn",
        "Requires-Dist: gunicorn>=20.1; extra == 'gunicorn'",
        "",
        "The wheel carries the native `esg` master and `esgctl` in esg/bin/. See README.md (Install).",
        "",
    ])
    wheel = "\n".join(["Wheel-Version: 1.0", "Generator: esg tools/wheel/build_wheel.py", "Root-Is-Purelib: false",
                       f"Tag: {m.group('py')}-{m.group('abi')}-{m.group('plat')}", ""])
    entries += [
        (f"{dist}/METADATA", metadata.encode(), False),
        (f"{dist}/WHEEL", wheel.encode(), False),
        (f"{dist}/entry_points.txt", ("[console_scripts]\n" + "\n".join(scripts) + "\n").encode(), False),
        (f"{dist}/top_level.txt", b"esg\n", False),
    ]
    record = [f"{n},{record_hash(d)},{len(d)}" for n, d, _ in entries] + [f"{dist}/RECORD,,"]
    entries.append((f"{dist}/RECORD", ("\n".join(record) + "\n").encode(), False))

    with zipfile.ZipFile(args.out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for arcname, data, executable in entries:
            info = zipfile.ZipInfo(arcname, FIXED_TIME)
            info.external_attr = ((0o755 if executable else 0o644) | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
