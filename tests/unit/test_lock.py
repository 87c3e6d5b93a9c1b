"""requirements/*.lock match pyproject.toml (CI's check), carry hashes, and lock the CPU torch."""

from __future__ import annotations

import importlib.util
import re
import shutil

import pytest

from tests.conftest import PROJECT_ROOT

spec = importlib.util.spec_from_file_location("lock", PROJECT_ROOT / "requirements" / "lock.py")
lock = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lock)


@pytest.mark.parametrize("target", sorted(lock.TARGETS))
def test_lock_matches_pyproject(target):
    assert lock.problems(target) == []


@pytest.fixture
def copy(tmp_path, monkeypatch):
    """pyproject.toml and the locks copied aside, where a test may break them."""
    (tmp_path / "requirements").mkdir()
    shutil.copy(lock.PYPROJECT, tmp_path / "pyproject.toml")
    for target in lock.TARGETS:
        shutil.copy(lock.lock_file(target), tmp_path / "requirements")
    monkeypatch.setattr(lock, "ROOT", tmp_path)
    monkeypatch.setattr(lock, "PYPROJECT", tmp_path / "pyproject.toml")
    monkeypatch.setattr(lock, "LOCK_DIR", tmp_path / "requirements")
    return tmp_path


def test_a_changed_pyproject_asks_for_make_lock(copy):
    pyproject = copy / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('"tqdm>=4.66",', '"tqdm>=4.66", "rich>=13",', 1)
    )
    assert lock.problems("client") == [
        "requirements/client.lock was made from another pyproject.toml: run `make lock`"
    ]


def test_a_lock_missing_a_requirement_or_a_hash_is_named(copy):
    path = copy / "requirements" / "client.lock"
    text = path.read_text()
    start = text.index("\nprometheus-client==")
    end = text.index("\n", text.index("# via", start))
    text = text[:start] + text[end:]  # prometheus-client gone
    text = re.sub(r"tqdm==(\S+) \\\n(    --hash=\S+( \\)?\n)+", r"tqdm==\1\n", text)  # no hashes
    path.write_text(text)
    found = lock.problems("client")
    assert any("prometheus-client>=0.26.0 is not locked" in p for p in found), found
    assert any(re.search(r"tqdm==\S+ has no hash", p) for p in found), found


def test_a_pin_outside_the_range_is_named(copy):
    path = copy / "requirements" / "all.lock"
    path.write_text(re.sub(r"\nnumpy==\S+ ", "\nnumpy==2.0.0 ", path.read_text(), count=1))
    assert "all.lock: numpy==2.0.0 breaks numpy<2,>=1.26" in lock.problems("all")


@pytest.mark.parametrize("target", ["all", "exporter"])
def test_torch_is_the_cpu_build_without_cuda_packages(target):
    pins = lock.pins(lock.lock_file(target).read_text())
    assert pins["torch"].local == "cpu", pins["torch"]
    cuda = sorted(n for n in pins if n.startswith("nvidia-") and n != "nvidia-pytriton")
    assert not cuda and "triton" not in pins, cuda  # what PyPI's CUDA torch pulls in


def test_image_locks_use_the_versions_of_the_full_lock():
    """Shared packages agree; only the cuda extra (not part of `all`) adds packages of its own."""
    everything = lock.pins(lock.lock_file("all").read_text())
    for target in sorted(set(lock.TARGETS) - {"all"}):
        for name, version in lock.pins(lock.lock_file(target).read_text()).items():
            if name in everything:
                assert everything[name] == version, (target, name)
            else:
                assert target == "client-cuda" and name.startswith("cuda-"), (target, name)


def test_make_venv_installs_from_the_lock_with_hashes():
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert "LOCK := requirements/all.lock" in makefile
    assert "pip install --quiet --require-hashes -r $(LOCK)" in makefile
