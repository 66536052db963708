"""What comes in: ``archive`` (a submission folder or zip, unpacked defensively), ``notebook``
(a notebook submission, read as data, its student cells assembled into the module files) and
``students`` (the students of a class and where their submissions are).
"""
