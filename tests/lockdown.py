"""What every connlab container must have (issue 6), checked on the composed config."""

LOOPBACK = "127.0.0.1"


def is_root(user):
    """True for a missing user (the image decides: assume the worst) or uid/name root."""
    name = str(user or "").split(":")[0]
    return name in ("", "0", "root")


def problems(service, bind_address=LOOPBACK):
    """The lockdown rules a service from `compose config --format json` breaks."""
    found = []
    limits = service.get("deploy", {}).get("resources", {}).get("limits", {})
    if is_root(service.get("user")):
        found.append(f"runs as root (user: {service.get('user')!r})")
    if service.get("read_only") is not True:
        found.append("root filesystem is writable (read_only is not true)")
    if not service.get("tmpfs"):
        found.append("no tmpfs for what it must write")
    if service.get("cap_drop") != ["ALL"]:
        found.append(f"cap_drop is {service.get('cap_drop')!r}, not [ALL]")
    if service.get("cap_add"):
        found.append(f"cap_add gives back {service['cap_add']!r}")
    if not any(opt in ("no-new-privileges:true", "no-new-privileges") for opt in service.get("security_opt", [])):
        found.append("no no-new-privileges")
    if not int(service.get("mem_limit") or limits.get("memory") or 0):
        found.append("no memory limit")
    if not int(service.get("pids_limit") or limits.get("pids") or 0):
        found.append("no pid limit")
    healthcheck = service.get("healthcheck") or {}
    if healthcheck.get("disable") or not healthcheck.get("test") or healthcheck["test"][0] == "NONE":
        found.append("no healthcheck")
    if service.get("restart") != "unless-stopped":
        found.append(f"restart is {service.get('restart')!r}, not unless-stopped")
    if service.get("privileged") or service.get("network_mode") == "host" or service.get("pid") == "host":
        found.append("privileged or host namespaces")
    for port in service.get("ports", []):
        if port.get("host_ip") != bind_address:
            found.append(f"port {port.get('published')}->{port.get('target')} bound to {port.get('host_ip') or 'every address'}, not {bind_address}")
    return found
