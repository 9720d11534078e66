"""Put the docs site's sources together after antsibull-docs wrote the collection's pages (make docs):

- the guides, the README and docs/runbooks.md, as Markdown pages (Sphinx reads them through myst-parser), linked
  from the collection's index under "Guides";
- the Sphinx inventory of the few labels of Ansible's own docs that antsibull-docs's pages refer to, so the site
  builds without fetching docs.ansible.com's inventory (and those references still link there).

    python docs/site/assemble.py REPO SITE     (SITE holds rst/, written by antsibull-docs)
"""

from __future__ import annotations

import sys
import zlib
from pathlib import Path

GUIDES = {"guide": "README.md", "runbooks": "docs/runbooks.md"}
# a link between guides, as the repository spells it -> as the site does
LINKS = {"](docs/runbooks.md": "](runbooks.md"}
LABELS = {
    "common_return_values": ("reference_appendices/common_return_values.html#common-return-values", "Return Values"),
    "callback_plugins": ("plugins/callback.html#callback-plugins", "Callback plugins"),
    "ansible_configuration_settings": ("reference_appendices/config.html#ansible-configuration-settings", "Ansible Configuration Settings"),
}


def inventory(path: Path) -> None:
    header = b"# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n# The remainder of this file is compressed using zlib.\n"
    body = "".join("%s std:label -1 %s %s\n" % (name, uri, title) for name, (uri, title) in sorted(LABELS.items()))
    path.write_bytes(header + zlib.compress(body.encode()))


def main(repo: Path, site: Path) -> None:
    rst = site / "rst"
    index = rst / "index.rst"
    text = index.read_text()
    if "\nGuides\n------\n" not in text:
        for page, source in GUIDES.items():
            markdown = (repo / source).read_text()
            for old, new in LINKS.items():
                markdown = markdown.replace(old, new)
            (rst / ("%s.md" % page)).write_text(markdown)
        toctree = "\n".join("   %s" % page for page in GUIDES)
        index.write_text(text.rstrip("\n") + "\n\nGuides\n------\n\n.. toctree::\n   :maxdepth: 2\n\n%s\n" % toctree)
    inventory(site / "ansible_devel.inv")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
