"""People, households, skills, availability, and role grants on scope nodes."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Case, Exists, F, OuterRef, Subquery, Value, When
from django.db.models.functions import Cast, Coalesce, Round
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _

from huzhu.accounts import pii
from huzhu.core import clock
from huzhu.core.models import TimeStampedModel, localized
from huzhu.orgs.models import Alliance, Building, Community, Group


class Household(TimeStampedModel):
    """户: a room in a building."""

    community = models.ForeignKey(
        Community, on_delete=models.PROTECT, related_name="households", verbose_name=_("社区")
    )
    building = models.ForeignKey(
        Building, on_delete=models.PROTECT, related_name="households", verbose_name=_("楼栋")
    )
    room = models.CharField(_("房号"), max_length=20)
    floor = models.SmallIntegerField(_("楼层"), null=True, blank=True)
    address_detail = pii.EncryptedTextField(_("详细地址"), blank=True)

    class Meta:
        verbose_name = _("住户")
        verbose_name_plural = _("住户")
        ordering = ["building_id", "room"]
        constraints = [
            models.UniqueConstraint(fields=["building", "room"], name="household_unique_room"),
        ]

    def __str__(self) -> str:
        return f"{self.building.name}-{self.room}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        # Members without their own coordinates stand where the (maybe new) building stands.
        refresh_locations(Person.objects.filter(household_id=self.pk))


class PersonManager(BaseUserManager["Person"]):
    use_in_migrations = True

    def get_by_phone(self, phone: str) -> Person:
        return self.get(phone_hash=pii.phone_index(phone))

    def create_user(self, phone: str, password: str | None = None, **fields: Any) -> Person:
        person = self.model(**fields)
        person.set_phone(phone)
        person.set_password(password)
        person.save(using=self._db)
        return person

    def create_superuser(self, phone: str, password: str | None = None, **fields: Any) -> Person:
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        fields.setdefault("name", "admin")
        return self.create_user(phone, password, **fields)


class Gender(models.TextChoices):
    FEMALE = "F", _("女")
    MALE = "M", _("男")
    UNSPECIFIED = "U", _("未说明")


class Status(models.TextChoices):
    ACTIVE = "active", _("正常")
    SUSPENDED = "suspended", _("暂停服务")
    FROZEN = "frozen", _("冻结")


class Person(AbstractBaseUser, PermissionsMixin):
    """One account per person. Logs in by phone number + password (argon2).

    Phone, ID number and emergency contact are encrypted at rest; ``phone_hash`` is the blind
    index used to find an account by phone.
    """

    phone = pii.EncryptedTextField(_("手机号"))
    phone_hash = models.CharField(max_length=64, unique=True, editable=False)
    name = models.CharField(_("姓名"), max_length=50)
    gender = models.CharField(
        _("性别"), max_length=1, choices=Gender.choices, default=Gender.UNSPECIFIED
    )
    birth_date = models.DateField(_("出生日期"), null=True, blank=True)
    community = models.ForeignKey(
        Community,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="people",
        verbose_name=_("所属社区"),
    )
    household = models.ForeignKey(
        Household,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="members",
        verbose_name=_("住户"),
    )
    id_number = pii.EncryptedTextField(_("身份证号"), blank=True)
    id_number_hash = models.CharField(
        max_length=64, null=True, blank=True, unique=True, editable=False
    )
    real_name_verified_at = models.DateTimeField(_("实名认证时间"), null=True, blank=True)
    emergency_contact = pii.EncryptedTextField(_("紧急联系人"), blank=True)
    languages = models.JSONField(_("语言"), default=list, blank=True)
    latitude = models.DecimalField(
        _("纬度"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        help_text=_("留空则使用所在楼栋的位置"),
    )
    longitude = models.DecimalField(
        _("经度"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    # The effective position (``location()``: own, else the household's building, else the
    # community) in integer micro-degrees, and its grid cell (``location_cell``): denormalised
    # so that matching finds the volunteers near a need through an index. ``save()`` keeps them
    # true for the person; households, buildings and communities refresh their people when
    # they change (``refresh_locations``; call it after bulk ``update()`` of coordinates).
    loc_lat_e6 = models.IntegerField(null=True, blank=True, editable=False)
    loc_lon_e6 = models.IntegerField(null=True, blank=True, editable=False)
    loc_cell = models.IntegerField(null=True, blank=True, editable=False)
    # Matching bit sets, denormalised from ``PersonSkill`` and ``AvailabilitySlot`` so that the
    # candidate filter tests skills and the weekly pattern in the index: ``skill_bits`` has bit
    # ``skill_id % 63`` of every skill held (``skill_bit``); ``slot_bits`` bit ``weekday * 8 +
    # block`` of every three-hour block a weekly slot overlaps (``slot_mask``). Both are kept
    # true by signals on those models and ``refresh_match_bits`` (bulk loads); a full ``save()``
    # of a person never writes them (it may hold stale copies).
    # (a database default too: bulk loads in SQL — benchmarks, imports — that do not name these
    # columns get 0, then refresh_match_bits fills them)
    skill_bits = models.BigIntegerField(default=0, db_default=0, editable=False)
    slot_bits = models.BigIntegerField(default=0, db_default=0, editable=False)
    status = models.CharField(
        _("状态"), max_length=10, choices=Status.choices, default=Status.ACTIVE
    )
    status_until = models.DateTimeField(_("状态截止"), null=True, blank=True)
    preferred_language = models.CharField(_("界面语言"), max_length=10, default="zh-hans")
    large_text = models.BooleanField(_("大字模式"), default=False)
    is_staff = models.BooleanField(_("管理后台权限"), default=False)
    is_active = models.BooleanField(_("启用"), default=True)
    date_joined = models.DateTimeField(_("注册时间"), default=clock.now)

    objects: ClassVar[PersonManager] = PersonManager()

    USERNAME_FIELD = "phone_hash"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        verbose_name = _("人员")
        verbose_name_plural = _("人员")
        ordering = ["id"]
        indexes = [
            models.Index(fields=["community", "status"]),
            # Matching: the active people of a few grid cells around a need (a need type
            # without skills), with every column the candidate filter reads of a person, so
            # that they are read from the index alone.
            models.Index(
                fields=[
                    "loc_cell",
                    "loc_lat_e6",
                    "loc_lon_e6",
                    "status",
                    "status_until",
                    "gender",
                    "community",
                    "id",
                    "skill_bits",
                    "slot_bits",
                ],
                condition=models.Q(is_active=True, loc_cell__isnull=False),
                name="person_location_cell",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        update_fields = kwargs.get("update_fields")
        if update_fields is None and not self._state.adding and not kwargs.get("force_insert"):
            # The match bits are the skills' and slots' to write (see ``skill_bits``); deferred
            # fields are left alone, as Django's own full save does.
            deferred = self.get_deferred_fields()
            update_fields = kwargs["update_fields"] = [
                f.name
                for f in self._meta.concrete_fields
                if not f.primary_key
                and f.name not in MATCH_BITS_FIELDS
                and f.attname not in deferred
            ]
        if update_fields is not None and not set(update_fields) & LOCATION_SOURCES:
            super().save(*args, **kwargs)  # e.g. last_login: the position cannot have changed
            return
        self.loc_lat_e6, self.loc_lon_e6 = self.location_e6()
        self.loc_cell = location_cell(self.loc_lat_e6, self.loc_lon_e6)
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, *LOCATION_FIELDS}
        super().save(*args, **kwargs)

    def set_phone(self, phone: str) -> None:
        normalized = pii.normalize_phone(phone)
        self.phone = normalized
        self.phone_hash = pii.phone_index(normalized)

    def set_id_number(self, id_number: str) -> None:
        value = pii.normalize_id_number(id_number)
        self.id_number = value
        self.id_number_hash = pii.id_number_index(value) if value else None

    @property
    def masked_phone(self) -> str:
        return pii.mask_phone(self.phone)

    @property
    def masked_id_number(self) -> str:
        return pii.mask_id_number(self.id_number) if self.id_number else ""

    @property
    def masked_emergency_contact(self) -> str:
        return pii.mask_text(self.emergency_contact)

    @property
    def building(self) -> Building | None:
        return self.household.building if self.household is not None else None

    def effective_status(self, at: dt.datetime | None = None) -> str:
        """Suspension and freezing end by themselves when their date has passed."""
        if self.status == Status.ACTIVE:
            return Status.ACTIVE
        at = at or clock.now()
        if self.status_until is not None and self.status_until <= at:
            return Status.ACTIVE
        return self.status

    def location(self) -> tuple[Any, Any] | None:
        """Own override, else the building's position, else the community's."""
        if self.latitude is not None and self.longitude is not None:
            return (self.latitude, self.longitude)
        building = self.building
        if building is not None and building.latitude is not None:
            return (building.latitude, building.longitude)
        if self.community is not None and self.community.latitude is not None:
            return (self.community.latitude, self.community.longitude)
        return None

    def location_e6(self) -> tuple[int | None, int | None]:
        """:meth:`location` in integer micro-degrees (``(None, None)`` when unknown)."""
        where = self.location()
        if where is None:
            return (None, None)
        return (to_e6(where[0]), to_e6(where[1]))


# --- the denormalised location ---------------------------------------------------------------

MICRO = 1_000_000
#: The side of a location grid cell in micro-degrees (0.01° ≈ 1.1 km north–south, ≈ 0.95 km
#: east–west at Shanghai's latitude).
CELL_E6 = 10_000
#: Cells per row of the grid (longitude 0..360° shifted, / CELL_E6); a cell number is
#: ``row * CELL_ROW + column``.
CELL_ROW = 360 * MICRO // CELL_E6 + 1
LOCATION_FIELDS = ("loc_lat_e6", "loc_lon_e6", "loc_cell")
#: The fields of a person the position is computed from.
LOCATION_SOURCES = frozenset(
    {"latitude", "longitude", "household", "household_id", "community", "community_id"}
)


def to_e6(value: Any) -> int | None:
    """A coordinate in degrees (Decimal, float, str) as integer micro-degrees, rounded."""
    if value is None:
        return None
    return int((Decimal(str(value)) * MICRO).to_integral_value(rounding=ROUND_HALF_UP))


def cell_row(lat_e6: int) -> int:
    return (lat_e6 + 90 * MICRO) // CELL_E6


def cell_column(lon_e6: int) -> int:
    return (lon_e6 + 180 * MICRO) // CELL_E6


def location_cell(lat_e6: int | None, lon_e6: int | None) -> int | None:
    """The grid cell of a position (``None`` when a coordinate is unknown)."""
    if lat_e6 is None or lon_e6 is None:
        return None
    return cell_row(lat_e6) * CELL_ROW + cell_column(lon_e6)


def _micro(expression: Any) -> Any:
    return Cast(Round(expression * Value(MICRO)), models.IntegerField())


def refresh_locations(people: models.QuerySet[Person] | None = None) -> int:
    """Recompute ``loc_lat_e6``/``loc_lon_e6``/``loc_cell`` of ``people`` (default: everybody)
    in two SQL ``UPDATE`` statements, the same rule as :meth:`Person.location`. For bulk
    changes that bypass ``save()`` (``update()``, ``bulk_create``, data loads); returns the
    people updated."""
    building = Household.objects.filter(
        pk=OuterRef("household_id"), building__latitude__isnull=False
    )
    community = Community.objects.filter(pk=OuterRef("community_id"), latitude__isnull=False)

    def axis(name: str) -> Case:
        return Case(
            When(latitude__isnull=False, longitude__isnull=False, then=_micro(F(name))),
            When(Exists(building), then=_micro(Subquery(building.values(f"building__{name}")))),
            When(Exists(community), then=_micro(Subquery(community.values(name)))),
            default=Value(None),
            output_field=models.IntegerField(),
        )

    target = (
        Person.objects.all()
        if people is None
        else Person.objects.filter(pk__in=people.values("pk"))
    )
    n = target.update(loc_lat_e6=axis("latitude"), loc_lon_e6=axis("longitude"))
    row = (F("loc_lat_e6") + Value(90 * MICRO)) / Value(CELL_E6)
    column = (F("loc_lon_e6") + Value(180 * MICRO)) / Value(CELL_E6)
    target.update(
        loc_cell=Case(
            When(
                loc_lat_e6__isnull=False,
                loc_lon_e6__isnull=False,
                then=row * Value(CELL_ROW) + column,
            ),
            default=Value(None),
            output_field=models.IntegerField(),
        )
    )
    return n


@receiver(post_save, sender=Building, dispatch_uid="accounts.building_locations")
def _building_saved(sender: Any, instance: Building, raw: bool = False, **kwargs: Any) -> None:
    """The people of a building without their own coordinates stand where it stands."""
    if not raw:
        refresh_locations(
            Person.objects.filter(household__building_id=instance.pk).filter(
                models.Q(latitude__isnull=True) | models.Q(longitude__isnull=True)
            )
        )


@receiver(post_save, sender=Community, dispatch_uid="accounts.community_locations")
def _community_saved(sender: Any, instance: Community, raw: bool = False, **kwargs: Any) -> None:
    """The people of a community who have neither own nor building coordinates stand at the
    community's."""
    if not raw:
        refresh_locations(
            Person.objects.filter(community_id=instance.pk)
            .filter(models.Q(latitude__isnull=True) | models.Q(longitude__isnull=True))
            .filter(
                models.Q(household__isnull=True)
                | models.Q(household__building__latitude__isnull=True)
            )
        )


