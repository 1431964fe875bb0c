"""Courses, who is in them, their exercises, and each student's attempt at an exercise."""

import secrets

from django.conf import settings
from django.db import models

JOIN_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud in class
# A new course's bounds, which its teachers may change: a code read out in class (or posted
# where others see it) makes at most this many accounts, and their labs run this many at once.
DEFAULT_MAX_STUDENTS = 100
DEFAULT_MAX_RUNNING_LABS = 40


def new_join_code() -> str:
    return "".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(8))


class Course(models.Model):
    """A class: teachers, students who joined with its code, and exercises."""

    name = models.CharField(max_length=100)
    join_code = models.CharField(max_length=16, unique=True, default=new_join_code)
    joining_open = models.BooleanField(default=True, help_text="students may join with the code")
    joining_until = models.DateTimeField(
        null=True, blank=True, help_text="the code admits no one after this (empty: while joining is open)"
    )
    max_students = models.PositiveIntegerField(
        default=DEFAULT_MAX_STUDENTS, help_text="students who may join (0: no limit)"
    )
    max_running_labs = models.PositiveIntegerField(
        default=DEFAULT_MAX_RUNNING_LABS,
        help_text="students' labs of this course running at once (0: no limit beyond each user's)",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        TEACHER = "teacher", "Teacher"
        STUDENT = "student", "Student"

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="courses")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.STUDENT)
    joined = models.DateTimeField(auto_now_add=True)
    read_until = models.PositiveBigIntegerField(
        default=0, help_text="the last course message this member has read"
    )

    class Meta:
        ordering = ["role", "user__username"]
        constraints = [models.UniqueConstraint(fields=["course", "user"], name="one_membership_per_course")]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) in {self.course}"


class Exercise(models.Model):
    """A lab document with an `exercise:` section: the template each student's lab is made
    from, the instructions, the checks and what students may change."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="exercises")
    title = models.CharField(max_length=200)
    order = models.PositiveIntegerField(default=0)
    document = models.JSONField(help_text="the lab document, with its exercise section")
    version = models.PositiveIntegerField(default=1, help_text="counts the changes of the document")
    references = models.JSONField(
        default=dict,
        blank=True,
        help_text="the ways the solution's probes took, by check: {version, checks: {index: hops}}",
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.title


class Attempt(models.Model):
    """A student's own lab for an exercise and its latest check results."""

    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="attempts")
    student = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="attempts")
    lab = models.OneToOneField("topology.Lab", on_delete=models.CASCADE, related_name="attempt")
    version = models.PositiveIntegerField(default=1, help_text="the exercise version it was made from")
    results = models.JSONField(default=list, blank=True, help_text="the last round of checks")
    score = models.FloatField(default=0.0, help_text="weighted share of checks passed, 0 to 1")
    checking = models.BooleanField(default=False)
    checked = models.DateTimeField(null=True, blank=True)
    late = models.BooleanField(default=False, help_text="checked after its exercise closed")
    first_passed = models.DateTimeField(null=True, blank=True, help_text="when every check first passed")
    failures = models.JSONField(
        default=dict, blank=True, help_text="failed tries of each check, by index: what hints it has shown"
    )
    draw = models.PositiveSmallIntegerField(
        default=0, help_text="which draw of the exercise's variables is the student's (one no other has)"
    )
    solution = models.BooleanField(default=False, help_text="the lab runs the solution (a teacher trying it)")
    started = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["exercise", "student__username"]
        constraints = [
            models.UniqueConstraint(fields=["exercise", "student"], name="one_attempt_per_student"),
        ]

    def __str__(self) -> str:
        return f"{self.student} on {self.exercise}"


class CourseMessage(models.Model):
    """A teacher's message to everyone in the course: kept, so it waits until each member has
    read it and can be read again."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="messages")
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    text = models.CharField(max_length=500)
    sent = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.sender} to {self.course}: {self.text[:40]}"


class LtiCourse(models.Model):
    """A course of an LMS (its LTI context) and the Wirelab course it plays in."""

    tool = models.ForeignKey("lti1p3_tool_config.LtiTool", on_delete=models.CASCADE, related_name="+")
    context_id = models.CharField(max_length=255)
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="lms")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tool", "context_id"], name="one_course_per_lms_context")
        ]

    def __str__(self) -> str:
        return f"{self.context_id} of {self.tool_id} is {self.course}"


class LtiIdentity(models.Model):
    """Who a person of an LMS (its `sub`) is here."""

    tool = models.ForeignKey("lti1p3_tool_config.LtiTool", on_delete=models.CASCADE, related_name="+")
    sub = models.CharField(max_length=255)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lms")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tool", "sub"], name="one_user_per_lms_person")]

    def __str__(self) -> str:
        return f"{self.sub} of {self.tool_id} is {self.user}"


class LtiGrade(models.Model):
    """Where an attempt's score goes in its LMS's gradebook (AGS), and what was sent last."""

    attempt = models.OneToOneField(Attempt, on_delete=models.CASCADE, related_name="lms_grade")
    tool = models.ForeignKey("lti1p3_tool_config.LtiTool", on_delete=models.CASCADE, related_name="+")
    sub = models.CharField(max_length=255)
    endpoint = models.JSONField(help_text="the launch's AGS claim: scope, lineitem")
    sent_score = models.FloatField(null=True, blank=True)
    sent = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True, default="")

    def __str__(self) -> str:
        return f"the score of {self.attempt} for {self.sub}"


class AttemptEvent(models.Model):
    """One moment of a student's attempt: an edit (with the lab's document as it then was), a
    deploy or stop, a round of checks, a trace, a command, a console opened or closed."""

    class Kind(models.TextChoices):
        EDIT = "edit", "Edit"
        LAB = "lab", "Deploy or stop"
        CHECK = "check", "Checks"
        TRACE = "trace", "Trace"
        COMMAND = "command", "Command"
        CONSOLE = "console", "Console"

    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="events")
    time = models.DateTimeField(auto_now=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    summary = models.CharField(max_length=300)
    document = models.JSONField(null=True, blank=True, help_text="edits: the lab's document after it")
    score = models.FloatField(null=True, blank=True, help_text="checks: the round's score")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.time:%H:%M:%S} {self.kind}: {self.summary}"
