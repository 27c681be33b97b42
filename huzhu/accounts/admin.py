"""People, households, skills and grants in the Django admin, for superusers only.

Personal data is never shown in clear here: lists and forms show the masked value, and the form
takes a new value without displaying the old one (a reveal belongs to ``reveal_pii``, which is
audited). Phone and ID number are set through ``Person.set_phone`` / ``set_id_number`` so that
their blind indexes stay right.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from huzhu.accounts import pii
from huzhu.accounts.models import (
    ApiToken,
    AvailabilityException,
    AvailabilitySlot,
    Certificate,
    Household,
    Person,
    PersonSkill,
    RoleGrant,
    Skill,
)


class SuperuserOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Visible and editable by superusers only, whatever Django permissions a staff user has."""

    def _is_superuser(self, request: HttpRequest) -> bool:
        return bool(getattr(request.user, "is_superuser", False))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._is_superuser(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._is_superuser(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._is_superuser(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._is_superuser(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._is_superuser(request)


class PersonAdminForm(forms.ModelForm):  # type: ignore[type-arg]
    """Write-only PII inputs: empty means unchanged, the current value is never displayed."""

    new_phone = forms.CharField(
        label=_("新手机号"), required=False, max_length=20, help_text=_("留空则不修改")
    )
    new_id_number = forms.CharField(
        label=_("新身份证号"), required=False, max_length=20, help_text=_("留空则不修改")
    )
    new_emergency_contact = forms.CharField(
        label=_("新紧急联系人"), required=False, max_length=200, help_text=_("留空则不修改")
    )
    new_password = forms.CharField(
        label=_("初始密码"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("留空则不修改"),
    )

    class Meta:
        model = Person
        fields = (
            "name",
            "gender",
            "birth_date",
            "community",
            "household",
            "languages",
            "latitude",
            "longitude",
            "status",
            "status_until",
            "preferred_language",
            "large_text",
            "is_active",
            "is_staff",
            "is_superuser",
        )

    def clean_new_phone(self) -> str:
        phone = pii.normalize_phone(self.cleaned_data.get("new_phone") or "")
        if not phone:
            if self.instance._state.adding:
                raise forms.ValidationError(_("手机号不能为空。"))
            return ""
        if not pii.is_valid_phone(phone):
            raise forms.ValidationError(_("手机号格式不正确，应为 11 位大陆手机号。"))
        taken = Person.objects.filter(phone_hash=pii.phone_index(phone))
        if self.instance.pk is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError(_("该手机号已注册。"))
        return phone

    def clean_new_id_number(self) -> str:
        value = pii.normalize_id_number(self.cleaned_data.get("new_id_number") or "")
        if not value:
            return ""
        if not pii.is_valid_id_number(value):
            raise forms.ValidationError(_("身份证号格式或校验位不正确。"))
        taken = Person.objects.filter(id_number_hash=pii.id_number_index(value))
        if self.instance.pk is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError(_("该身份证号已登记。"))
        return value

    def save(self, commit: bool = True) -> Person:
        person: Person = super().save(commit=False)
        data = self.cleaned_data
        if data.get("new_phone"):
            person.set_phone(data["new_phone"])
        if data.get("new_id_number"):
            person.set_id_number(data["new_id_number"])
            person.real_name_verified_at = None
        if (data.get("new_emergency_contact") or "").strip():
            person.emergency_contact = data["new_emergency_contact"].strip()
        if data.get("new_password"):
            person.set_password(data["new_password"])
        elif person._state.adding:
            person.set_unusable_password()
        if commit:
            person.save()
            self.save_m2m()
        return person


class RoleGrantInline(admin.TabularInline):  # type: ignore[type-arg]
    model = RoleGrant
    fk_name = "person"
    extra = 0
    fields = ("role", "scope_kind", "alliance", "community", "building", "group", "revoked_at")
    raw_id_fields = ("alliance", "community", "building", "group")


@admin.register(Person)
class PersonAdmin(SuperuserOnlyAdmin):
    form = PersonAdminForm
    list_display = (
        "name",
        "phone_masked",
        "community",
        "household",
        "status",
        "is_active",
        "is_staff",
        "is_superuser",
    )
    list_filter = ("status", "is_staff", "is_superuser", "community")
    list_select_related = ("community", "household__building")
    search_fields = ("name",)
    raw_id_fields = ("community", "household")
    readonly_fields = (
        "phone_masked",
        "id_number_masked",
        "emergency_contact_masked",
        "phone_hash",
        "id_number_hash",
        "real_name_verified_at",
        "last_login",
        "date_joined",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "name",
                    "gender",
                    "birth_date",
                    "community",
                    "household",
                    "languages",
                    "latitude",
                    "longitude",
                )
            },
        ),
        (_("手机号"), {"fields": ("phone_masked", "new_phone", "phone_hash")}),
        (
            _("身份证号"),
            {
                "fields": (
                    "id_number_masked",
                    "new_id_number",
                    "id_number_hash",
                    "real_name_verified_at",
                )
            },
        ),
        (_("紧急联系人"), {"fields": ("emergency_contact_masked", "new_emergency_contact")}),
        (
            _("状态"),
            {
                "fields": (
                    "status",
                    "status_until",
                    "is_active",
                    "is_staff",
                    "is_superuser",
                    "new_password",
                    "last_login",
                    "date_joined",
                )
            },
        ),
        (_("界面语言"), {"fields": ("preferred_language", "large_text")}),
    )
    inlines = (RoleGrantInline,)

    @admin.display(description=_("手机号"))
    def phone_masked(self, obj: Person) -> str:
        return obj.masked_phone if obj.phone else ""

    @admin.display(description=_("身份证号"))
    def id_number_masked(self, obj: Person) -> str:
        return obj.masked_id_number

    @admin.display(description=_("紧急联系人"))
    def emergency_contact_masked(self, obj: Person) -> str:
        return obj.masked_emergency_contact

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Person], search_term: str
    ) -> tuple[QuerySet[Person], bool]:
        """Search by name, or by a full phone number through the blind index."""
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if pii.is_valid_phone(search_term):
            results = results | queryset.filter(phone_hash=pii.phone_index(search_term))
        return results, may_have_duplicates