# --- the denormalised match bits --------------------------------------------------------------

MATCH_BITS_FIELDS = frozenset({"skill_bits", "slot_bits"})
#: Bits of ``Person.skill_bits``: a skill sets bit ``skill_id % SKILL_BITS`` (63: the sign bit of
#: a bigint stays clear). Two skills may share a bit; a superset test then keeps too many,
#: never too few.
SKILL_BITS = 63
#: ``Person.slot_bits``: each weekday has ``DAY_BLOCKS`` blocks of ``BLOCK_HOURS`` hours.
BLOCK_HOURS = 3
DAY_BLOCKS = 24 // BLOCK_HOURS


def skill_bit(skill_id: int) -> int:
    return 1 << (skill_id % SKILL_BITS)


def _seconds(moment: dt.time) -> int:
    """Seconds since midnight; ``time.max`` stands for 24:00."""
    if moment == dt.time.max:
        return 24 * 3600
    return moment.hour * 3600 + moment.minute * 60 + moment.second + (moment.microsecond > 0)


def slot_mask(weekday: int, start: dt.time, end: dt.time) -> int:
    """The ``slot_bits`` of [start, end) on ``weekday`` (``end`` ``time.max``: midnight): the
    blocks it overlaps."""
    lo, hi = start.hour * 3600 + start.minute * 60 + start.second, _seconds(end)
    mask = 0
    for block in range(DAY_BLOCKS):
        if lo < (block + 1) * BLOCK_HOURS * 3600 and hi > block * BLOCK_HOURS * 3600:
            mask |= 1 << (weekday * DAY_BLOCKS + block)
    return mask


