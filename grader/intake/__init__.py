"""What comes in: ``archive`` (a submission folder or zip, unpacked defensively) and
``students`` (the students of a class and where their submissions are).
"""
