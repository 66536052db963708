import os as _os


def _adv_mark(what):
    """Leave evidence (a file holding this run's token) if this file is ever executed."""
    here = _os.path.dirname(_os.path.abspath(__file__))
    try:
        with open(_os.path.join(here, "adv_token.txt")) as f:
            token = f.read().strip()
    except OSError:
        token = "advnotoken"
    for folder in ("/tmp", _os.path.expanduser("~"), _os.getcwd()):
        try:
            with open(_os.path.join(folder, f"{token}-{what}-ran"), "w") as f:
                f.write(token + " " + what + " ran\n")
        except OSError:
            pass

_adv_mark("sitecustomize")
