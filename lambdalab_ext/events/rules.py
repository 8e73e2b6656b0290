"""Amazon EventBridge rule targets: any event on a bus, and the scheduled event of a schedule rule."""

from ._common import ACCOUNT_ID, REGION, Draw, arn, iso_seconds


def eventbridge(detail=None, detail_type="myDetailType", source="com.mycompany.myapp", resources=None,
                replay_name=None, region=REGION, account=ACCOUNT_ID, seed=None, time=None, event_id=None):
    """An EventBridge event as a rule's Lambda target receives it.

    Shape of "Using AWS Lambda with Amazon EventBridge (CloudWatch Events)" (AWS Lambda Developer
    Guide, "Example EventBridge (CloudWatch Events) event"): ``version`` "0", ``id``, ``detail-type``,
    ``source``, ``account``, ``time`` (whole seconds), ``region``, ``resources`` (a list, empty when
    the event names none) and ``detail`` (always an object). ``replay_name`` adds the
    ``replay-name`` of an event replayed from an archive. ``event_id`` is the id a real
    ``PutEvents`` returned (drawn otherwise).
    """
    draw = Draw(seed, time, salt="eventbridge")
    event = {
        "version": "0",
        "id": event_id or draw.uuid(),
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": iso_seconds(draw.now),
        "region": region,
        "resources": list(resources or []),
        "detail": {"key1": "value1", "key2": "value2"} if detail is None else detail,
    }
    if replay_name is not None:
        event["replay-name"] = replay_name
    return event


def schedule(rule="my-schedule", region=REGION, account=ACCOUNT_ID, seed=None, time=None, event_id=None):
    """The event a schedule rule sends: ``"Scheduled Event"`` from ``aws.events`` with ``detail {}``.

    Shape of "Using AWS Lambda with Amazon EventBridge (CloudWatch Events)" (AWS Lambda Developer
    Guide, "Example EventBridge (CloudWatch Events) message event"), including the ``version`` that
    ``sam local generate-event cloudwatch scheduled-event`` leaves out (aws-sam-cli#373).
    ``time`` is the scheduled moment; ``event_id`` the firing's id (drawn otherwise).
    """
    draw = Draw(seed, time, salt="schedule")
    return {
        "version": "0",
        "account": account,
        "region": region,
        "detail": {},
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "time": iso_seconds(draw.now),
        "id": event_id or draw.uuid(),
        "resources": [arn("events", region, account, f"rule/{rule}")],
    }
