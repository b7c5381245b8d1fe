"""Non-convex test functions shared by parts 3 and 4 (rugged bowls, Gaussian dips, double wells).

Each module documents its landscape, the chapter that uses it, and closed forms for its critical
points and curvatures. Import from the modules directly.
"""