class _BitSum(models.Aggregate):
    """``SUM(DISTINCT 1 << n)``: the OR of the bits ``n`` (a sum of distinct powers of two)."""

    function = "SUM"
    template = "%(function)s(DISTINCT (CAST(1 AS BIGINT) << CAST(%(expressions)s AS INTEGER)))"
    output_field = models.BigIntegerField()


def _bits(rows: models.QuerySet[Any], bit: Any) -> Coalesce:
    per = rows.order_by().values("person_id").annotate(bits=_BitSum(bit)).values("bits")
    return Coalesce(Subquery(per, output_field=models.BigIntegerField()), Value(0))


def refresh_match_bits(people: models.QuerySet[Person] | None = None) -> int:
    """Recompute ``skill_bits``/``slot_bits`` of ``people`` (default: everybody) in one SQL
    ``UPDATE``; for changes that bypass the models' ``save()``/``delete()`` (``bulk_create``,
    ``update()``, data loads). Returns the people updated."""
    skills = _bits(
        PersonSkill.objects.filter(person_id=OuterRef("pk")), F("skill_id") % Value(SKILL_BITS)
    )
    slots: Any = Value(0)
    for block in range(DAY_BLOCKS):
        overlapping = AvailabilitySlot.objects.filter(
            person_id=OuterRef("pk"), end_time__gt=dt.time(block * BLOCK_HOURS)
        )
        if block + 1 < DAY_BLOCKS:
            overlapping = overlapping.filter(start_time__lt=dt.time((block + 1) * BLOCK_HOURS))
        slots = slots + _bits(overlapping, F("weekday") * Value(DAY_BLOCKS) + Value(block))
    target = (
        Person.objects.all()
        if people is None
        else Person.objects.filter(pk__in=people.values("pk"))
    )
    return target.update(skill_bits=skills, slot_bits=slots)


