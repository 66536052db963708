"""The wire between harness and worker: ``protocol`` (the frame format, used by both sides)
and ``bridge`` (the harness-side proxies that talk to the worker and distrust its replies).

This file imports nothing: the untrusted worker imports ``protocol`` through it.
"""
