"""How the emulator behaves: usage plans, Amazon's delays, LWA credentials, and its clock."""

from __future__ import annotations

from dataclasses import dataclass, field

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

    def __post_init__(self) -> None:
        # A partial plans dict overrides only the operations it names.
        self.plans = {**DEFAULT_PLANS, **self.plans}

    def now(self):
        return (self.clock or real_clock)()
