"""schemathesis against ``/api/v1/openapi.json`` with a valid token of every role: no server
error, no response that contradicts the document, and a refused request leaves the data and
the trail as they were (but for the record of the refusal)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from edc.api.openapi import document
from edc.security import Role
from tests.state import assert_unchanged_but_refusals, snapshot

EXAMPLES = 8  # per operation and role: 6 roles x every operation, on each backend

# Left out, on purpose: "a request that fits the schema is accepted". The document cannot
# say which sites, subjects, forms or items exist, so such a body answers 422 naming the
# field (documented for every operation that takes one), which contradicts nothing.
EXCLUDED = [checks.positive_data_acceptance]


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_every_operation_as_every_role(app, world, token, role):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = token(role)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    with app.app_context():
        described = document(app)["paths"]
    # every operation but the document itself, which schemathesis reads rather than tries
    assert {o.label for o in operations} == {
        f"{method.upper()} {path}" for path, methods in described.items()
        for method in methods} - {"GET /openapi.json"}

    for operation in operations:
        _fuzz(app, operation, headers, role, failures)
    assert not failures, "\n\n".join(failures[:10])


def _fuzz(app, operation, headers: dict, role: str, failures: list[str]) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def run(case):
        case.headers = {**(case.headers or {}), **headers}
        before = snapshot(app)
        response = case.call()
        try:
            case.validate_response(response, excluded_checks=EXCLUDED)
        except AssertionError as exc:  # schemathesis' failures are AssertionErrors
            failures.append(f"{operation.label} -> {response.status_code}: {str(exc)[:600]}")
            return
        if response.status_code >= 400:
            assert_unchanged_but_refusals(
                app, before, f"{role} {operation.label} {response.status_code}")

    run()
