"""The free-threaded image build as written: the Dockerfile's defaults are the 3.13t
build, and PYTHON=3.14t is accepted where it builds images and refused where it cannot
run yet. Nothing here builds or starts a container."""

import os
import pathlib
import re
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "services/python-free-threaded.Dockerfile").read_text()


def stages():
    """Each stage's lines, from its FROM to the next."""
    return re.split(r"^(?=FROM )", DOCKERFILE, flags=re.M)[1:]


def defaults(text):
    return dict(re.findall(r"^ARG (\w+)=(\S+)$", text, flags=re.M))


def expanded(text, args):
    return re.sub(r"\$\{(\w+)\}", lambda m: args.get(m[1], m[0]), text)


def test_each_stage_declares_the_args_it_uses_with_the_same_defaults():
    # A stage sees only the ARGs it declares: an undeclared ${PY_VERSION} expands to "".
    builder, runtime = stages()
    for stage in (builder, runtime):
        body = stage.split("\n", 1)[1]  # FROM ${BASE_IMAGE} takes the global ARG
        assert set(re.findall(r"\$\{(\w+)\}", body)) <= set(defaults(stage))
    assert defaults(builder)["PY_VERSION"] == defaults(runtime)["PY_VERSION"]


def test_the_defaults_build_3_13t_from_trixie():
    builder, runtime = (expanded(stage, defaults(stage)) for stage in stages())
    assert "deb-src http://deb.debian.org/debian trixie main" in builder
    assert "apt-get source --download-only python3.13 " in builder
    assert "WORKDIR /src/python3.13\n" in builder  # the build path the installed sysconfig records
    assert "prefix=/opt/python3.13t " in builder
    assert "$prefix/bin/python3.13t -c" in builder and "not sys._is_gil_enabled()" in builder
    assert "COPY --from=builder /opt/python3.13t /opt/python3.13t\n" in runtime
    assert "ENV PATH=/opt/python3.13t/bin:$PATH\n" in runtime


def images_sh(python, tmp_path):
    """scripts/images.sh with a docker whose daemon is unreachable: it stops right after
    reading PYTHON, with the reason."""
    (tmp_path / "docker").write_text("#!/bin/sh\nexit 1\n")
    (tmp_path / "docker").chmod(0o755)
    env = {**os.environ, "PYTHON": python, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    return subprocess.run(["bash", "scripts/images.sh"], cwd=ROOT, env=env, capture_output=True, text=True)


@pytest.mark.parametrize("python", ["3.13", "3.13t", "3.14t"])
def test_images_sh_accepts(python, tmp_path):
    result = images_sh(python, tmp_path)
    assert result.returncode == 1 and "the Docker daemon is not reachable" in result.stderr


@pytest.mark.parametrize("python", ["3.14", "3.12t", "3.15t"])
def test_images_sh_refuses(python, tmp_path):
    result = images_sh(python, tmp_path)
    assert result.returncode == 1
    assert f"PYTHON={python}: choose 3.13 (with the GIL, the default), 3.13t or 3.14t" in result.stderr


needs_make = pytest.mark.skipif(not shutil.which("make"), reason="no make here")


def make(*args):
    return subprocess.run(["make", "-s", *args], cwd=ROOT, capture_output=True, text=True)


@needs_make
@pytest.mark.parametrize("python, tag", [("3.13", ""), ("3.13t", "-3.13t"), ("3.14t", "-3.14t")])
def test_make_accepts_each_build_for_images_with_its_tag(python, tag):
    result = make("--eval", "print-tag: ; @echo '[$(PYTHON_TAG)]'", "check-python", "print-tag", f"PYTHON={python}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"[{tag}]"


@needs_make
def test_make_refuses_an_unknown_build_and_lists_3_14t():
    result = make("check-python", "PYTHON=3.14")
    assert result.returncode == 2 and "3.14t (free-threaded; make images and make up only)" in result.stderr


@needs_make
@pytest.mark.parametrize("setting", ["PYTHON=3.14t", "PYTHONS=3.13,3.14t", "TEST_PYTHONS=3.13 3.14t"])
def test_make_targets_that_run_servers_refuse_3_14t(setting):
    assert make("check-python-run", "PYTHON=3.13t").returncode == 0
    result = make("check-python-run", setting)
    assert result.returncode == 2 and "does not run 3.14t yet" in result.stderr
