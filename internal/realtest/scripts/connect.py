"""connect.py: a TLS handshake with Python's ssl module in strict mode, then read the
server's first line.

Strict means what Python 3.13 made the default: VERIFY_X509_STRICT on (RFC 5280 checks
such as CA key usage and authority key identifier) and VERIFY_X509_PARTIAL_CHAIN off
(the chain must end at a CA from the CA file), with hostname checking on.

Usage: python3 connect.py <host> <port> <ca.pem> <server hostname or ""> <line wait s>
Exit codes: 0 accepted, 1 connection or handshake failure, 2 usage, 3 CA file unreadable.
"""

import socket
import ssl
import sys


def main(argv):
    if len(argv) != 6:
        print("usage: connect.py <host> <port> <ca.pem> <server hostname> <line wait s>", file=sys.stderr)
        return 2
    host, port, cafile, server_hostname, wait = argv[1], int(argv[2]), argv[3], argv[4], float(argv[5])
    try:
        ctx = ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as e:
        print(f"load CA file: {e}", file=sys.stderr)
        return 3
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    ctx.verify_flags &= ~getattr(ssl, "VERIFY_X509_PARTIAL_CHAIN", 0)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    try:
        with socket.create_connection((host, port), timeout=30) as raw:
            # server_hostname may be an IP string: Python then checks the IP SANs and
            # sends no SNI.
            with ctx.wrap_socket(raw, server_hostname=server_hostname or host) as tls:
                tls.settimeout(wait)
                data = b""
                try:
                    while b"\n" not in data:
                        chunk = tls.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                except socket.timeout:  # TimeoutError since 3.10
                    data = b"SILENT " + tls.version().encode()
                line = data.split(b"\n", 1)[0].decode("utf-8", "replace")
                print(line or "CLOSED")
    except OSError as e:
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
