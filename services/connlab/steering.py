"""Steering for an SO_REUSEPORT group: which of its listening sockets a new connection
goes to. By default the kernel hashes the connection's addresses and ports (`hash`). A
classic BPF program attached to the group with SO_ATTACH_REUSEPORT_CBPF (Linux 4.5; no
privilege needed; as NGINX and Envoy can, and Cloudflare tried in 2017) returns the
socket's index instead: the CPU the connection's first packet was handled on (`cpu`),
or a random number (`random`), modulo the group's size.
"""

import ctypes
import socket

SO_ATTACH_REUSEPORT_CBPF = 51  # asm-generic/socket.h
# Classic BPF (linux/filter.h): load a word from an "ancillary" offset, A %= k, return A.
BPF_LD_W_ABS, BPF_ALU_MOD_K, BPF_RET_A = 0x20, 0x94, 0x16
SKF_AD_OFF, SKF_AD_CPU, SKF_AD_RANDOM = -0x1000, 36, 56
SOURCES = {"cpu": SKF_AD_CPU, "random": SKF_AD_RANDOM}
CHOICES = ("hash", *SOURCES)


class SteeringError(Exception):
    pass


class SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(SockFilter))]


def program(how, size):
    """The instructions that pick a socket `how`, among `size`."""
    return [SockFilter(BPF_LD_W_ABS, 0, 0, (SKF_AD_OFF + SOURCES[how]) & 0xFFFFFFFF),
            SockFilter(BPF_ALU_MOD_K, 0, 0, size), SockFilter(BPF_RET_A, 0, 0, 0)]  # fmt: skip


def steer(listeners, how):
    """Attach `how`'s program to the group of `listeners` (all bound to one port, in
    their order: the program's index is a position in the group)."""
    if how == "hash" or len(listeners) < 2:
        return
    code = (SockFilter * 3)(*program(how, len(listeners)))
    fprog = SockFprog(len(code), code)  # points at `code`, alive until setsockopt returns
    try:
        listeners[0].setsockopt(socket.SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, bytes(fprog))
    except OSError as exc:
        raise SteeringError(f"STEERING={how}: the kernel refused SO_ATTACH_REUSEPORT_CBPF ({exc.strerror}); "
                            "it needs Linux 4.5 or later. Use STEERING=hash, the kernel's own.") from None
