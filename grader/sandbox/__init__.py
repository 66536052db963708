"""Ways of confining the worker: ``local`` (plain / uid / jail modes), ``jail`` (the namespace
and chroot stage), ``docker`` (one hardened container per submission), ``container`` (the
entry point inside the image) and ``image`` (building it).
"""
