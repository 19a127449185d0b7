"""Validates captured emulator responses against the Apify OpenAPI document.

Usage: validate_openapi.py <openapi.json> <captures.json>

`captures.json` is an object:

- `captures`: `[{operationId, method, path, status, contentType, headers: {lower-case name: value}, body}]`,
  with `body` the response body as text (`null` when there was none);
- `minCaptures`: the run fails with fewer captures (so that an empty run cannot pass);
- `requiredOperations`: operation IDs that must have at least one 2xx capture;
- `knownIssues`: `[{operationId, status, contains, note}]`: failures of that capture whose message
  contains `contains` are known emulator bugs, reported and skipped. A known issue that no
  longer occurs fails the run, so that its skip gets removed.

For each capture it finds the operation's response object for that status (falling back to
`default`; an undeclared status is a failure), resolves `$ref`s, checks the declared response
headers are present (the document marks none `required`, so every declared header is expected),
checks the content type is declared, and validates JSON bodies against the schema with
JSON Schema Draft 2020-12 (the dialect of OpenAPI 3.1), `$ref`s resolving against the whole
document and the `date-time` and `uri` formats asserted. Every failure is printed with the operation, status,
JSON path and message; the exit status is non-zero if any failure is not a known issue.
"""

import json
import re
import sys
from datetime import datetime
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DOC_URI = 'urn:apify:openapi'
HTTP_METHODS = ('get', 'put', 'post', 'delete', 'head', 'patch', 'options')


def pointer(*parts):
    """A JSON pointer fragment (`#/a/b~1c`) to a location in the document."""
    return '#/' + '/'.join(str(p).replace('~', '~0').replace('/', '~1') for p in parts)


def resolve(doc, node):
    """Follows local `$ref`s of OpenAPI objects (responses, headers); returns (node, its pointer or None)."""
    where = None
    while isinstance(node, dict) and '$ref' in node:
        ref = node['$ref']
        assert ref.startswith('#/'), f'only local references are supported: {ref}'
        where = ref
        node = doc
        for part in ref[2:].split('/'):
            node = node[part.replace('~1', '/').replace('~0', '~')]
    return node, where


# RFC 3339 date-time, as the platform sends it (`2019-12-12T07:34:14.202Z`).
RFC3339 = re.compile(r'^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$')
format_checker = FormatChecker(formats=())


@format_checker.checks('date-time', raises=ValueError)
def is_date_time(value):
    if not isinstance(value, str):
        return True
    if not RFC3339.match(value):
        raise ValueError(f'{value!r} is not an RFC 3339 date-time')
    datetime.fromisoformat(value.replace('Z', '+00:00').replace('z', '+00:00'))
    return True


URI_SCHEME = re.compile(r'^[A-Za-z][A-Za-z0-9+.-]*$')


@format_checker.checks('uri', raises=ValueError)
def is_uri(value):
    # An absolute URI: a scheme, and nothing a URI cannot contain unescaped.
    if not isinstance(value, str):
        return True
    scheme = urlsplit(value).scheme
    if not URI_SCHEME.match(scheme) or re.search(r'[\s<>"{}|\\^`]', value):
        raise ValueError(f'{value!r} is not an absolute URI')
    return True


def media_type_of(content_type):
    return (content_type or '').split(';')[0].strip().lower()


def pick_media(content, media):
    """The declared media type matching the actual one: exact, then `type/*`, then `*/*`."""
    if media in content:
        return media
    major = media.split('/')[0]
    for candidate in (f'{major}/*', '*/*'):
        if candidate in content:
            return candidate
    return None


def is_json_media(media):
    return media == 'application/json' or media.endswith('+json')


def json_path(error):
    return '$' + ''.join(f'[{p}]' if isinstance(p, int) else f'.{p}' for p in error.absolute_path)


