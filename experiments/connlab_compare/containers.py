"""Docker, through its SDK (the `docker` package): the one place the lab and the
benchmarks start, ask and remove containers. Every failure is a ContainerError.

An engine is the environment's (DOCKER_HOST, or Docker's default), or one named by its
address as Docker contexts name them (`ssh://user@host`, `tcp://host:2376`,
`unix:///path`): a container started on it is then asked and removed through it too.

A command run inside a container with a time limit runs under the container's own
`timeout` (coreutils or busybox): the SDK's exec has no limit of its own.
"""

import functools
import time

import docker
import docker.errors


class ContainerError(Exception):
    pass


@functools.cache
def client(engine=None):
    """The engine at `engine`, or the environment's."""
    try:
        return docker.DockerClient(base_url=engine, timeout=300) if engine else docker.from_env(timeout=300)
    except docker.errors.DockerException as exc:
        raise ContainerError(f"Docker is not reachable{f' at {engine}' if engine else ''}: {exc}") from None


def _calling(what, function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except docker.errors.DockerException as exc:
        raise ContainerError(f"docker {what}: {getattr(exc, 'explanation', None) or exc}") from None


def version(engine=None):
    return _calling("version", client(engine).version)["Version"]


def info(engine=None):
    """The engine's machine: {"Name", "NCPU", "KernelVersion", ...} (docker info)."""
    return _calling("info", client(engine).info)


def image_id(image, engine=None):
    """The image's id, or None where it is not on the engine."""
    try:
        return client(engine).images.get(image).id
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.DockerException as exc:  # an engine that does not answer
        raise ContainerError(f"docker image inspect {image}: {exc}") from None


def network(name):
    return _calling("network create", client().networks.create, name)


def remove_network(name):
    try:
        client().networks.get(name).remove()
    except docker.errors.NotFound:
        pass


def connect(name, container):
    """`container` joins network `name`; disconnect: it leaves it."""
    _calling("network connect", client().networks.get(name).connect, container)


def disconnect(name, container):
    _calling("network disconnect", client().networks.get(name).disconnect, container)


def run(image, command=None, *, name, network=None, aliases=(), cpus=None, env=None, volumes=None, engine=None,
        **options):
    """A container started detached (on `engine`): `cpus` as --cpuset-cpus takes them,
    `aliases` its names on `network` besides `name`, `volumes` {source: (destination,
    "ro"|"rw")}; `options`: docker-py's (sysctls, entrypoint, user, pids_limit...)."""
    if aliases:
        endpoint = client(engine).api.create_endpoint_config(aliases=list(aliases))
        options["networking_config"] = {network: endpoint}
    binds = {source: {"bind": bind, "mode": mode} for source, (bind, mode) in (volumes or {}).items()}
    return _calling(f"run {image}", client(engine).containers.run, image, command, name=name, detach=True,
                    network=network, cpuset_cpus=cpus, environment=env, volumes=binds, **options)  # fmt: skip


def run_to_end(image, command, *, name=None, timeout=300, stderr=True, **options):
    """(exit status, output) of a container run to its end (removed after, whatever
    happens); a ContainerError past `timeout` seconds. `stderr`: in the output too."""
    container = run(image, command, name=name, **options)
    try:
        status = _calling(f"wait {image}", container.wait, timeout=timeout)["StatusCode"]
    except ContainerError:
        raise ContainerError(f"{image} {' '.join(command or [])}: not done in {timeout} s") from None
    finally:
        output = logs(container, tail="all", stderr=stderr)
        remove(container)
    return status, output


def get(name, engine=None):
    return _calling(f"inspect {name}", client(engine).containers.get, name)


def cpu_usage(container):
    """(CPU-seconds, of them in user code) the container has used, from its engine's
    stats (for a container whose cgroup files are on another machine); None where it
    has gone."""
    try:
        stats = container.stats(stream=False, one_shot=True)
        used = stats["cpu_stats"]["cpu_usage"]
        return used["total_usage"] / 1e9, used["usage_in_usermode"] / 1e9
    except (docker.errors.DockerException, KeyError):
        return None


def _container(container):
    """A container, given one or its name."""
    return get(container) if isinstance(container, str) else container


def execute(container, argv, timeout=None, **options):
    """(exit status, output) of `argv` run in `container` (a name or a container)."""
    container = _container(container)
    argv = ["timeout", str(timeout), *argv] if timeout else list(argv)
    result = _calling(f"exec {argv[0]}", container.exec_run, argv, **options)
    return result.exit_code, result.output.decode(errors="replace")


def logs(container, tail=20, stderr=True):
    container = _container(container)
    try:
        return container.logs(tail=tail, stderr=stderr).decode(errors="replace")
    except docker.errors.DockerException as exc:
        return f"(no logs: {exc})"


def stop(container, timeout=10):
    """Stopped (SIGTERM, then SIGKILL after `timeout` seconds) and removed."""
    container = _container(container)
    _calling(f"stop {container.name}", container.stop, timeout=timeout)
    remove(container)


def remove(container):
    """Removed, running or not; nothing if it is gone already."""
    try:
        _container(container).remove(force=True)
    except (docker.errors.NotFound, ContainerError):
        pass


def named(prefix, engine=None):
    """Every container (running or not) whose name starts with `prefix`."""
    found = _calling("ps", client(engine).containers.list, all=True, filters={"name": prefix})
    return [container for container in found if container.name.startswith(prefix)]


def labelled(**labels):
    """The running containers with these labels."""
    filters = {"label": [f"{key}={value}" for key, value in labels.items()]}
    return _calling("ps", client().containers.list, filters=filters)


def volume(name, labels=None):
    """The volume `name`, created (with `labels`) if it is not there."""
    try:
        return client().volumes.get(name)
    except docker.errors.NotFound:
        return _calling("volume create", client().volumes.create, name, labels=labels or {})


def wait_ready(container, argv, timeout=60, what=None):
    """Until `argv` succeeds in `container` (the target's own readiness check: it answers
    on its port); a ContainerError with its last log lines if it does not in `timeout` s."""
    container = _container(container)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        container.reload()
        if container.status == "exited":
            break
        try:
            if execute(container, argv, timeout=10)[0] == 0:
                return
        except ContainerError:
            pass  # not running yet, or gone: its log says
        time.sleep(0.1)
    raise ContainerError(f"{what or container.name} did not answer in {timeout} s:\n{logs(container)}")
