"""Living documents: SOPs (daily prevention, group buying, testing) and job descriptions
(DOMAIN.md "Lockdown operations" and "Emergency information platform": 岗位说明书).

A ``Document`` is the mutable head (title, kind, visibility, the current version number); its
text lives in ``DocumentVersion`` rows, written once and never changed (the ORM refuses; on
PostgreSQL a trigger refuses as well, migration 0002). Versions are numbered 1, 2, 3 … and shown
as "1.0", "2.0", "3.0". A resident's ``Suggestion`` proposes a new text against a version; a
group leader accepts it into the next version (the resident credited as its author) or rejects
it with a note.

Job descriptions are a document kind (``job_description``): the living text (duties, workflow,
how-to) is versioned here, and it may link to the structured 岗位说明书 record of the org chart
(``orgs.JobDescription``, one per group or role) that it belongs to.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from huzhu.core.models import AppendOnlyModel, TimeStampedModel

# The image types a flowchart may have (recognized by content, huzhu.documents.images) and the
# extension a stored file gets.
FLOWCHART_EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
}


class DocumentKind(models.TextChoices):
    SOP_PREVENTION = "sop_prevention", _("日常防疫 SOP")
    SOP_GROUP_BUY = "sop_group_buy", _("团购 SOP")
    SOP_TESTING = "sop_testing", _("核酸检测 SOP")
    JOB_DESCRIPTION = "job_description", _("岗位说明书")
    OTHER = "other", _("其他文档")


class Visibility(models.TextChoices):
    PUBLIC = "public", _("公开")
    COMMUNITY = "community", _("本社区")
    GROUP = "group", _("仅本小组")


class SuggestionState(models.TextChoices):
    OPEN = "open", _("待处理")
    ACCEPTED = "accepted", _("已采纳")
    REJECTED = "rejected", _("未采纳")


def version_label(number: int) -> str:
    """“2.0” for version 2."""
    return f"{number}.0"


class Document(TimeStampedModel):
    """One living document of a community, owned by a functional group (or the community)."""

    community = models.ForeignKey(
        "orgs.Community",
        on_delete=models.PROTECT,
        related_name="documents",
        verbose_name=_("社区"),
    )
    group = models.ForeignKey(
        "orgs.Group",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="documents",
        verbose_name=_("负责小组"),
    )
    job_description = models.ForeignKey(
        "orgs.JobDescription",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="documents",
        verbose_name=_("对应岗位"),
    )
    kind = models.CharField(_("类别"), max_length=20, choices=DocumentKind.choices)
    title = models.CharField(_("标题"), max_length=100)
    visibility = models.CharField(
        _("可见范围"), max_length=10, choices=Visibility.choices, default=Visibility.COMMUNITY
    )
    current_version = models.PositiveIntegerField(_("当前版本"), default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    create_key = models.CharField(max_length=128, editable=False)

    class Meta:
        verbose_name = _("文档")
        verbose_name_plural = _("文档")
        ordering = ["community_id", "kind", "title", "pk"]
        indexes = [models.Index(fields=["community", "kind"], name="document_community_kind")]
        constraints = [
            models.UniqueConstraint(
                fields=["created_by", "create_key"], name="document_unique_create_key"
            ),
            models.CheckConstraint(
                condition=~Q(visibility="group") | Q(group__isnull=False),
                name="document_group_visibility_needs_group",
            ),
            models.CheckConstraint(
                condition=Q(current_version__gte=1), name="document_version_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def version_label(self) -> str:
        return version_label(self.current_version)

    def policy_scope(self) -> Any:
        """Where the document sits: its community and its owning group (and above)."""
        from huzhu.accounts.policy import Scope

        groups: tuple[int, ...] = ()
        if self.group is not None:
            groups = (self.group.pk, *self.group.ancestor_ids())
        return Scope(self.community.alliance_id, self.community_id, None, groups)


def flowchart_path(instance: DocumentVersion, filename: str) -> str:
    """Under MEDIA_ROOT by document, a random name with the extension of the recognized type
    (the uploaded name is not used)."""
    ext = FLOWCHART_EXTENSIONS.get(instance.flowchart_type, "")
    return f"documents/{instance.document_id}/{uuid.uuid4().hex}{ext}"


class DocumentVersion(AppendOnlyModel):
    """One version of a document's text: who wrote it, who saved it, when, and why."""

    document = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="versions")
    community = models.ForeignKey("orgs.Community", on_delete=models.PROTECT, related_name="+")
    number = models.PositiveIntegerField(_("版本号"))
    body = models.TextField(_("正文"))
    summary = models.CharField(_("修改说明"), max_length=200)
    # The person whose text this is (a resident whose suggestion was accepted), and the person
    # who saved it (the group leader who accepted it; the same person for a direct edit).
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("作者"),
    )
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("发布人"),
    )
    based_on = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("基于版本"),
    )
    flowchart = models.FileField(_("流程图"), upload_to=flowchart_path, max_length=200, blank=True)
    flowchart_type = models.CharField(_("流程图类型"), max_length=20, blank=True)
    created_at = models.DateTimeField(_("时间"))
    key = models.CharField(max_length=128, blank=True)

    class Meta:
        verbose_name = _("文档版本")
        verbose_name_plural = _("文档版本")
        ordering = ["document_id", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["document", "number"], name="docversion_unique_number"),
            models.UniqueConstraint(
                fields=["document", "key"], condition=~Q(key=""), name="docversion_unique_key"
            ),
            models.CheckConstraint(condition=Q(number__gte=1), name="docversion_number_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.document_id} v{self.label}"

    @property
    def label(self) -> str:
        return version_label(self.number)


class Suggestion(TimeStampedModel):
    """A resident's proposed text for a document, against the version they read."""

    document = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="suggestions")
    community = models.ForeignKey("orgs.Community", on_delete=models.PROTECT, related_name="+")
    base_version = models.ForeignKey(
        DocumentVersion, on_delete=models.PROTECT, related_name="+", verbose_name=_("基于版本")
    )
    body = models.TextField(_("建议正文"))
    reason = models.CharField(_("修改理由"), max_length=500)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("建议人"),
    )
    state = models.CharField(
        _("状态"), max_length=10, choices=SuggestionState.choices, default=SuggestionState.OPEN
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("处理人"),
    )
    decided_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    decision_note = models.CharField(_("处理说明"), max_length=500, blank=True)
    resulting_version = models.OneToOneField(
        DocumentVersion,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="accepted_suggestion",
        verbose_name=_("采纳后的版本"),
    )
    key = models.CharField(max_length=128, editable=False)

    class Meta:
        verbose_name = _("修改建议")
        verbose_name_plural = _("修改建议")
        ordering = ["document_id", "-created_at", "-pk"]
        indexes = [models.Index(fields=["document", "state"], name="suggestion_document_state")]
        constraints = [
            models.UniqueConstraint(fields=["author", "key"], name="suggestion_unique_key"),
            models.CheckConstraint(
                condition=~Q(state="accepted") | Q(resulting_version__isnull=False),
                name="suggestion_accepted_has_version",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document_id}: {self.reason[:30]}"

    @property
    def state_label(self) -> str:
        return str(SuggestionState(self.state).label)