def main():
    doc_path, captures_path = sys.argv[1], sys.argv[2]
    with open(doc_path, encoding='utf-8') as f:
        doc = json.load(f)
    with open(captures_path, encoding='utf-8') as f:
        run = json.load(f)
    assert doc.get('openapi', '').startswith('3.1'), f'expected an OpenAPI 3.1 document, got {doc.get("openapi")}'

    # The whole document as one JSON Schema resource, so `#/components/...` resolves anywhere.
    registry = Registry().with_resource(DOC_URI, Resource.from_contents(doc, default_specification=DRAFT202012))
    operations = {}
    for path, item in doc['paths'].items():
        for method, op in item.items():
            if method in HTTP_METHODS:
                operations[op['operationId']] = (method.upper(), path, op)

    captures = run['captures']
    failures = []  # (capture index, operationId, status, message)
    validated_ok = set()

    def fail(i, cap, message):
        failures.append((i, cap['operationId'], cap['status'], message))

    for i, cap in enumerate(captures):
        op_id, status = cap['operationId'], cap['status']
        if op_id not in operations:
            fail(i, cap, f'operationId {op_id!r} is not in the document')
            continue
        method, path, op = operations[op_id]
        # A 405 answers a method the operation does not use; everything else must match.
        if status != 405 and cap['method'] != method:
            fail(i, cap, f'captured {cap["method"]} {cap["path"]}, but {op_id} is {method} {path}')
        responses = op.get('responses', {})
        key = str(status) if str(status) in responses else 'default' if 'default' in responses else None
        if key is None:
            fail(i, cap, f'status {status} is not declared (declared: {", ".join(responses)})')
            continue
        response, response_ptr = resolve(doc, responses[key])
        if response_ptr is None:
            response_ptr = pointer('paths', path, method.lower(), 'responses', key)
        errors_before = len(failures)

        # Declared headers must be present.
        headers = {k.lower(): v for k, v in cap['headers'].items()}
        for name, header in response.get('headers', {}).items():
            header, _ = resolve(doc, header)
            if name.lower() not in headers:
                required = 'required' if header.get('required') else 'declared'
                fail(i, cap, f'response header {name} ({required}) is missing')

        body = cap.get('body')
        content = response.get('content') or {}
        no_body_expected = cap['method'] == 'HEAD' or status in (204, 304) or not content
        if no_body_expected:
            if body:
                fail(i, cap, f'expected no body, got {len(body)} characters')
        else:
            media = media_type_of(cap.get('contentType'))
            declared = pick_media(content, media)
            if not media:
                fail(i, cap, 'the response has a body but no Content-Type')
            elif declared is None:
                fail(i, cap, f'content type {media!r} is not declared (declared: {", ".join(content)})')
            elif is_json_media(media):
                schema_ptr = response_ptr + '/' + '/'.join(
                    p.replace('~', '~0').replace('/', '~1') for p in ('content', declared, 'schema')
                )
                try:
                    instance = json.loads(body or '')
                except ValueError as e:
                    fail(i, cap, f'the {media} body is not JSON: {e}')
                else:
                    if 'schema' in content[declared]:
                        validator = Draft202012Validator(
                            {'$ref': DOC_URI + schema_ptr}, registry=registry, format_checker=format_checker
                        )
                        for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
                            fail(i, cap, f'{json_path(error)}: {error.message[:300]}')
        if len(failures) == errors_before and 200 <= status < 300:
            validated_ok.add(op_id)

    # Known issues: skip matching failures, and fail on ones that no longer occur.
    known = run.get('knownIssues', [])
    used = [False] * len(known)
    real = []
    for failure in failures:
        _, op_id, status, message = failure
        for k, issue in enumerate(known):
            if issue['operationId'] == op_id and issue['status'] == status and issue['contains'] in message:
                used[k] = True
                break
        else:
            real.append(failure)
    for i, op_id, status, message in failures:
        tag = 'FAIL' if (i, op_id, status, message) in real else 'KNOWN EMULATOR BUG (skipped)'
        cap = captures[i]
        print(f'{tag}: {op_id} {status} ({cap["method"]} {cap["path"]}): {message}')
    stale = [issue for issue, u in zip(known, used) if not u]
    for issue in stale:
        print(f'FAIL: known issue no longer occurs, remove its EMULATOR BUG skip: {issue}')

    missing_ops = sorted(set(run.get('requiredOperations', [])) - {c['operationId'] for c in captures
                                                                     if 200 <= c['status'] < 300})
    for op_id in missing_ops:
        print(f'FAIL: no 2xx capture of {op_id}')
    floor = run.get('minCaptures', 1)
    if len(captures) < floor:
        print(f'FAIL: only {len(captures)} captures, expected at least {floor}')

    print(
        f'validated {len(captures)} captures of {len({c["operationId"] for c in captures})} operations: '
        f'{len(real)} failures, {len(failures) - len(real)} known-bug failures skipped, '
        f'{len(validated_ok)} operations with a clean 2xx capture'
    )
    if real or stale or missing_ops or len(captures) < floor:
        sys.exit(1)


if __name__ == '__main__':
    main()
