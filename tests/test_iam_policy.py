"""IAM policy documents alone (pure, fast): parsing and validation, Action/NotAction,
Resource/NotResource with wildcards and case rules, Principal, and policy variables.

Vectors are AWS's documented examples; each group names its page.
"""

import doctest
import json

import pytest

from lambdalab_ext.iam import conditions, policy
from lambdalab_ext.iam.policy import MalformedPolicyDocument, RequestPrincipal, parse_policy


def one(statement, version="2012-10-17", kind="identity"):
    document = {"Version": version, "Statement": statement} if version else {"Statement": statement}
    return parse_policy(document, kind=kind).statements[0]


def test_doctests():
    assert doctest.testmod(policy).failed == 0
    assert doctest.testmod(conditions).failed == 0


# --- Parsing and validation -------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html


def test_statement_is_one_object_or_a_list_and_json_text_is_accepted():
    single = parse_policy('{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}')
    listed = parse_policy({"Version": "2012-10-17", "Statement": [
        {"Sid": "A", "Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Sid": "B", "Effect": "Deny", "Action": ["s3:DeleteObject"], "Resource": ["arn:aws:s3:::b/*"]}]})
    assert len(single.statements) == 1 and single.statements[0].effect == "Allow"
    assert [s.sid for s in listed.statements] == ["A", "B"]
    assert listed.statements[1].label == 'Statement[1] (Sid "B")'
    assert parse_policy(b'{"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}').version == "2008-10-17"


def test_a_parsed_policy_passes_through_and_can_be_renamed():
    parsed = parse_policy({"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}, name="a")
    assert parse_policy(parsed) is parsed
    assert parse_policy(parsed, name="b").name == "b"


@pytest.mark.parametrize("document, message", [
    ("{not json", "Syntax errors in policy."),
    ("[]", "Syntax errors in policy."),
    ({"Version": "2012-10-17"}, "Syntax errors in policy."),
    ({"Version": "2012-10-17", "Statement": []}, "Syntax errors in policy."),
    ({"Version": "2011-01-01", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}, "Syntax errors in policy."),
    ({"Version": "2012-10-17", "Statment": {}}, "Syntax errors in policy."),
    ({"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Resources": "*"}}, "Syntax errors in policy."),
    ({"Statement": {"Effect": "Permit", "Action": "s3:*", "Resource": "*"}}, "Syntax errors in policy."),
    ({"Statement": {"Effect": "allow", "Action": "s3:*", "Resource": "*"}}, "The policy failed legacy parsing"),
    ({"Statement": {"Effect": "Allow", "Action": "s3:*", "NotAction": "s3:Get*", "Resource": "*"}}, "Syntax errors in policy."),
    ({"Statement": {"Effect": "Allow", "Action": 3, "Resource": "*"}}, "Syntax errors in policy."),
    ({"Statement": {"Effect": "Allow", "Resource": "*"}}, "Policy statement must contain actions."),
    ({"Statement": {"Effect": "Allow", "Action": [], "Resource": "*"}}, "Policy statement must contain actions."),
    ({"Statement": {"Effect": "Allow", "Action": "s3:*"}}, "Policy statement must contain resources."),
    ({"Statement": {"Effect": "Allow", "Action": "s3GetObject", "Resource": "*"}},
     "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."),
    ({"Statement": {"Effect": "Allow", "Action": "s3:Get:Object", "Resource": "*"}}, "Actions/Condition can contain only one colon."),
    ({"Statement": {"Effect": "Allow", "Action": "s 3:GetObject", "Resource": "*"}}, "Vendor s 3 is not valid"),
    ({"Statement": [{"Sid": "X", "Effect": "Allow", "Action": "s3:*", "Resource": "*"},
                    {"Sid": "X", "Effect": "Deny", "Action": "s3:*", "Resource": "*"}]},
     "Statement IDs (SID) in a single policy must be unique."),
    ({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}},
     "Policy document should not specify a principal."),
    ({"Statement": {"Effect": "Allow", "NotPrincipal": {"AWS": "123456789012"}, "Action": "s3:*", "Resource": "*"}},
     "Policy document should not specify a principal."),
    ({"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*",
                    "Condition": {"StringEqualz": {"aws:username": "ana"}}}}, "Syntax errors in policy."),
    ({"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*",
                    "Condition": {"ForSomeValues:StringEquals": {"aws:TagKeys": "a"}}}}, "Syntax errors in policy."),
    ({"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*",
                    "Condition": {"NullIfExists": {"aws:TokenIssueTime": "true"}}}}, "Syntax errors in policy."),
    ({"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*",
                    "Condition": {"Null": {"aws:TokenIssueTime": "maybe"}}}}, "Syntax errors in policy."),
    ({"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*",
                    "Condition": {"StringEquals": {"aws:username": {"nested": "object"}}}}}, "Syntax errors in policy."),
    ({"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*",
                    "Condition": {"DateGreaterThan": {"aws:CurrentTime": "yesterday"}}}}, "The policy failed legacy parsing"),
])
def test_bad_documents_are_refused_with_iams_messages(document, message):
    with pytest.raises(MalformedPolicyDocument) as error:
        parse_policy(document)
    assert error.value.message == message
    assert error.value.code == "MalformedPolicyDocument"


