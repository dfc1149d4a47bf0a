"""schemathesis against our OpenAPI documents, on a real server: no 500, no answer that
breaks its own schema, every status code and content type documented.

Each operation gets a bounded number of generated requests (hypothesis, derandomised),
so that the suite stays quick on two cores. schemathesis's pytest plugin does not
run under pytest 9 yet, so the operations are driven here with hypothesis directly.
"""

from __future__ import annotations

EXAMPLES = 30


def exercise(schema_url: str) -> tuple[int, list[str]]:
    """Run every operation of the document; return (operations, failures). schemathesis
    and hypothesis are imported here, not when every worker collects the tests (seconds)."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [not_a_server_error, status_code_conformance, content_type_conformance,
              response_schema_conformance]
    schema = schemathesis.openapi.from_url(schema_url)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case) -> None:
            case.call_and_validate(checks=checks)

        try:
            run()
        except Exception as exc:  # collect them all, report them together
            failures.append(f"{operation.label}: {exc}")
    return operations, failures


def test_json_api_holds_to_its_openapi_document(live_server):
    operations, failures = exercise(f"{live_server.url}/api/openapi.json")
    assert operations >= 8
    assert not failures, "\n\n".join(failures)


def test_ogc_api_holds_to_its_openapi_document(live_server):
    operations, failures = exercise(f"{live_server.url}/ogc/api?f=json")
    assert operations >= 10
    assert not failures, "\n\n".join(failures)
