"""get.py: GET an HTTPS URL with Python's ssl module in strict mode (as connect.py:
VERIFY_X509_STRICT on, VERIFY_X509_PARTIAL_CHAIN off, host name checked) and basic
auth. The password comes from the environment (ESCERT_PASSWORD), never argv.

Usage: python3 get.py <url> <ca.pem> <user>
Prints the status and the body; exit codes: 0 status 200, 1 anything else.
"""

import base64
import os
import ssl
import sys
import urllib.error
import urllib.request


def main(argv):
    url, cafile, user = argv[1], argv[2], argv[3]
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    ctx.verify_flags &= ~getattr(ssl, "VERIFY_X509_PARTIAL_CHAIN", 0)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    token = base64.b64encode(f"{user}:{os.environ.get('ESCERT_PASSWORD', '')}".encode()).decode()
    req = urllib.request.Request(url, headers={"Authorization": "Basic " + token})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=20) as resp:
            print(resp.status, resp.read().decode())
            return 0 if resp.status == 200 else 1
    except urllib.error.HTTPError as e:
        print(e.code, e.read().decode())
    except (OSError, ssl.SSLError) as e:
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
