"""The organisation tree: alliance → community → building, functional groups, job descriptions.

Every community-scoped table carries ``community`` (the tenant key), so that distributing tables
by community later is a deployment change.
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from huzhu.core.models import TimeStampedModel, localized


class Alliance(TimeStampedModel):
    """总联盟: the top of the tree. Points are valid in every community of an alliance."""

    name = models.CharField(_("名称"), max_length=100, unique=True)
    name_en = models.CharField(_("英文名称"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("联盟")
        verbose_name_plural = _("联盟")
        ordering = ["id"]

    def __str__(self) -> str:
        return localized(self.name, self.name_en)


class Community(TimeStampedModel):
    """社区分会 / 小区."""

    alliance = models.ForeignKey(
        Alliance, on_delete=models.PROTECT, related_name="communities", verbose_name=_("联盟")
    )
    name = models.CharField(_("名称"), max_length=100)
    name_en = models.CharField(_("英文名称"), max_length=100, blank=True)
    district = models.CharField(_("街道 / 区"), max_length=100, blank=True)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    latitude = models.DecimalField(_("纬度"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(
        _("经度"), max_digits=9, decimal_places=6, null=True, blank=True
    )

    class Meta:
        verbose_name = _("社区")
        verbose_name_plural = _("社区")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["alliance", "name"], name="community_unique_name"),
        ]

    def __str__(self) -> str:
        return localized(self.name, self.name_en)


class Building(TimeStampedModel):
    """楼栋."""

    community = models.ForeignKey(
        Community, on_delete=models.PROTECT, related_name="buildings", verbose_name=_("社区")
    )
    name = models.CharField(_("楼号"), max_length=50)
    floors = models.PositiveSmallIntegerField(
        _("楼层数"), default=6, validators=[MinValueValidator(1), MaxValueValidator(200)]
    )
    latitude = models.DecimalField(_("纬度"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(
        _("经度"), max_digits=9, decimal_places=6, null=True, blank=True
    )

    class Meta:
        verbose_name = _("楼栋")
        verbose_name_plural = _("楼栋")
        ordering = ["community_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["community", "name"], name="building_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.community} {self.name}"


class Group(TimeStampedModel):
    """A functional group (职能组), a tree of data under a community or one of its buildings."""

    community = models.ForeignKey(
        Community, on_delete=models.PROTECT, related_name="groups", verbose_name=_("社区")
    )
    building = models.ForeignKey(
        Building,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="groups",
        verbose_name=_("楼栋"),
    )
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("上级组"),
    )
    name = models.CharField(_("名称"), max_length=100)
    name_en = models.CharField(_("英文名称"), max_length=100, blank=True)
    description = models.TextField(_("说明"), blank=True)

    class Meta:
        verbose_name = _("职能组")
        verbose_name_plural = _("职能组")
        ordering = ["community_id", "parent_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["community", "parent", "name"], name="group_unique_name_under_parent"
            ),
        ]

    def __str__(self) -> str:
        return localized(self.name, self.name_en)

    def ancestors(self) -> list[Group]:
        chain: list[Group] = []
        node = self.parent
        while node is not None:
            chain.append(node)
            node = node.parent
        return chain

    def ancestor_ids(self) -> list[int]:
        return [g.pk for g in self.ancestors()]


class JobDescription(TimeStampedModel):
    """岗位说明书: purpose, duties, workflow and how-to, attached to a group or a role."""

    community = models.ForeignKey(
        Community, on_delete=models.PROTECT, related_name="job_descriptions", verbose_name=_("社区")
    )
    group = models.ForeignKey(
        Group,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="job_descriptions",
        verbose_name=_("职能组"),
    )
    role = models.CharField(_("角色"), max_length=32, blank=True)
    title = models.CharField(_("岗位名称"), max_length=100)
    purpose = models.TextField(_("岗位目的"))
    duties = models.TextField(_("工作职责"))
    workflow = models.TextField(_("工作流程"), blank=True)
    howto = models.TextField(_("操作指引"), blank=True)

    class Meta:
        verbose_name = _("岗位说明书")
        verbose_name_plural = _("岗位说明书")
        ordering = ["community_id", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~(models.Q(group__isnull=True) & models.Q(role="")),
                name="jobdescription_has_group_or_role",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class SettingOverride(TimeStampedModel):
    """One domain number overridden on one node of the tree (see huzhu.core.registry)."""

    key = models.CharField(_("设置项"), max_length=64)
    alliance = models.ForeignKey(Alliance, on_delete=models.CASCADE, null=True, blank=True)
    community = models.ForeignKey(Community, on_delete=models.CASCADE, null=True, blank=True)
    building = models.ForeignKey(Building, on_delete=models.CASCADE, null=True, blank=True)
    value = models.CharField(_("值"), max_length=64)
    updated_by = models.ForeignKey(
        "accounts.Person", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("设置覆盖")
        verbose_name_plural = _("设置覆盖")
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(alliance__isnull=False, community__isnull=True, building__isnull=True)
                    | models.Q(
                        alliance__isnull=True, community__isnull=False, building__isnull=True
                    )
                    | models.Q(
                        alliance__isnull=True, community__isnull=False, building__isnull=False
                    )
                ),
                name="settingoverride_one_node",
            ),
            models.UniqueConstraint(
                fields=["key", "alliance"],
                condition=models.Q(alliance__isnull=False),
                name="settingoverride_unique_alliance",
            ),
            models.UniqueConstraint(
                fields=["key", "community"],
                condition=models.Q(community__isnull=False, building__isnull=True),
                name="settingoverride_unique_community",
            ),
            models.UniqueConstraint(
                fields=["key", "building"],
                condition=models.Q(building__isnull=False),
                name="settingoverride_unique_building",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key}={self.value}"
