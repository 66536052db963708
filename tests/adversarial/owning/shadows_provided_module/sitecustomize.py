# ATTACK shadows_provided_module: a stray module (never imported by the grader; must not even
# reach the worker's folder).
print("ATTACK: stray sitecustomize imported")
