"""Out to the tools courses already run: ``nbgrader`` (scores into an nbgrader gradebook,
feedback into its course folder) and ``gradescope`` (an autograder zip, and Gradescope's
``results.json``). ``records`` reads a batch's per-student results for both.
"""
