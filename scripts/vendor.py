"""`make vendor`: refresh the front-end files in static/vendor/ from npm.

The packages and their versions are those of static/vendor/package.json. npm installs them into a
temporary directory (no node_modules in the checkout, nothing built at run time), and the files
listed in FILES are copied over the ones in static/vendor/. Review the diff and commit it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "static" / "vendor"

# file inside node_modules -> file under static/vendor
FILES = {
    "htmx.org/dist/htmx.min.js": "htmx/htmx.min.js",
    "htmx.org/LICENSE": "htmx/LICENSE",
    "@picocss/pico/css/pico.min.css": "pico/pico.min.css",
    "@picocss/pico/LICENSE.md": "pico/LICENSE.md",
}


def main() -> int:
    npm = shutil.which("npm")
    if npm is None:
        print("make vendor needs npm (Node.js) on the PATH.", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="herald-vendor-") as tmp:
        shutil.copy(VENDOR / "package.json", tmp)
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--ignore-scripts", "--no-package-lock"],
            cwd=tmp,
            check=True,
        )
        modules = Path(tmp) / "node_modules"
        for source, target in FILES.items():
            destination = VENDOR / target
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(modules / source, destination)
            print(f"static/vendor/{target}  <-  {source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
