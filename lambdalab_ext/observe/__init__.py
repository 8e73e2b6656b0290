"""Observability of the lab's functions: CloudWatch Logs filter patterns (more to come: logs,
metrics, alarms, traces).

>>> FilterPattern.parse("ERROR").matches("[ERROR] boom")
True
"""

from lambdalab_ext.observe.filter_patterns import (MAX_FILTER_PATTERN_LENGTH, MAX_REGEX_PATTERNS_PER_LOG_GROUP,
                                                   MAX_REGEX_PER_PATTERN, FilterPattern, InvalidParameterException,
                                                   count_regex)

__all__ = ["FilterPattern", "InvalidParameterException", "count_regex", "MAX_FILTER_PATTERN_LENGTH",
           "MAX_REGEX_PER_PATTERN", "MAX_REGEX_PATTERNS_PER_LOG_GROUP"]
