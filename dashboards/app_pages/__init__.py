"""The pages of the dashboard, in navigation order: (file relative to dashboards/, title, url path)."""

PAGES = (
    ("app_pages/overview.py", "Overview", "overview"),
    ("app_pages/aging.py", "Aging", "aging"),
    ("app_pages/declines.py", "Declines and retries", "declines"),
    ("app_pages/worklist.py", "Worklist", "worklist"),
    ("app_pages/forecast.py", "Forecast", "forecast"),
    ("app_pages/account.py", "Account 360", "account"),
    ("app_pages/quality.py", "Data quality and close", "quality"),
)
