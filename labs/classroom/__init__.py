"""Classrooms: courses with teachers and students, exercises that check themselves, a lab per
student made from an exercise's template, and the teacher's live view of the class."""
