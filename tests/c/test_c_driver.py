"""The C test driver (tests/c/test_kernels.c): built natively and cross-compiled for AArch64, run
natively and under `qemu-aarch64 -cpu max`, also with CPU features disabled, so that every x86
and Arm variant is checked against its scalar reference in the default suite.

Tools it needs (cmake and ninja from the dev requirements; gcc-aarch64-linux-gnu,
libc6-dev-arm64-cross, qemu-user from Debian) are installed here when missing.
"""
from __future__ import annotations

import fcntl
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "tests" / "c"
BIN_DIR = Path(sys.executable).parent
SEED = os.environ.get("CLAVIS_TEST_SEED", "20261128")
APT = ["gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross", "qemu-user"]
IS_X86 = platform.machine() in ("x86_64", "AMD64")

# ops whose SIMD variants are written once per ISA; each must show up in the Arm run as "neon"
NEON_OPS = ["add", "attention", "conv1d_gelu", "gelu", "layer_norm", "rms_norm", "rope", "scale",
            "silu_mul", "softmax"]
NEON_MATMUL = {"matmul_q4_0": ["neon_i8mm", "neon_dotprod", "neon"],
               "matmul_q8_0": ["neon_i8mm", "neon_dotprod", "neon"],
               "matmul_f32": ["neon"], "matmul_f16": ["neon"], "matmul_bf16": ["neon"]}


def _tool(name: str) -> str:
    found = shutil.which(name, path=f"{BIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}")
    return found or ""


def _ensure_cross_tools():
    if _tool("aarch64-linux-gnu-gcc") and _tool("qemu-aarch64"):
        return
    for cmd in (["apt-get", "install", "-y", "-q", *APT], ["apt-get", "update", "-q"],
                ["apt-get", "install", "-y", "-q", *APT]):
        if _tool("aarch64-linux-gnu-gcc") and _tool("qemu-aarch64"):
            break
        subprocess.run(cmd, check=False, capture_output=True, timeout=900)
    missing = [t for t in ("aarch64-linux-gnu-gcc", "qemu-aarch64") if not _tool(t)]
    assert not missing, (f"{missing} not found and `apt-get install -y {' '.join(APT)}` did not "
                         "provide them (run it as root, or `make deps`)")


