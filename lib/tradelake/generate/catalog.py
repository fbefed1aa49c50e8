"""The made-up world's reference data: countries, currencies, industries, carriers, behaviours."""
from __future__ import annotations

# country: (UTC offset, currency, weight as supplier, weight as buyer)
COUNTRIES = {
    "CN": ("+08:00", "CNY", 30, 8),
    "VN": ("+07:00", "USD", 10, 0),
    "IN": ("+05:30", "INR", 12, 5),
    "DE": ("+01:00", "EUR", 8, 12),
    "IT": ("+01:00", "EUR", 5, 3),
    "PL": ("+01:00", "EUR", 4, 2),
    "TR": ("+03:00", "USD", 6, 0),
    "US": ("-05:00", "USD", 8, 25),
    "MX": ("-06:00", "MXN", 6, 4),
    "BR": ("-03:00", "BRL", 4, 5),
    "JP": ("+09:00", "JPY", 3, 6),
    "KR": ("+09:00", "KRW", 4, 4),
    "GB": ("+00:00", "GBP", 0, 10),
    "FR": ("+01:00", "EUR", 0, 8),
    "NL": ("+01:00", "EUR", 0, 5),
    "ES": ("+01:00", "EUR", 0, 5),
    "SG": ("+08:00", "SGD", 0, 3),
}

# USD per unit on the first day, and daily volatility of the log rate.
CURRENCIES = {
    "USD": (1.0, 0.0),
    "EUR": (1.08, 0.004),
    "GBP": (1.27, 0.004),
    "CNY": (0.139, 0.002),
    "JPY": (0.0068, 0.005),
    "INR": (0.012, 0.003),
    "BRL": (0.20, 0.008),
    "MXN": (0.058, 0.007),
    "KRW": (0.00075, 0.005),
    "SGD": (0.74, 0.003),
}
# A valid ISO 4217 code the FX feed never carries: the FX_MISSING defect uses it.
CURRENCY_WITHOUT_RATES = "CHF"

# industry: [(category, (min unit price, max unit price))]
INDUSTRIES = {
    "Textiles": [("Apparel", (2.0, 40.0)), ("Fabrics", (1.0, 15.0)), ("Home textiles", (3.0, 60.0))],
    "Electronics": [("Components", (0.05, 12.0)), ("Consumer electronics", (15.0, 400.0)), ("Cables", (0.5, 8.0))],
    "Food": [("Grains", (0.3, 2.5)), ("Beverages", (0.5, 6.0)), ("Packaged food", (0.8, 9.0))],
    "Chemicals": [("Plastics", (0.8, 5.0)), ("Coatings", (4.0, 30.0)), ("Adhesives", (2.0, 18.0))],
    "Machinery": [("Industrial parts", (5.0, 250.0)), ("Tools", (3.0, 90.0)), ("Pumps", (80.0, 1500.0))],
    "Furniture": [("Office furniture", (40.0, 600.0)), ("Home furniture", (30.0, 900.0))],
    "Auto parts": [("Brakes", (8.0, 120.0)), ("Tyres", (25.0, 180.0)), ("Filters", (2.0, 25.0))],
}

NAME_FIRST = ["Shenzhen", "Golden", "Pacific", "Nordic", "Atlas", "Sunrise", "Delta", "Orion", "Evergreen",
              "Bright", "Harbor", "Summit", "Lotus", "Ironwood", "Silverline", "Crescent", "Meridian", "Apex"]
NAME_SECOND = ["Textiles", "Trading", "Industries", "Manufacturing", "Components", "Supply", "Works", "Foods",
               "Chemicals", "Logistics", "Global", "Import & Export", "Precision", "Materials"]
NAME_SUFFIX = ["Co., Ltd.", "GmbH", "S.p.A.", "Ltd.", "Inc.", "S.A. de C.V.", "Pvt. Ltd.", "LLC", "Sp. z o.o.", "A.S."]

# mode: (transit days median, carriers)
MODES = {
    "SEA": (24.0, ["Maersk", "MSC", "COSCO Shipping", "CMA CGM", "Hapag-Lloyd"]),
    "AIR": (4.0, ["Lufthansa Cargo", "Cathay Cargo", "Emirates SkyCargo", "Atlas Air"]),
    "EXPRESS": (3.0, ["DHL Express", "FedEx", "UPS", "TNT"]),
    "RAIL": (14.0, ["DB Cargo", "China Railway Express", "RZD Logistics"]),
    "ROAD": (4.0, ["DB Schenker", "XPO Logistics", "DSV Road", "J.B. Hunt"]),
}
DOMESTIC_MODES = [("ROAD", 60), ("RAIL", 15), ("EXPRESS", 25)]
INTERNATIONAL_MODES = [("SEA", 50), ("AIR", 18), ("EXPRESS", 17), ("RAIL", 7), ("ROAD", 8)]

PAYMENT_TERMS = [(0, 10), (15, 10), (30, 35), (45, 10), (60, 25), (90, 10)]
# buyer behaviour: (weight, days after due: mean, spread)
BEHAVIOURS = {
    "PROMPT": (55, -3.0, 3.0),
    "SLOW": (30, 18.0, 12.0),
    "CHRONIC": (10, 60.0, 25.0),
    "DEFAULTER": (5, 25.0, 15.0),  # pays like this until its default date, then stops
}
METHODS = [("BANK_TRANSFER", 55), ("CARD", 15), ("WALLET", 10), ("CREDIT_LINE", 20)]

# Relative volume of orders by ISO weekday (Monday = 1).
WEEKDAY_WEIGHT = {1: 1.10, 2: 1.15, 3: 1.10, 4: 1.05, 5: 0.95, 6: 0.45, 7: 0.35}