def _refresh_bits_of(instance: Any, raw: bool = False, **kwargs: Any) -> None:
    """A skill or weekly slot was saved or deleted: its person's bits again."""
    if raw:
        return
    refresh_match_bits(Person.objects.filter(pk=instance.person_id))


class Skill(TimeStampedModel):
    """An entry of the editable skill taxonomy."""

    code = models.SlugField(_("代码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=50)
    name_en = models.CharField(_("英文名称"), max_length=50)
    category = models.CharField(_("类别"), max_length=50, blank=True)
    requires_certificate = models.BooleanField(
        _("需要资格证书"),
        default=False,
        help_text=_("医生、心理咨询师、社工等须登记证书后才能添加该技能"),
    )

    class Meta:
        verbose_name = _("技能")
        verbose_name_plural = _("技能")
        ordering = ["category", "code"]

    def __str__(self) -> str:
        return localized(self.name, self.name_en)


class Certificate(TimeStampedModel):
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="certificates")
    community = models.ForeignKey(Community, on_delete=models.PROTECT, null=True, blank=True)
    skill = models.ForeignKey(
        Skill, on_delete=models.PROTECT, related_name="certificates", verbose_name=_("技能")
    )
    number = models.CharField(_("证书编号"), max_length=64)
    issuer = models.CharField(_("发证机构"), max_length=100)
    valid_until = models.DateField(_("有效期至"), null=True, blank=True)
    verified_by = models.ForeignKey(
        Person, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("资格证书")
        verbose_name_plural = _("资格证书")
        constraints = [
            models.UniqueConstraint(
                fields=["person", "skill", "number"], name="certificate_unique_number"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.skill} {self.number}"

    def is_valid_on(self, day: dt.date) -> bool:
        return self.valid_until is None or self.valid_until >= day


class PersonSkill(TimeStampedModel):
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="skills")
    community = models.ForeignKey(Community, on_delete=models.PROTECT, null=True, blank=True)
    skill = models.ForeignKey(
        Skill, on_delete=models.PROTECT, related_name="holders", verbose_name=_("技能")
    )
    level = models.PositiveSmallIntegerField(
        _("水平"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text=_("1 入门 – 5 专家"),
    )
    certificate = models.ForeignKey(
        Certificate, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("资格证书")
    )

    class Meta:
        verbose_name = _("人员技能")
        verbose_name_plural = _("人员技能")
        constraints = [
            models.UniqueConstraint(fields=["person", "skill"], name="personskill_unique"),
            models.CheckConstraint(
                condition=models.Q(level__gte=1, level__lte=5), name="personskill_level_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.skill} L{self.level}"


class Weekday(models.IntegerChoices):
    MON = 0, _("周一")
    TUE = 1, _("周二")
    WED = 2, _("周三")
    THU = 3, _("周四")
    FRI = 4, _("周五")
    SAT = 5, _("周六")
    SUN = 6, _("周日")


class AvailabilitySlot(TimeStampedModel):
    """A weekly window when a person can serve."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="availability")
    community = models.ForeignKey(Community, on_delete=models.PROTECT, null=True, blank=True)
    weekday = models.PositiveSmallIntegerField(_("星期"), choices=Weekday.choices)
    start_time = models.TimeField(_("开始"))
    end_time = models.TimeField(_("结束"))

    class Meta:
        verbose_name = _("可服务时段")
        verbose_name_plural = _("可服务时段")
        ordering = ["weekday", "start_time"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_time__gt=models.F("start_time")),
                name="availability_end_after_start",
            ),
        ]
        indexes = [
            models.Index(fields=["weekday", "start_time", "end_time"]),
            # Matching: "has this person a slot on that weekday overlapping the window", from
            # the index alone.
            models.Index(
                fields=["person", "weekday", "start_time", "end_time"], name="availability_person"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start_time:%H:%M}-{self.end_time:%H:%M}"


class AvailabilityException(TimeStampedModel):
    """A date when the weekly pattern does not hold: away all day, or extra hours."""

    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="availability_exceptions"
    )
    community = models.ForeignKey(Community, on_delete=models.PROTECT, null=True, blank=True)
    date = models.DateField(_("日期"))
    available = models.BooleanField(_("可服务"), default=False)
    start_time = models.TimeField(_("开始"), null=True, blank=True)
    end_time = models.TimeField(_("结束"), null=True, blank=True)
    note = models.CharField(_("备注"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("时段例外")
        verbose_name_plural = _("时段例外")
        ordering = ["date"]
        # Matching: the days off and extra hours of one date.
        indexes = [models.Index(fields=["date", "person"], name="availability_exception_day")]


for _model in (PersonSkill, AvailabilitySlot):
    post_save.connect(
        _refresh_bits_of, sender=_model, dispatch_uid=f"accounts.bits.{_model.__name__}"
    )
    post_delete.connect(
        _refresh_bits_of, sender=_model, dispatch_uid=f"accounts.bits_gone.{_model.__name__}"
    )


class Role(models.TextChoices):
    RESIDENT = "resident", _("居民")
    VOLUNTEER = "volunteer", _("志愿者")
    BUILDING_MANAGER = "building_manager", _("楼长")
    GROUP_MEMBER = "group_member", _("组员")
    GROUP_LEADER = "group_leader", _("组长")
    BROKER = "broker", _("公益经纪人")
    BRANCH_HEAD = "branch_head", _("分会负责人")
    FINANCE_OFFICER = "finance_officer", _("财务专员")
    MERCHANT = "merchant", _("商家")
    DISTRICT_ADMIN = "district_admin", _("街道管理员")


class ScopeKind(models.TextChoices):
    ALLIANCE = "alliance", _("联盟")
    COMMUNITY = "community", _("社区")
    BUILDING = "building", _("楼栋")
    GROUP = "group", _("职能组")


class RoleGrantQuerySet(models.QuerySet["RoleGrant"]):
    def active(self) -> RoleGrantQuerySet:
        return self.filter(revoked_at__isnull=True)


class RoleGrant(TimeStampedModel):
    """A role granted to a person on one node: alliance, community, building or group."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="grants")
    role = models.CharField(_("角色"), max_length=32, choices=Role.choices)
    scope_kind = models.CharField(_("范围"), max_length=10, choices=ScopeKind.choices)
    alliance = models.ForeignKey(Alliance, on_delete=models.PROTECT, null=True, blank=True)
    community = models.ForeignKey(Community, on_delete=models.PROTECT, null=True, blank=True)
    building = models.ForeignKey(Building, on_delete=models.PROTECT, null=True, blank=True)
    group = models.ForeignKey(Group, on_delete=models.PROTECT, null=True, blank=True)
    # "community:12" — one active grant of a role per node (portable, unlike NULLS NOT DISTINCT).
    scope_key = models.CharField(max_length=40, editable=False)
    granted_by = models.ForeignKey(
        Person, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        Person, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = RoleGrantQuerySet.as_manager()

    class Meta:
        verbose_name = _("角色授权")
        verbose_name_plural = _("角色授权")
        indexes = [models.Index(fields=["person", "revoked_at"])]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(scope_kind="alliance", alliance__isnull=False, community__isnull=True)
                    | models.Q(
                        scope_kind="community",
                        community__isnull=False,
                        building__isnull=True,
                        group__isnull=True,
                    )
                    | models.Q(
                        scope_kind="building", community__isnull=False, building__isnull=False
                    )
                    | models.Q(scope_kind="group", community__isnull=False, group__isnull=False)
                ),
                name="rolegrant_scope_consistent",
            ),
            models.UniqueConstraint(
                fields=["person", "role", "scope_key"],
                condition=models.Q(revoked_at__isnull=True),
                name="rolegrant_unique_active",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()} @ {self.scope_label()}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        node_id = {
            "alliance": self.alliance_id,
            "community": self.community_id,
            "building": self.building_id,
            "group": self.group_id,
        }[self.scope_kind]
        self.scope_key = f"{self.scope_kind}:{node_id}"
        super().save(*args, **kwargs)

    def scope_label(self) -> str:
        node = self.group or self.building or self.community or self.alliance
        return str(node) if node is not None else ""


class ApiToken(TimeStampedModel):
    """A bearer token for the API. Only its SHA-256 is stored."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("名称"), max_length=50, default="api")
    key_hash = models.CharField(max_length=64, unique=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API 令牌")
        verbose_name_plural = _("API 令牌")

    def __str__(self) -> str:
        return f"{self.person} / {self.name}"