def test_the_error_says_where_and_what():
    document = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Sid": "Typo", "Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {"StringEqualz": {"k": "v"}}}]}
    with pytest.raises(MalformedPolicyDocument) as error:
        parse_policy(document)
    assert "Statement[1]" in error.value.detail and "StringEqualz" in error.value.detail
    assert str(error.value).startswith("Syntax errors in policy. (")


def test_a_resource_based_policy_needs_a_principal_and_may_omit_resource():
    with pytest.raises(MalformedPolicyDocument) as error:
        parse_policy({"Statement": {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}}, kind="resource")
    assert error.value.message == "Missing required field Principal"
    statement = one({"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "lambda:InvokeFunction"},
                    kind="resource")
    assert statement.matches_resource("arn:aws:lambda:us-east-1:123456789012:function:f")


def test_kind_must_be_identity_or_resource():
    with pytest.raises(ValueError):
        parse_policy({"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}, kind="session")


# --- Action: case-insensitive wildcards ---------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_AccessPolicyLanguage_Interplay.html
# (AllowGetList iam:Get* iam:List*; DenyReports iam:*Report)


def test_action_wildcards_from_the_explicit_implicit_deny_example():
    allow = one({"Sid": "AllowGetList", "Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"})
    deny = one({"Sid": "DenyReports", "Effect": "Deny", "Action": "iam:*Report", "Resource": "*"})
    assert allow.matches_action("iam:GetUser") and allow.matches_action("iam:ListRoles")
    assert not allow.matches_action("iam:CreatePolicy")
    assert deny.matches_action("iam:GetOrganizationsAccessReport")
    assert deny.matches_action("iam:GenerateCredentialReport")
    assert not deny.matches_action("iam:GetUser")


def test_action_matching_ignores_case_and_question_mark_is_one_character():
    statement = one({"Effect": "Allow", "Action": ["S3:getobject", "sqs:?endMessage"], "Resource": "*"})
    assert statement.matches_action("s3:GetObject")
    assert statement.matches_action("SQS:SENDMESSAGE")
    assert not statement.matches_action("sqs:SendMessageBatch")
    assert not statement.matches_action("sqs:endMessage")
    assert one({"Effect": "Allow", "Action": "*", "Resource": "*"}).matches_action("anything:AtAll")


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html
def test_not_action_matches_everything_except_the_listed_actions():
    everything_but_iam = one({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert everything_but_iam.matches_action("s3:GetObject")
    assert not everything_but_iam.matches_action("iam:CreateUser")
    # "Effect": "Allow", "NotAction": "s3:DeleteBucket", "Resource": "arn:aws:s3:::*": every S3 action
    # on S3 resources except DeleteBucket; not ListAllMyBuckets (it needs "*"), nor other services.
    s3_but_delete = one({"Effect": "Allow", "NotAction": "s3:DeleteBucket", "Resource": "arn:aws:s3:::*"})
    assert s3_but_delete.outcome("s3:PutObject", "arn:aws:s3:::b/k", {}).applies
    assert not s3_but_delete.outcome("s3:DeleteBucket", "arn:aws:s3:::b", {}).applies
    assert not s3_but_delete.outcome("s3:ListAllMyBuckets", "*", {}).applies
    assert not s3_but_delete.outcome("dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:123456789012:table/T", {}).applies


# --- Resource: case-sensitive wildcards, segment by segment -------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html


@pytest.mark.parametrize("key", [
    "1/test/object.jpg", "1/2/test/object.jpg", "1/2/test/3/object.jpg", "1/2/3/test/4/object.jpg",
    "1///test///object.jpg", "1/test/.jpg", "/test/object.jpg", "1/test/",
])
def test_star_expands_across_slashes_in_the_documented_objects(key):
    statement = one({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*/test/*"})
    assert statement.matches_resource(f"arn:aws:s3:::DOC-EXAMPLE-BUCKET/{key}")


@pytest.mark.parametrize("key", ["1-test/object.jpg", "test/object.jpg", "1/2/test.jpg"])
def test_the_documented_objects_the_pattern_does_not_match(key):
    statement = one({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*/test/*"})
    assert not statement.matches_resource(f"arn:aws:s3:::DOC-EXAMPLE-BUCKET/{key}")


def test_resources_are_case_sensitive():
    statement = one({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::Photos/*"})
    assert statement.matches_resource("arn:aws:s3:::Photos/cat.jpg")
    assert not statement.matches_resource("arn:aws:s3:::photos/cat.jpg")


def test_a_wildcard_stays_in_its_segment_except_the_resource_part():
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_ARN
    # (the same value the ArnLike example uses: the first "*" may match only "us-east-2")
    statement = one({"Effect": "Allow", "Action": "*", "Resource": "arn:aws:someservice:*:111122223333:finance/*"})
    assert statement.matches_resource("arn:aws:someservice:us-east-2:111122223333:finance/document.txt")
    assert not statement.matches_resource("arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt")
    # The resource part keeps its colons: the Lambda console's log permissions cover a log stream.
    # https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html
    logs = one({"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/my-function:*"})
    stream = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/my-function:log-stream:2024/05/01/[$LATEST]abc"
    assert logs.matches_resource(stream)
    assert not logs.matches_resource("arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/other:log-stream:x")
    assert one({"Effect": "Allow", "Action": "logs:*", "Resource": "arn:aws:logs:*:*:*"}).matches_resource(stream)


def test_a_short_pattern_is_matched_as_a_whole_string():
    assert one({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}).matches_resource("arn:aws:s3:::b/k")
    assert one({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:*"}).matches_resource("arn:aws:s3:::b/k")
    assert not one({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:sqs:*"}).matches_resource("arn:aws:s3:::b/k")


def test_question_mark_matches_one_character_of_a_resource():
    statement = one({"Effect": "Allow", "Action": "sqs:*", "Resource": "arn:aws:sqs:us-east-?:123456789012:queue?"})
    assert statement.matches_resource("arn:aws:sqs:us-east-1:123456789012:queue1")
    assert not statement.matches_resource("arn:aws:sqs:us-east-1:123456789012:queue12")
    assert not statement.matches_resource("arn:aws:sqs:us-east-12:123456789012:queue1")


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notresource.html
def test_not_resource_from_the_hr_payroll_example():
    statement = one({"Effect": "Deny", "Action": "s3:*",
                     "NotResource": ["arn:aws:s3:::HRBucket/Payroll", "arn:aws:s3:::HRBucket/Payroll/*"]})
    assert statement.matches_resource("arn:aws:s3:::HRBucket/Other/file.txt")
    assert statement.matches_resource("arn:aws:s3:::OtherBucket")
    assert not statement.matches_resource("arn:aws:s3:::HRBucket/Payroll")
    assert not statement.matches_resource("arn:aws:s3:::HRBucket/Payroll/march.csv")
    # "If the action also included Amazon EC2 actions, then the policy would not deny access to
    # any EC2 resources": the statement's Action scopes it.
    assert not statement.outcome("ec2:StartInstances", "arn:aws:ec2:us-east-1:123456789012:instance/i-1", {}).applies


# --- Policy variables ----------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html


def test_username_variable_in_a_resource():
    statement = one({"Action": ["s3:GetObject", "s3:PutObject"], "Effect": "Allow",
                     "Resource": ["arn:aws:s3:::mybucket/${aws:username}/*"]})
    assert statement.matches_resource("arn:aws:s3:::mybucket/David/notes.txt", {"aws:username": "David"})
    assert not statement.matches_resource("arn:aws:s3:::mybucket/Adele/notes.txt", {"aws:username": "David"})


def test_a_principal_tag_variable_and_its_default():
    statement = one({"Effect": "Allow", "Action": "s3:*",
                     "Resource": "arn:aws:s3:::DOC-EXAMPLE-BUCKET-${aws:PrincipalTag/team, 'company-wide'}"})
    assert statement.matches_resource("arn:aws:s3:::DOC-EXAMPLE-BUCKET-yellow", {"aws:PrincipalTag/team": "yellow"})
    assert not statement.matches_resource("arn:aws:s3:::DOC-EXAMPLE-BUCKET-company-wide", {"aws:PrincipalTag/team": "yellow"})
    assert statement.matches_resource("arn:aws:s3:::DOC-EXAMPLE-BUCKET-company-wide", {})


def test_variable_names_are_case_insensitive():
    statement = one({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::bucket/${aws:PrincipalTag/department}"})
    assert statement.matches_resource("arn:aws:s3:::bucket/hr", {"AWS:principaltag/Department": "hr"})


def test_a_variable_with_no_value_matches_no_resource():
    statement = one({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::bucket/${aws:PrincipalTag/team}/*"})
    assert not statement.matches_resource("arn:aws:s3:::bucket//x", {})
    assert not statement.matches_resource("arn:aws:s3:::bucket/${aws:PrincipalTag/team}/x", {})
    not_resource = one({"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::bucket/${aws:PrincipalTag/team}/*"})
    assert not_resource.matches_resource("arn:aws:s3:::bucket/blue/x", {})  # the exclusion matches nothing


def test_special_variables_stand_for_literal_characters():
    statement = one({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::bucket/${*}${?}${$}"})
    assert statement.matches_resource("arn:aws:s3:::bucket/*?$")
    assert not statement.matches_resource("arn:aws:s3:::bucket/ab$")


def test_under_version_2008_variables_are_literal_text():
    statement = one({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::mybucket/${aws:username}/*"}, version=None)
    assert statement.matches_resource("arn:aws:s3:::mybucket/${aws:username}/x", {"aws:username": "David"})
    assert not statement.matches_resource("arn:aws:s3:::mybucket/David/x", {"aws:username": "David"})
    explicit = one({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/${aws:username}"}, version="2008-10-17")
    assert not explicit.matches_resource("arn:aws:s3:::b/David", {"aws:username": "David"})


def test_a_substituted_value_is_literal_not_a_wildcard():
    statement = one({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/${aws:username}"})
    assert statement.matches_resource("arn:aws:s3:::b/a*", {"aws:username": "a*"})
    assert not statement.matches_resource("arn:aws:s3:::b/abc", {"aws:username": "a*"})


# --- Principal ------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html

SESSION = RequestPrincipal.from_arn("arn:aws:sts::111122223333:assumed-role/examplerole/examplerolesessionname")


@pytest.mark.parametrize("principal, kind", [
    ("*", "all"),
    ({"AWS": "*"}, "all"),
    ({"AWS": "arn:aws:sts::111122223333:assumed-role/examplerole/examplerolesessionname"}, "session"),
    ({"AWS": "arn:aws:iam::111122223333:role/examplerole"}, "role"),
    ({"AWS": "arn:aws:iam::111122223333:role/some/path/examplerole"}, "role"),
    ({"AWS": "arn:aws:iam::111122223333:root"}, "account"),
    ({"AWS": "111122223333"}, "account"),
    ({"AWS": ["arn:aws:iam::111122223333:root", "arn:aws:iam::111122223333:role/examplerole"]}, "role"),
    ({"AWS": "arn:aws:iam::444455556666:root"}, None),
    ({"AWS": "arn:aws:iam::111122223333:role/otherrole"}, None),
    ({"AWS": "arn:aws:sts::111122223333:assumed-role/examplerole/*"}, None),  # no wildcard in principals
    ({"Service": "lambda.amazonaws.com"}, None),
])
def test_how_a_principal_names_a_role_session(principal, kind):
    statement = one({"Effect": "Allow", "Principal": principal, "Action": "s3:*", "Resource": "*"}, kind="resource")
    assert statement.principal_match(SESSION) == kind


def test_service_principals_and_not_principal():
    s3 = RequestPrincipal.from_arn("s3.amazonaws.com")
    service = one({"Effect": "Allow", "Principal": {"Service": ["s3.amazonaws.com", "sns.amazonaws.com"]},
                   "Action": "lambda:InvokeFunction"}, kind="resource")
    assert service.principal_match(s3) == "service"
    assert service.principal_match(SESSION) is None
    not_principal = one({"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:role/examplerole"},
                         "Action": "s3:*", "Resource": "*"}, kind="resource")
    assert not_principal.principal_match(SESSION) is None
    assert not_principal.principal_match(RequestPrincipal.from_arn("arn:aws:iam::111122223333:user/bob")) == "all"


def test_request_principals_are_read_from_their_arns():
    user = RequestPrincipal.from_arn("arn:aws:iam::123456789012:user/division/JohnDoe")
    assert (user.kind, user.account, user.user_name) == ("IAMUser", "123456789012", "JohnDoe")
    root = RequestPrincipal.from_arn("arn:aws:iam::123456789012:root")
    assert root.kind == "Root"
    with_path = RequestPrincipal.from_arn("arn:aws:sts::123456789012:assumed-role/r/s", "arn:aws:iam::123456789012:role/p/r")
    assert with_path.role_arn == "arn:aws:iam::123456789012:role/p/r" and with_path.session_name == "s"
    with pytest.raises(ValueError, match="unsupported principal"):
        RequestPrincipal.from_arn("bob")


def test_to_json_round_trips_the_document():
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    assert json.loads(parse_policy(document).to_json()) == document


def test_the_iam_package_imports_nothing_that_does_io():
    import ast
    import pathlib

    allowed = {"__future__", "base64", "binascii", "copy", "dataclasses", "datetime", "functools", "ipaddress",
               "json", "re", "typing", "collections", "urllib"}
    package = pathlib.Path(policy.__file__).parent
    # enforce, roles, service and secrets wire the pure core into the running lab (the endpoint, moto).
    wiring = {"enforce.py", "roles.py", "service.py", "secrets.py"}
    for path in package.glob("*.py"):
        if path.name in wiring:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"
                assert name != "urllib.request", path.name
