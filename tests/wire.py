"""Raw-socket helpers shared by the tests, fuzz and soak runs."""


def read_exactly(sock, length):
    """Up to `length` bytes: fewer only if the peer closed first."""
    got = bytearray()
    while len(got) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
    return bytes(got)


def read_until_closed(sock):
    got = bytearray()
    while chunk := sock.recv(65536):
        got += chunk
    return bytes(got)


def exchange(sock, request, reply):
    """Send `request`; True if exactly `reply` comes back."""
    sock.sendall(request)
    return read_exactly(sock, len(reply)) == reply


def expect(sock, request, reply):
    """Send `request`; raise unless exactly `reply` comes back: ConnectionError if the
    peer closes first, AssertionError if other bytes come."""
    sock.sendall(request)
    got = read_exactly(sock, len(reply))
    if len(got) < len(reply):
        raise ConnectionError(f"closed after {len(got)} of {len(reply)} reply bytes")
    if got != reply:
        raise AssertionError(f"expected {reply[:60]!r}, got {got[:60]!r}")
