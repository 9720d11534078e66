"""Stand-in for the pip bootstrap script that ansible-test downloads.

ansible-test fetches get-pip.py from a CI host our build machines cannot reach.
`make sanity` puts this file where ansible-test caches that script: it installs
the interpreter's bundled pip with ensurepip (no download), then installs the pip
version ansible-test asked for from the package index pip is configured with.
"""

import subprocess
import sys


def main():
    # get-pip.py's own flags have no meaning for `pip install`.
    args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
    subprocess.check_call([sys.executable, "-m", "pip", "install", *args])


if __name__ == "__main__":
    main()
