"""Course authoring: ``config`` (assignment.yaml), ``release`` (student releases, one step a
file) and ``validate`` (reference full marks, skeleton zero, every mutant caught).
"""
