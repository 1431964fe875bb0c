"""Courses, members, exercises and attempts in the Django admin."""

from django.contrib import admin

from .models import (
    Attempt,
    AttemptEvent,
    Course,
    CourseMessage,
    Exercise,
    LtiCourse,
    LtiGrade,
    LtiIdentity,
    Membership,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ["name", "join_code", "joining_open", "max_running_labs", "created_by", "created"]
    search_fields = ["name", "join_code"]
    inlines = [MembershipInline]
    raw_id_fields = ["created_by"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "course", "role", "joined"]
    list_filter = ["role", "course"]
    search_fields = ["user__username", "course__name"]
    raw_id_fields = ["user"]


@admin.register(Exercise)
class ExerciseAdmin(admin.ModelAdmin):
    list_display = ["title", "course", "order", "version", "updated"]
    list_filter = ["course"]
    readonly_fields = ["document", "version"]


@admin.register(Attempt)
class AttemptAdmin(admin.ModelAdmin):
    list_display = ["student", "exercise", "score", "checked", "lab"]
    list_filter = ["exercise__course", "exercise"]
    search_fields = ["student__username"]
    readonly_fields = ["exercise", "student", "lab", "version", "results", "score", "checking", "checked"]


@admin.register(CourseMessage)
class CourseMessageAdmin(admin.ModelAdmin):
    list_display = ["course", "sender", "text", "sent"]
    list_filter = ["course"]
    search_fields = ["text", "sender__username", "course__name"]
    raw_id_fields = ["sender"]


@admin.register(LtiCourse)
class LtiCourseAdmin(admin.ModelAdmin):
    list_display = ["context_id", "tool", "course"]
    list_filter = ["tool"]
    raw_id_fields = ["course"]


@admin.register(LtiIdentity)
class LtiIdentityAdmin(admin.ModelAdmin):
    list_display = ["sub", "tool", "user"]
    search_fields = ["sub", "user__username"]
    raw_id_fields = ["user"]


@admin.register(LtiGrade)
class LtiGradeAdmin(admin.ModelAdmin):
    """Where each attempt's score goes in its LMS, what was sent last, and the LMS's error."""

    list_display = ["attempt", "sub", "sent_score", "sent", "error"]
    readonly_fields = ["attempt", "tool", "sub", "endpoint", "sent_score", "sent", "error"]


@admin.register(AttemptEvent)
class AttemptEventAdmin(admin.ModelAdmin):
    list_display = ["attempt", "time", "kind", "summary", "score"]
    list_filter = ["kind"]
    search_fields = ["attempt__student__username", "summary"]
    readonly_fields = ["attempt", "time", "kind", "summary", "document", "score"]
