"""skelnb.data.pku's checks live in nbs/11_data.pku.ipynb; this one needs a fresh interpreter (the notebook itself
imports openpyxl), so it stays here: importing the package does not import openpyxl."""

import subprocess
import sys


def test_package_does_not_import_openpyxl():
    code = "import sys, skelnb.data.pku; print('openpyxl' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )
