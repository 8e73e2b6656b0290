"""IAM condition operators alone (pure, fast): every operator, IfExists, Null, set operators,
missing keys, AND/OR/NOR of keys and values, and policy variables in condition values.

Vectors are AWS's documented examples; each group names its page.
"""

import base64
from datetime import datetime, timezone

import pytest

from lambdalab_ext.iam.conditions import RequestContext, evaluate_conditions, parse_condition_block, parse_date


def check(block, context, variables=True):
    return evaluate_conditions(parse_condition_block(block, variables), RequestContext(context)).matched


# --- String operators ----------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_String


def test_string_equals_is_exact_and_case_sensitive():
    block = {"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}}
    assert check(block, {"aws:PrincipalTag/job-category": "iamuser-admin"})
    assert not check(block, {"aws:PrincipalTag/job-category": "IAMUSER-ADMIN"})
    # "If a user without the tag attempts ... the condition returns false"
    assert not check(block, {})


def test_string_not_equals_and_the_ignore_case_pair():
    assert check({"StringNotEquals": {"aws:PrincipalTag/team": "blue"}}, {"aws:PrincipalTag/team": "red"})
    assert not check({"StringNotEquals": {"aws:PrincipalTag/team": "blue"}}, {"aws:PrincipalTag/team": "blue"})
    assert check({"StringEqualsIgnoreCase": {"aws:PrincipalTag/team": "Blue"}}, {"aws:PrincipalTag/team": "BLUE"})
    assert not check({"StringNotEqualsIgnoreCase": {"aws:PrincipalTag/team": "Blue"}}, {"aws:PrincipalTag/team": "blue"})
    assert check({"StringNotEqualsIgnoreCase": {"aws:PrincipalTag/team": "Blue"}}, {"aws:PrincipalTag/team": "green"})


def test_string_like_home_directory_example_with_a_variable():
    block = {"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/"]}}
    base = {"aws:username": "David"}
    assert check(block, {**base, "s3:prefix": ""})
    assert check(block, {**base, "s3:prefix": "home/"})
    assert check(block, {**base, "s3:prefix": "home/David/"})
    assert not check(block, {**base, "s3:prefix": "home/Adele/"})


def test_string_like_wildcards_and_string_not_like():
    assert check({"StringLike": {"s3:prefix": "David/*"}}, {"s3:prefix": "David/photos/"})
    assert not check({"StringLike": {"s3:prefix": "David/*"}}, {"s3:prefix": "david/photos/"})
    assert check({"StringLike": {"ec2:InstanceType": "t?.micro"}}, {"ec2:InstanceType": "t3.micro"})
    assert check({"StringNotLike": {"s3:prefix": "private/*"}}, {"s3:prefix": "public/a"})
    assert not check({"StringNotLike": {"s3:prefix": "private/*"}}, {"s3:prefix": "private/a"})


# --- Numeric ----------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Numeric


def test_numeric_less_than_equals_max_keys_example():
    block = {"NumericLessThanEquals": {"s3:max-keys": "10"}}
    assert check(block, {"s3:max-keys": "10"})
    assert check(block, {"s3:max-keys": 3})
    assert not check(block, {"s3:max-keys": 11})
    assert not check(block, {"s3:max-keys": "many"})


@pytest.mark.parametrize("operator, value, expected", [
    ("NumericEquals", "2.5", True), ("NumericEquals", "2.50", True), ("NumericEquals", 3, False),
    ("NumericNotEquals", 3, True), ("NumericNotEquals", "2.5", False),
    ("NumericLessThan", 3, True), ("NumericLessThan", "2.5", False),
    ("NumericGreaterThan", 2, True), ("NumericGreaterThan", "2.5", False),
    ("NumericGreaterThanEquals", "2.5", True), ("NumericGreaterThanEquals", 3, False),
])
def test_numeric_operators(operator, value, expected):
    assert check({operator: {"kms:GrantConstraintType": value}}, {"kms:GrantConstraintType": 2.5}) is expected


def test_a_variable_is_not_substituted_in_a_numeric_value():
    assert not check({"NumericEquals": {"s3:max-keys": "${aws:PrincipalTag/limit}"}},
                     {"s3:max-keys": 5, "aws:PrincipalTag/limit": "5"})


# --- Date -------------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Date


