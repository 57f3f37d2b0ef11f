"""ISO 4217 currency codes: an account's currency is fixed for life, so a typo must not open one."""

from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

__all__ = ["ACTIVE_CURRENCIES", "Currency"]

# ISO 4217 List One as amended to 2025 (ZWG 2024; XCG and XAD 2025). Withdrawn codes are left out
# (HRK, CUC, SLL, ZWL) and so are XTS (testing) and XXX (no currency), which no till can charge.
# ANG and BGN stay while their replacements (XCG, EUR) phase in, so existing accounts keep parsing;
# review this list on each ISO amendment.
_LIST_ONE = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD "
    "BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD "
    "EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD "
    "IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL "
    "MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN "
    "PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN "
    "SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES "
    "VND VUV WST XAD XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XUA YER ZAR "
    "ZMW ZWG"
)
ACTIVE_CURRENCIES: frozenset[str] = frozenset(_LIST_ONE.split())


def _active_currency(code: str) -> str:
    # Case matters: "nzd" is refused rather than upper-cased so the ledger never holds two
    # spellings of one currency.
    if code not in ACTIVE_CURRENCIES:
        raise PydanticCustomError(
            "currency",
            'currency is an active ISO 4217 code such as "NZD", got {code!r}',
            {"code": code},
        )
    return code


Currency = Annotated[
    str,
    AfterValidator(_active_currency),
    WithJsonSchema({"type": "string", "pattern": "^[A-Z]{3}$", "examples": ["NZD"]}),
]
