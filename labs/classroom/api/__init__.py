"""The classroom API: courses (`/api/courses/`), their exercises (`/api/exercises/`) and each
student's attempt (`/api/attempts/`).

A student sees the courses they joined, the exercises of those courses and their own
attempts; a course's teachers also see every attempt of its students. Anything else is a 404,
so that nobody learns which courses or labs exist.
"""