def test_date_greater_than_token_issue_time_example():
    block = {"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}}
    assert check(block, {"aws:TokenIssueTime": "2020-06-01T00:00:00Z"})
    assert check(block, {"aws:TokenIssueTime": datetime(2021, 1, 1, tzinfo=timezone.utc)})
    assert not check(block, {"aws:TokenIssueTime": "2019-12-31T23:59:59Z"})
    # "The key is not present in ... requests that are made using access keys."
    assert not check(block, {})


def test_dates_compare_across_formats_and_zones():
    moment = {"aws:CurrentTime": "2024-03-01T12:00:00+02:00"}
    assert check({"DateEquals": {"aws:CurrentTime": "2024-03-01T10:00:00Z"}}, moment)
    assert check({"DateEquals": {"aws:CurrentTime": 1709287200}}, moment)
    assert check({"DateNotEquals": {"aws:CurrentTime": "2024-03-01"}}, moment)
    assert check({"DateLessThan": {"aws:CurrentTime": "2024-03-02"}}, moment)
    assert check({"DateLessThanEquals": {"aws:CurrentTime": "2024-03-01T10:00:00Z"}}, moment)
    assert check({"DateGreaterThanEquals": {"aws:CurrentTime": "2024-03-01T10:00:00Z"}}, moment)
    assert check({"DateGreaterThan": {"aws:EpochTime": "2024-01-01T00:00:00Z"}}, {"aws:EpochTime": 1709287200})
    assert parse_date("2024-03-01T10:00:00.250Z").microsecond == 250000
    assert parse_date("not a date") is None


# --- Bool -------------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Boolean


def test_bool_secure_transport_example():
    block = {"Bool": {"aws:SecureTransport": "false"}}
    assert check(block, {"aws:SecureTransport": False})
    assert check(block, {"aws:SecureTransport": "false"})
    assert not check(block, {"aws:SecureTransport": True})
    assert check({"Bool": {"aws:MultiFactorAuthPresent": True}}, {"aws:MultiFactorAuthPresent": "TRUE"})


# --- Binary -----------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_BinaryEquals


def test_binary_equals_compares_bytes_with_the_base64_value():
    block = {"BinaryEquals": {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}
    assert base64.b64decode("QmluYXJ5VmFsdWVJbkJhc2U2NA==") == b"BinaryValueInBase64"
    assert check(block, {"key": b"BinaryValueInBase64"})
    assert check(block, {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="})
    assert not check(block, {"key": b"OtherValue"})
    assert not check(block, {})


# --- IP address -------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_IPAddress


def test_ip_address_ranges_v4_and_v6():
    block = {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:DB8:1234:5678::/64"]}}
    assert check(block, {"aws:SourceIp": "203.0.113.200"})
    assert check(block, {"aws:SourceIp": "2001:db8:1234:5678::1"})
    assert not check(block, {"aws:SourceIp": "198.51.100.7"})
    assert not check(block, {"aws:SourceIp": "not-an-ip"})
    # "aws:SourceIp ... except when the requester uses a VPC endpoint": absent, so false.
    assert not check(block, {})


def test_a_plain_address_means_slash_32_and_not_ip_address_negates():
    assert check({"IpAddress": {"aws:SourceIp": "203.0.113.5"}}, {"aws:SourceIp": "203.0.113.5"})
    assert not check({"IpAddress": {"aws:SourceIp": "203.0.113.5"}}, {"aws:SourceIp": "203.0.113.6"})
    assert check({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "198.51.100.7"})
    assert not check({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "203.0.113.9"})


# --- ARN --------------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_ARN


def test_arn_equals_source_arn_of_the_sns_to_sqs_example():
    block = {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-2:123456789012:TOPIC-ID"}}
    assert check(block, {"aws:SourceArn": "arn:aws:sns:us-east-2:123456789012:TOPIC-ID"})
    assert not check(block, {"aws:SourceArn": "arn:aws:sns:us-east-2:123456789012:OTHER"})
    # "If an IAM user attempts to perform this operation directly, the condition returns false"
    assert not check(block, {})


def test_string_like_matches_where_arn_like_does_not():
    pattern = "arn:aws:someservice:*:111122223333:finance/*"
    value = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"
    assert check({"StringLike": {"aws:SourceArn": pattern}}, {"aws:SourceArn": value})
    assert not check({"ArnLike": {"aws:SourceArn": pattern}}, {"aws:SourceArn": value})
    assert check({"ArnLike": {"aws:SourceArn": pattern}},
                 {"aws:SourceArn": "arn:aws:someservice:us-east-2:111122223333:finance/document.txt"})


def test_arn_not_equals_and_arn_not_like():
    block = {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::444455556666:user/*"}}
    assert check(block, {"aws:PrincipalArn": "arn:aws:iam::111122223333:user/bob"})
    assert not check(block, {"aws:PrincipalArn": "arn:aws:iam::444455556666:user/bob"})
    assert not check({"ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::444455556666:user/user-name"}},
                     {"aws:PrincipalArn": "arn:aws:iam::444455556666:user/user-name"})


# --- Null, IfExists, missing keys --------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Null


def test_null_true_means_the_key_is_absent():
    block = {"Null": {"aws:TokenIssueTime": "true"}}
    assert check(block, {})
    assert not check(block, {"aws:TokenIssueTime": "2024-01-01T00:00:00Z"})
    assert check({"Null": {"aws:TokenIssueTime": "false"}}, {"aws:TokenIssueTime": "2024-01-01T00:00:00Z"})
    assert check({"Null": {"aws:TagKeys": True}}, {"aws:TagKeys": []})


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_IfExists
def test_if_exists_from_the_run_instances_example():
    plain = {"StringLike": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}}
    if_exists = {"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}}
    # The key is missing on the image, key pair, security group...: the plain check fails.
    assert not check(plain, {})
    assert check(if_exists, {})
    assert check(if_exists, {"ec2:InstanceType": "t2.micro"})
    assert not check(if_exists, {"ec2:InstanceType": "m5.large"})


def test_a_negated_operator_on_a_missing_key_is_true():
    # "If the policy condition requires that the key is not matched, such as StringNotLike or
    # ArnNotLike, and the right key is not present, the condition is true."
    assert check({"StringNotLike": {"aws:PrincipalTag/team": "blue"}}, {})
    assert check({"ArnNotLike": {"aws:SourceArn": "arn:aws:s3:::*"}}, {})
    assert check({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {})
    assert check({"StringNotEqualsIfExists": {"aws:PrincipalTag/team": "blue"}}, {})


def test_context_key_names_are_case_insensitive():
    # reference_policies_variables: "aws:CurrentTime is equivalent to AWS:currenttime"
    assert check({"DateLessThan": {"AWS:currenttime": "2030-01-01T00:00:00Z"}}, {"aws:CurrentTime": "2024-01-01T00:00:00Z"})
    assert check({"StringEquals": {"AWS:SourceAccount": "123456789012"}}, {"aws:SourceAccount": "123456789012"})


# --- Several keys and values ---------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html

TAGGED_BLOCK = {
    "StringEqualsIgnoreCase": {
        "aws:PrincipalTag/department": ["finance", "hr", "legal"],
        "aws:PrincipalTag/role": ["audit", "security"],
    },
    "StringEquals": {"aws:PrincipalAccount": "123456789012"},
}


def test_keys_and_operators_are_anded_values_are_ored():
    good = {"aws:PrincipalTag/department": "HR", "aws:PrincipalTag/role": "audit", "aws:PrincipalAccount": "123456789012"}
    assert check(TAGGED_BLOCK, good)
    assert not check(TAGGED_BLOCK, {**good, "aws:PrincipalTag/role": "developer"})
    assert not check(TAGGED_BLOCK, {**good, "aws:PrincipalAccount": "111122223333"})
    missing_role = dict(good)
    del missing_role["aws:PrincipalTag/role"]
    assert not check(TAGGED_BLOCK, missing_role)


def test_negated_operator_values_are_nored():
    block = {"StringNotEquals": {"aws:PrincipalAccount": ["111122223333", "444455556666"]}}
    assert not check(block, {"aws:PrincipalAccount": "111122223333"})
    assert not check(block, {"aws:PrincipalAccount": "444455556666"})
    assert check(block, {"aws:PrincipalAccount": "777788889999"})


def test_the_failing_clause_is_reported():
    result = evaluate_conditions(parse_condition_block(TAGGED_BLOCK), RequestContext(
        {"aws:PrincipalTag/department": "hr", "aws:PrincipalTag/role": "audit", "aws:PrincipalAccount": "1"}))
    assert not result.matched
    assert result.failed.key == "aws:PrincipalAccount"
    assert "aws:PrincipalAccount" in result.reason and "'1'" in result.reason


FOR_ALL = {"ForAllValues:StringEquals": {"dynamodb:Attributes": ["ID", "Message", "Tags"]}}
FOR_ANY = {"ForAnyValue:StringEquals": {"dynamodb:Attributes": ["ID", "PostDateTime"]}}


def test_for_all_values_from_the_thread_table_example():
    assert check(FOR_ALL, {"dynamodb:Attributes": ["Message", "Tags"]})
    assert check(FOR_ALL, {"dynamodb:Attributes": ["ID", "Message", "Tags"]})
    assert not check(FOR_ALL, {"dynamodb:Attributes": ["Message", "UserName"]})
    assert not check({"ForAllValues:StringEquals": {"dynamodb:Attributes": ["PostDateTime", "Message", "Tags"]}},
                     {"dynamodb:Attributes": ["PostDateTime", "UserName"]})


def test_for_all_values_is_true_for_a_missing_or_empty_key():
    # "It also returns true if there are no keys in the request, or if the key values resolve to a
    # null data set, such as an empty string."
    assert check(FOR_ALL, {})
    assert check(FOR_ALL, {"dynamodb:Attributes": []})


def test_for_any_value_from_the_deny_put_item_example():
    assert check(FOR_ANY, {"dynamodb:Attributes": ["PostDateTime", "Message"]})
    assert check(FOR_ANY, {"dynamodb:Attributes": ["UserName", "Message", "PostDateTime"]})
    assert not check(FOR_ANY, {"dynamodb:Attributes": ["UserName"]})
    # "For no matching key or a null dataset, the condition returns false."
    assert not check(FOR_ANY, {})
    assert not check(FOR_ANY, {"dynamodb:Attributes": []})


def test_set_operators_with_negated_and_like_operators():
    tags = {"aws:TagKeys": ["env", "team"]}
    assert check({"ForAllValues:StringLike": {"aws:TagKeys": ["e*", "t*"]}}, tags)
    assert not check({"ForAllValues:StringLike": {"aws:TagKeys": ["e*"]}}, tags)
    # ForAllValues with a negated operator: no request value may match a policy value.
    assert check({"ForAllValues:StringNotEquals": {"aws:TagKeys": ["owner"]}}, tags)
    assert not check({"ForAllValues:StringNotEquals": {"aws:TagKeys": ["team"]}}, tags)
    # ForAnyValue with a negated operator: at least one request value matches none of them.
    assert check({"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["team"]}}, tags)
    assert not check({"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["team", "env"]}}, tags)


def test_a_single_value_operator_over_a_multivalued_key():
    tags = {"aws:TagKeys": ["env", "team"]}
    assert check({"StringEquals": {"aws:TagKeys": "team"}}, tags)
    assert not check({"StringNotEquals": {"aws:TagKeys": "team"}}, tags)


# --- Policy variables in condition values ----------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html#policy-vars-conditionelement


def test_variable_in_a_string_condition_from_the_sns_endpoint_example():
    block = {"StringLike": {"sns:endpoint": "https://example.com/${aws:username}/"}, "StringEquals": {"sns:Protocol": "https"}}
    assert check(block, {"aws:username": "ana", "sns:endpoint": "https://example.com/ana/", "sns:Protocol": "https"})
    assert not check(block, {"aws:username": "ana", "sns:endpoint": "https://example.com/bob/", "sns:Protocol": "https"})


def test_a_variable_with_no_value_does_not_match_but_a_negated_operator_does():
    # "Policy variables with no value": StringEquals does not match; StringNotEquals matches.
    equals = {"StringEquals": {"s3:ExistingObjectTag/Team": "${aws:PrincipalTag/Team}"}}
    not_equals = {"StringNotEquals": {"s3:ExistingObjectTag/Team": "${aws:PrincipalTag/Team}"}}
    tagged_object = {"s3:ExistingObjectTag/Team": "blue"}
    assert not check(equals, tagged_object)
    assert check(not_equals, tagged_object)
    assert check(equals, {**tagged_object, "aws:PrincipalTag/Team": "blue"})
    assert not check(not_equals, {**tagged_object, "aws:PrincipalTag/Team": "blue"})


def test_variables_in_arn_conditions_and_literal_text_under_2008():
    block = {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::${aws:PrincipalTag/bucket}"}}
    assert check(block, {"aws:SourceArn": "arn:aws:s3:::photos", "aws:PrincipalTag/bucket": "photos"})
    assert not check(block, {"aws:SourceArn": "arn:aws:s3:::photos", "aws:PrincipalTag/bucket": "logs"})
    literal = {"StringEquals": {"aws:username": "${aws:username}"}}
    assert check(literal, {"aws:username": "${aws:username}"}, variables=False)
    assert not check(literal, {"aws:username": "ana"}, variables=False)


def test_special_variables_in_string_like_are_literal_characters():
    block = {"StringLike": {"s3:prefix": "a${*}b*"}}
    assert check(block, {"s3:prefix": "a*b-anything"})
    assert not check(block, {"s3:prefix": "axb"})


def test_the_request_context_merges_and_forgets_none():
    context = RequestContext({"aws:SourceIp": "203.0.113.1", "aws:Absent": None})
    assert "aws:absent" not in context and len(context) == 1
    merged = context.merged({"AWS:SOURCEIP": "198.51.100.1", "s3:prefix": ""})
    assert merged["aws:sourceip"] == "198.51.100.1" and merged["s3:prefix"] == ""
    assert sorted(merged) == ["AWS:SOURCEIP", "s3:prefix"]