def _build(name: str, *cmake_args: str) -> Path:
    """Configure + build tests/c into build/<name>, under a lock (parallel test runs share it)."""
    cmake, ninja = _tool("cmake"), _tool("ninja")
    assert cmake and ninja, "cmake and ninja are needed (pip install -r scripts/requirements-dev.txt)"
    out = ROOT / "build" / name
    out.mkdir(parents=True, exist_ok=True)
    with open(ROOT / "build" / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # configure every time (about a second): it re-globs csrc/, so new variant files count
        r = subprocess.run([cmake, "-S", str(SRC), "-B", str(out), "-G", "Ninja",
                            f"-DCMAKE_MAKE_PROGRAM={ninja}", *cmake_args],
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, f"cmake configure failed:\n{r.stdout}\n{r.stderr}"
        r = subprocess.run([ninja, "-C", str(out)], capture_output=True, text=True, timeout=1200)
        assert r.returncode == 0, f"build failed:\n{r.stdout[-6000:]}\n{r.stderr[-3000:]}"
    return out / "test_kernels"


def _run(cmd, disable: str | None) -> str:
    env = dict(os.environ)
    env.pop("CLAVIS_DISABLE_CPU_FEATURES", None)
    if disable:
        env["CLAVIS_DISABLE_CPU_FEATURES"] = disable
    r = subprocess.run([*cmd, SEED], capture_output=True, text=True, env=env, timeout=900)
    out = r.stdout + r.stderr
    print(out)
    assert r.returncode == 0, f"{' '.join(cmd)} (disable={disable}) failed:\n{out[-6000:]}"
    m = re.search(r"^(\d+) passed, (\d+) failed$", out, re.M)
    assert m and int(m.group(1)) > 0 and m.group(2) == "0", f"no clean summary line:\n{out[-3000:]}"
    return out


def _ran(out: str) -> dict[str, set[str]]:
    """{op: {variant names that passed}} from the driver's 'ok   op variant ...' lines."""
    ran: dict[str, set[str]] = {}
    for op, var in re.findall(r"^ok\s+(\S+)\s+(\S+)\s", out, re.M):
        ran.setdefault(op, set()).add(var)
    assert ran.pop("drivers", None) == {"pool"}, "the threaded-driver check did not run"
    assert ran.pop("ranges", None) == {"pool"}, "the contiguous-ranges pool check did not run"
    assert ran.pop("argmax", None) == {"sampling"}, "the argmax check did not run"
    return ran


@pytest.fixture(scope="module")
def native_exe() -> Path:
    return _build("c-native")


@pytest.fixture(scope="module")
def arm_exe() -> Path:
    _ensure_cross_tools()
    return _build("c-aarch64", f"-DCMAKE_TOOLCHAIN_FILE={SRC / 'aarch64-linux-gnu.cmake'}")


def test_native_every_variant(native_exe):
    import clavis.kernels as K

    out = _run([str(native_exe)], None)
    ran = _ran(out)
    info = K.info()
    for op, d in info["ops"].items():
        supported = {name for name, ok in d["variants"] if ok}
        assert supported <= ran.get(op, set()), f"{op}: variants {supported - ran.get(op, set())} did not run"
    if IS_X86 and "avx2" in info["cpu"]["detected"]:
        assert all("avx2" in ran[op] for op in NEON_OPS), "AVX2 variants missing from the native run"


@pytest.mark.parametrize("disable", ["avx512", "all"])
def test_native_lower_tiers(native_exe, disable):
    ran = _ran(_run([str(native_exe)], disable))
    if disable == "all":
        assert all(v == {"scalar"} for v in ran.values()), ran
    else:
        assert not any(v.startswith("avx512") for vs in ran.values() for v in vs), ran


def test_arm_under_qemu_every_variant(arm_exe):
    out = _run([_tool("qemu-aarch64"), "-cpu", "max", str(arm_exe)], None)
    assert "features enabled: neon dotprod i8mm" in out, out[:300]
    ran = _ran(out)
    for op in NEON_OPS:
        assert {"neon", "scalar"} <= ran.get(op, set()), f"{op}: NEON variant did not run: {ran.get(op)}"
    for op, names in NEON_MATMUL.items():
        assert set(names) <= ran.get(op, set()), f"{op}: Arm variants {names} did not all run: {ran.get(op)}"


@pytest.mark.parametrize("disable,absent,present", [
    ("i8mm", "neon_i8mm", "neon_dotprod"),
    ("dotprod", "neon_dotprod", "neon"),
    ("all", "neon", "scalar"),
])
def test_arm_under_qemu_lower_tiers(arm_exe, disable, absent, present):
    ran = _ran(_run([_tool("qemu-aarch64"), "-cpu", "max", str(arm_exe)], disable))
    names = {v for vs in ran.values() for v in vs}
    assert present in names and absent not in names, (disable, sorted(names))
    if disable == "all":
        assert names == {"scalar"}


@pytest.mark.parametrize("cpu,features,best", [
    ("cortex-a72", "neon", "neon"),                  # Armv8.0: no dotprod
    ("cortex-a76", "neon dotprod fp16", "neon_dotprod"),   # Armv8.2: dotprod, no i8mm
])
def test_arm_real_cpu_models_detected_from_hwcap(arm_exe, cpu, features, best):
    """Without any override, the features come from HWCAP: qemu's CPU models expose real sets."""
    out = _run([_tool("qemu-aarch64"), "-cpu", cpu, str(arm_exe)], None)
    assert f"features enabled: {features}\n" in out, out[:300]
    ran = _ran(out)
    assert best in ran["matmul_q4_0"] and "neon_i8mm" not in ran["matmul_q4_0"], ran["matmul_q4_0"]