class HouseholdAdminForm(forms.ModelForm):  # type: ignore[type-arg]
    new_address_detail = forms.CharField(
        label=_("新的详细地址"), required=False, max_length=200, help_text=_("留空则不修改")
    )

    class Meta:
        model = Household
        fields = ("community", "building", "room", "floor")

    def save(self, commit: bool = True) -> Household:
        household: Household = super().save(commit=False)
        if (self.cleaned_data.get("new_address_detail") or "").strip():
            household.address_detail = self.cleaned_data["new_address_detail"].strip()
        if commit:
            household.save()
        return household


@admin.register(Household)
class HouseholdAdmin(SuperuserOnlyAdmin):
    form = HouseholdAdminForm
    list_display = ("__str__", "community", "building", "room", "floor")
    list_filter = ("community",)
    list_select_related = ("community", "building")
    search_fields = ("room", "building__name")
    raw_id_fields = ("community", "building")
    readonly_fields = ("address_detail_masked",)
    fields = (
        "community",
        "building",
        "room",
        "floor",
        "address_detail_masked",
        "new_address_detail",
    )

    @admin.display(description=_("详细地址"))
    def address_detail_masked(self, obj: Household) -> str:
        return pii.mask_text(obj.address_detail)


@admin.register(Skill)
class SkillAdmin(SuperuserOnlyAdmin):
    list_display = ("code", "name", "name_en", "category", "requires_certificate")
    list_filter = ("category", "requires_certificate")
    search_fields = ("code", "name", "name_en")


@admin.register(Certificate)
class CertificateAdmin(SuperuserOnlyAdmin):
    list_display = ("person", "skill", "number", "issuer", "valid_until", "verified_at")
    list_filter = ("skill",)
    list_select_related = ("person", "skill")
    search_fields = ("person__name", "number", "issuer")
    raw_id_fields = ("person", "community", "verified_by")


@admin.register(PersonSkill)
class PersonSkillAdmin(SuperuserOnlyAdmin):
    list_display = ("person", "skill", "level", "community")
    list_filter = ("skill", "level", "community")
    list_select_related = ("person", "skill", "community")
    search_fields = ("person__name",)
    raw_id_fields = ("person", "community", "certificate")


@admin.register(AvailabilitySlot)
class AvailabilitySlotAdmin(SuperuserOnlyAdmin):
    list_display = ("person", "weekday", "start_time", "end_time")
    list_filter = ("weekday",)
    list_select_related = ("person",)
    search_fields = ("person__name",)
    raw_id_fields = ("person", "community")


@admin.register(AvailabilityException)
class AvailabilityExceptionAdmin(SuperuserOnlyAdmin):
    list_display = ("person", "date", "available", "start_time", "end_time")
    list_select_related = ("person",)
    search_fields = ("person__name",)
    raw_id_fields = ("person", "community")


@admin.register(RoleGrant)
class RoleGrantAdmin(SuperuserOnlyAdmin):
    list_display = ("person", "role", "scope_kind", "scope_key", "revoked_at")
    list_filter = ("role", "scope_kind", "community")
    list_select_related = ("person",)
    search_fields = ("person__name", "scope_key")
    raw_id_fields = (
        "person",
        "alliance",
        "community",
        "building",
        "group",
        "granted_by",
        "revoked_by",
    )
    readonly_fields = ("scope_key",)


@admin.register(ApiToken)
class ApiTokenAdmin(SuperuserOnlyAdmin):
    """Tokens are issued by ``huzhu.accounts.auth.issue_token``; here they can be revoked."""

    list_display = ("person", "name", "created_at", "last_used_at", "revoked_at")
    list_select_related = ("person",)
    search_fields = ("person__name", "name")
    raw_id_fields = ("person",)
    readonly_fields = ("person", "name", "key_hash", "last_used_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
