"""Print the versions of the packages the GPU check relies on ("missing" where absent) and
the GPU's name; never fails, so a partial environment is still described."""

from __future__ import annotations

from importlib import metadata

PACKAGES = ("numpy", "scipy", "numba", "threadpoolctl", "torch", "pytest-benchmark")


def main() -> None:
    for package in PACKAGES:
        try:
            print(package, metadata.version(package))
        except metadata.PackageNotFoundError:
            print(package, "missing")
    try:
        import cupy

        print("cupy", cupy.__version__)
        print("gpu", cupy.cuda.runtime.getDeviceProperties(0)["name"].decode())
    except Exception as error:  # noqa: BLE001 - report whatever went wrong
        print("cupy unusable:", error)


if __name__ == "__main__":
    main()
