"""Executes notebooks headless with nbclient; writes the executed copies; exits 1 on the first failing cell."""
import os
import sys

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def main(out_dir, paths):
    os.makedirs(out_dir, exist_ok=True)
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": os.path.dirname(path)}})
        target = os.path.join(out_dir, os.path.basename(path))
        try:
            client.execute()
        except CellExecutionError as e:
            nbformat.write(nb, target)
            print(f"{path}: a cell failed (executed copy in {target}):\n{e}", file=sys.stderr)
            return 1
        nbformat.write(nb, target)
        print(f"{path}: ok ({len(nb.cells)} cells) -> {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
