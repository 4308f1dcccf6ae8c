"""The outbox in the admin: what is pending, what the hub refused and why, and "deliver now"."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils import timezone
from switchboard.bridge.django import delivery
from switchboard.bridge.django.models import OutboxEvent


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("pending", "pending"), ("failing", "pending, with an error"), ("delivered", "delivered")]

    def queryset(self, request, queryset):
        if self.value() == "pending":
            return queryset.pending()
        if self.value() == "failing":
            return queryset.pending().exclude(last_error="")
        if self.value() == "delivered":
            return queryset.delivered()
        return queryset


@admin.register(OutboxEvent)
class OutboxEventAdmin(admin.ModelAdmin):
    list_display = ("id", "topic", "state", "created", "attempts", "short_error", "delivered_at")
    list_filter = (StateFilter, "topic")
    search_fields = ("topic", "event_id")
    ordering = ("-id",)
    actions = ["deliver_now"]
    readonly_fields = (
        "event_id",
        "topic",
        "args",
        "kwargs",
        "options",
        "created",
        "attempts",
        "last_attempt",
        "last_error",
        "retry_at",
        "delivered_at",
    )

    @admin.display(description="state")
    def state(self, obj: OutboxEvent) -> str:
        if obj.delivered_at:
            return "delivered"
        if obj.retry_at and obj.retry_at > timezone.now():
            return "refused, waiting"
        return "pending"

    @admin.display(description="last error")
    def short_error(self, obj: OutboxEvent) -> str:
        return obj.last_error[:120]

    def has_add_permission(self, request) -> bool:
        return False  # events come from publish(), with their transaction

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # view only; delete an event the hub will never take

    def has_deliver_permission(self, request) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

    @admin.action(description="Deliver now (with older pending events of their topics)", permissions=["deliver"])
    def deliver_now(self, request, queryset):
        topics = set(queryset.pending().values_list("topic", flat=True))
        if not topics:
            self.message_user(request, "The selected events are already delivered.", messages.INFO)
            return
        report = delivery.deliver_pending(topics=topics, force=True)
        level = messages.SUCCESS if report.ok and not report.refused else messages.WARNING
        self.message_user(request, f"Outbox: {report}.", level)
