"""The Temporal client both API and worker use: same data converter, codec and search attributes."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client, TLSConfig
from temporalio.common import SearchAttributeKey
from temporalio.converter import (
    AdvancedJSONEncoder,
    CompositePayloadConverter,
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
    JSONTypeConverter,
)
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode

from ville.codec import EncryptionCodec, parse_keys
from ville.settings import Settings
from ville.tracing import temporal_interceptors

# Operator-facing search attributes: business status and business keys only, never personal data.
SA_BUSINESS_STATUS = SearchAttributeKey.for_keyword("BusinessStatus")
SA_BILLING_PERIOD = SearchAttributeKey.for_keyword("BillingPeriod")
SA_CAMPAIGN = SearchAttributeKey.for_keyword("CampaignId")
SA_ARRONDISSEMENT = SearchAttributeKey.for_int("Arrondissement")
SA_RELAY = SearchAttributeKey.for_keyword("RelayId")

ALL_SEARCH_ATTRIBUTE_KEYS = (SA_BUSINESS_STATUS, SA_BILLING_PERIOD, SA_CAMPAIGN, SA_ARRONDISSEMENT, SA_RELAY)
SEARCH_ATTRIBUTES: dict[str, IndexedValueType.ValueType] = {
    SA_BUSINESS_STATUS.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    SA_BILLING_PERIOD.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    SA_CAMPAIGN.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    SA_ARRONDISSEMENT.name: IndexedValueType.INDEXED_VALUE_TYPE_INT,
    SA_RELAY.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
}


def payload_codec(settings: Settings) -> EncryptionCodec:
    """The payload codec of the configured keys (also served to the Temporal UI by `/codec`)."""
    return EncryptionCodec(parse_keys(settings.codec_keys.get_secret_value()))


class _DateJSONEncoder(AdvancedJSONEncoder):
    """Writes a `date` as its ISO day (`2027-03-01`), the string contracts carried before they typed dates."""

    def default(self, o: Any) -> Any:
        """Encode a date; anything else as the SDK does."""
        if isinstance(o, date) and not isinstance(o, datetime):
            return o.isoformat()
        return super().default(o)


class _DateTypeConverter(JSONTypeConverter):
    """Reads an ISO day back into a field typed `date` (the SDK converts `datetime` only)."""

    def to_typed_value(self, hint: type, value: Any) -> Any | None:
        """A date for a `date` hint (`""` is None for `date | None`); the SDK's own conversion otherwise."""
        if hint is date and isinstance(value, str):
            return date.fromisoformat(value)
        if hint == date | None and value == "":  # histories recorded before dates were typed wrote "" for unset
            return None
        return JSONTypeConverter.Unhandled


class PayloadConverter(CompositePayloadConverter):
    """The SDK's default payload converters, with JSON that knows `date` (same bytes for every other value)."""

    def __init__(self) -> None:
        json = JSONPlainPayloadConverter(encoder=_DateJSONEncoder, custom_type_converters=[_DateTypeConverter()])
        super().__init__(
            *(
                json if isinstance(c, JSONPlainPayloadConverter) else c
                for c in DefaultPayloadConverter.default_encoding_payload_converters
            )
        )


def data_converter(settings: Settings) -> DataConverter:
    """The default converter with payloads (and failure messages) encrypted."""
    return dataclasses.replace(
        DataConverter.default,
        payload_converter_class=PayloadConverter,
        payload_codec=payload_codec(settings),
        # failure messages and stack traces move into encoded attributes, so they are encrypted too
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def connect(settings: Settings, lazy: bool = False, runtime: Runtime | None = None) -> Client:
    """Connect to the configured Temporal (dev server, self-hosted cluster or Temporal Cloud).

    `runtime` carries the SDK's telemetry (the worker passes one exporting Prometheus metrics); the
    tracing interceptor, when tracing is on, also applies to every worker built on this client.
    """
    tls: TLSConfig | bool = False
    if settings.temporal_tls_cert_path and settings.temporal_tls_key_path:
        tls = TLSConfig(
            client_cert=settings.temporal_tls_cert_path.read_bytes(),
            client_private_key=settings.temporal_tls_key_path.read_bytes(),
        )
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        tls=tls or bool(api_key),
        api_key=api_key,
        lazy=lazy,
        runtime=runtime,
        interceptors=temporal_interceptors(settings),
    )


async def register_search_attributes(client: Client, namespace: str) -> list[str]:
    """Add the project's search attributes that are missing; safe to run twice."""
    try:
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        known = set(existing.custom_attributes)
    except RPCError as err:  # the time-skipping test server can add but not list them
        if err.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        known = set()
    missing = {k: v for k, v in SEARCH_ATTRIBUTES.items() if k not in known}
    if missing:
        try:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
            )
        except RPCError as err:  # a concurrent bootstrap added them first
            if err.status != RPCStatusCode.ALREADY_EXISTS:
                raise
    return sorted(missing)
