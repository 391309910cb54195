"""How the emulator behaves: usage plans, Amazon's delays, LWA credentials, and its clock."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ordertools.amazon.auth import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN
from ordertools.amazon.emulator.clock import Clock, real_clock
from ordertools.amazon.ratelimit import DEFAULT_PLANS


@dataclass
class EmulatorConfig:
    plans: dict[str, tuple[float, int]] = field(default_factory=lambda: dict(DEFAULT_PLANS))
    visibility_delay: float = 120.0  # seconds before an update shows in searchOrders/getOrder
    min_before_age: float = 120.0  # a ...Before parameter must be this much before now
    token_lifetime: int = 3600  # LWA access token expires_in
    client_id: str = DEMO_CLIENT_ID
    client_secret: str = DEMO_CLIENT_SECRET
    refresh_token: str = DEMO_REFRESH_TOKEN
    clock: Clock | None = None  # -> aware UTC datetime; None = real time
    pagination_ttl: float = 24 * 3600.0  # Amazon: "The token will expire after 24 hours."
    # Reports API: a report is IN_QUEUE, then IN_PROGRESS, then DONE `report_delay` seconds
    # (emulator clock) after createReport; orders updated in the `report_lag` seconds before
    # it is done are missing from it (reports are eventually consistent).
    report_delay: float = 2.0
    report_lag: float = 120.0
    report_gzip: bool = True  # documents GZIP-compressed, as Amazon usually serves them
    report_encoding: str = "utf-8"  # the flat file's encoding (Amazon: some are cp1252)
    # The model: a report is CANCELLED "if there is no data to return"; off by default so an
    # empty window reads as an empty (header-only) report.
    report_cancel_empty: bool = False
    # The lost-updates fault from the start (`ordertools emulator --fault lost-updates=0.05`):
    # searchOrders never serves this share of order versions; see Faults.lose_updates.
    lost_updates: float = 0.0
    lost_updates_seed: int = 0
    # Notifications API: an ORDER_CHANGE message goes to the subscribed destination's SQS queue
    # `notification_delay` seconds (real time) after the change. The queue is reached at
    # `sqs_endpoint`, or where the environment says (AWS_ENDPOINT_URL_SQS: moto's server), with
    # the environment's AWS credentials. `seller_id` and `application_id` fill the messages.
    notification_delay: float = 1.0
    sqs_endpoint: str | None = None
    seller_id: str = "A2EMULATORSELLER"
    application_id: str = "amzn1.sp.solution.emulator-demo-app"
    # Seconds every LWA token and SP-API answer waits (`ordertools emulator --latency 50ms`),
    # as Amazon's round trip would: a sleep in the request's thread, so it costs no CPU.
    latency: float = 0.0

    def __post_init__(self) -> None:
        # A partial plans dict overrides only the operations it names.
        self.plans = {**DEFAULT_PLANS, **self.plans}
        if self.latency < 0:
            raise ValueError(f"latency must be 0 or more seconds, not {self.latency}")

    @classmethod
    def paced(cls, plans: str = "amazon", time_scale: float = 1.0, **options) -> EmulatorConfig:
        """Amazon's pace, `time_scale` times faster (`ordertools emulator --time-scale`).

        `plans="amazon"`: Amazon's documented default usage plans and its two-minute delays;
        with `time_scale` K every rate is K times higher and every delay K times shorter, so
        a realistic day has the same shape (searchOrders: 20 pages at once, then one every
        180/K seconds) in 1/K of the time. `plans="fast"`: no limits worth the name, no delay.
        """
        if time_scale <= 0:
            raise ValueError(f"time_scale must be above 0, not {time_scale}")
        if plans == "fast":
            fast = {op: (1000.0, 1000) for op in DEFAULT_PLANS}
            reports = {"report_delay": 0.0, "report_lag": 0.0}
            return cls(
                plans=fast, visibility_delay=0.0, min_before_age=0.0, **{**reports, **options}
            )
        if plans != "amazon":
            raise ValueError(f"plans are 'amazon' or 'fast', not {plans!r}")
        scaled = {op: (rate * time_scale, burst) for op, (rate, burst) in DEFAULT_PLANS.items()}
        delay = cls.visibility_delay / time_scale
        reports = {
            "report_delay": cls.report_delay / time_scale,
            "report_lag": cls.report_lag / time_scale,
        }
        return cls(
            plans=scaled, visibility_delay=delay, min_before_age=delay, **{**reports, **options}
        )

    def now(self):
        return (self.clock or real_clock)()


def parse_latency(text: str) -> float:
    """Seconds from `50ms`, `0.05s` or `0.05` (`--latency`); ValueError says what is accepted."""
    value = text.strip().lower()
    scale = 1.0
    if value.endswith("ms"):
        value, scale = value[:-2], 0.001
    elif value.endswith("s"):
        value = value[:-1]
    try:
        seconds = float(value) * scale
    except ValueError:
        seconds = -1.0
    if not 0.0 <= seconds < float("inf"):
        raise ValueError(f"--latency {text!r}: give a duration such as 50ms, 0.05s or 0.05")
    return seconds


FAULT_OPTIONS = ("lost-updates=SHARE", "lost-updates-seed=N")


def fault_options(specs: Iterable[str]) -> dict[str, Any]:
    """EmulatorConfig options from `--fault NAME=VALUE` switches (repeatable), e.g.
    `["lost-updates=0.05"]` -> {"lost_updates": 0.05}. ValueError says what is accepted."""
    options: dict[str, Any] = {}
    accepted = ", ".join(FAULT_OPTIONS)
    for spec in specs:
        name, _, value = spec.partition("=")
        name, value = name.strip().lower(), value.strip()
        try:
            if name == "lost-updates":
                share = float(value)
                if not 0.0 <= share <= 1.0:
                    raise ValueError
                options["lost_updates"] = share
            elif name == "lost-updates-seed":
                options["lost_updates_seed"] = int(value)
            else:
                raise ValueError
        except ValueError:
            raise ValueError(
                f"--fault {spec!r}: use {accepted} (SHARE from 0 to 1, e.g. lost-updates=0.05)"
            ) from None
    return options
