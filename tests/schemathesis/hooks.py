"""Schemathesis hooks for scripts/api-fuzz.sh: the rules of the description that a JSON Schema
cannot state across fields, each written in the operation's description too."""

from datetime import date, datetime, timedelta, timezone

import schemathesis


def _instant(text, end_of_day):
    """An RFC 3339 time or a date (its end, for `to`), as the server reads `from` and `to`."""
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)
    except ValueError:
        day = date.fromisoformat(text)
        moment = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
        return moment + timedelta(days=1) if end_of_day and day < date.max else moment


# The bucket lengths the server divides the window by (crates/api/src/dora.rs).
BUCKET_DAYS = {"day": 1, "week": 7, "month": 28, "year": 365}


@schemathesis.hook
def filter_query(context, query):
    """`from` must be before `to`, and a series holds at most 1000 buckets."""
    if not query:
        return True
    try:
        start = _instant(query["from"], False) if "from" in query else None
        end = _instant(query["to"], True) if "to" in query else datetime.now(timezone.utc)
    except (ValueError, OverflowError, TypeError, AttributeError):
        return True  # not a time: the server refuses it, and the description says so
    if start is None:
        return True  # the window defaults to the 90 days before `to`
    if start >= end:
        return False
    bucket = query.get("bucket", "week")
    if isinstance(bucket, str) and bucket in BUCKET_DAYS:
        if (end - start).days // BUCKET_DAYS[bucket] > 1000:
            return False
    return True


def _both_data(event):
    return (
        isinstance(event, dict)
        and event.get("data") is not None
        and event.get("data_base64") is not None
    )


@schemathesis.hook
def filter_body(context, body):
    """A CloudEvent carries `data` or `data_base64`, not both."""
    if isinstance(body, list):
        return not any(_both_data(event) for event in body)
    return not _both_data(body)
