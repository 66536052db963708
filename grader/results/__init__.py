"""What grading produces: ``scoring`` (events to results.json), ``reports`` (text for people),
``gradebook`` (a batch's records, gradebook.csv and summary).
"""
