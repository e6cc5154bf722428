"""What a gateway prints when it starts: where its API, checkout, dashboard, operator console
and admin API answer, and, where the deployment asked for the demo merchant, the demo logins
(public by design: their defaults are in the README). Pure: the caller prints it."""

from __future__ import annotations

from .config import Settings


def startup_lines(settings: Settings) -> list[str]:
    base = f"http://{settings.host}:{settings.port}"
    lines = [f"  API (native)       {base}/api/v1   (OpenAPI: {base}/openapi.json)",
             f"  API (Razorpay)     {base}/v1" if settings.razorpay_front else "",
             f"  hosted checkout    {base}/checkout?order_id=order_...   (SDK {base}/checkout.js)",
             f"  dashboard          {base}/dashboard",
             f"  operator console   {base}/ops",
             f"  admin API          {base}/admin/v1   (Authorization: Bearer <operator token>)"]
    if settings.demo_merchant:
        lines += [("  demo merchant      keys key_test_abc123 / secret_test_xyz789; dashboard "
                  f"test@example.com / {settings.test_merchant_password}"),
                  ("  demo operator      token ops_test_abc123; ops@example.com / "
                  f"{settings.test_operator_password}")]
    return [line for line in lines if line]
