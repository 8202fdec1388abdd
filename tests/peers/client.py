"""A client in another language: starts a trace with the official Python SDKs and calls a forkline
server over HTTP with its own propagation headers.

    client.py w3c    URL OTLP_ENDPOINT SERVICE   -- OpenTelemetry span, W3C traceparent
    client.py sentry URL DSN                     -- Sentry transaction, sentry-trace + baggage

Prints {"trace_id": ..., "span_id": ..., "status": ...} for the span that made the call.
"""
import json
import sys
import urllib.request


def call(url, headers):
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def w3c(url, otlp_endpoint, service):
    from opentelemetry import propagate, trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint + "/v1/traces")))
    tracer = provider.get_tracer("forkline-e2e-client")
    with tracer.start_as_current_span("python.call", kind=trace.SpanKind.CLIENT) as span:
        headers = {}
        propagate.inject(headers)
        status = call(url, headers)
        ctx = span.get_span_context()
    provider.shutdown()
    return {"trace_id": format(ctx.trace_id, "032x"), "span_id": format(ctx.span_id, "016x"), "status": status, "headers": headers}


def sentry(url, dsn):
    import sentry_sdk

    # No default integrations: the stdlib one would wrap the call in its own child span and
    # replace our headers with that span's, hiding which span the server should see as parent.
    sentry_sdk.init(dsn=dsn, traces_sample_rate=1.0, default_integrations=False)
    with sentry_sdk.start_transaction(name="python.call", op="http.client") as transaction:
        headers = {"sentry-trace": sentry_sdk.get_traceparent(), "baggage": sentry_sdk.get_baggage()}
        status = call(url, headers)
        result = {"trace_id": transaction.trace_id, "span_id": transaction.span_id, "status": status, "headers": headers}
    sentry_sdk.flush()
    return result


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "w3c":
        print(json.dumps(w3c(sys.argv[2], sys.argv[3], sys.argv[4])))
    elif mode == "sentry":
        print(json.dumps(sentry(sys.argv[2], sys.argv[3])))
    else:
        sys.exit("usage: client.py w3c|sentry ...")
