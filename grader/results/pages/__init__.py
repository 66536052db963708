"""HTML reports: a feedback page per student and a class dashboard (``build.write_pages``).

``records`` reads a batch's stored results and makes student text safe, ``model`` turns them
into what the pages show, ``figures`` draws the plots, ``templates/`` holds the pages.
"""
