"""IAM policy evaluation alone (pure, fast): explicit deny over allow, the same-account union of
identity-based and resource-based policies (session vs role vs account principals), permissions
boundaries, session policies, cross-account requests, KMS key policies, service principals, the
explanation and AWS's access denied messages.

Vectors are AWS's documented examples; each group names its page.
"""

import doctest
from datetime import datetime, timezone

import pytest

from lambdalab_ext import iam
from lambdalab_ext.iam import evaluator
from lambdalab_ext.iam.evaluator import AuthorizationRequest, access_denied_message, evaluate
from lambdalab_ext.iam.policy import MalformedPolicyDocument, parse_policy

ACCOUNT = "123456789012"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/orders-role/orders"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/orders-role"
TABLE = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/Orders"


def doc(*statements, version="2012-10-17"):
    return {"Version": version, "Statement": list(statements)}


def allow(action, resource="*", **extra):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource="*", **extra):
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def grant(principal, action, resource, effect="Allow", **extra):
    return {"Effect": effect, "Principal": principal, "Action": action, "Resource": resource, **extra}


def test_doctests():
    assert doctest.testmod(evaluator, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0
    assert doctest.testmod(iam).failed == 0


# --- Explicit deny, implicit deny, allow -----------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_AccessPolicyLanguage_Interplay.html

GET_LIST_DENY_REPORTS = doc(
    {"Sid": "AllowGetList", "Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"},
    {"Sid": "DenyReports", "Effect": "Deny", "Action": "iam:*Report", "Resource": "*"},
)


def user_request(action, resource="*"):
    return AuthorizationRequest(f"arn:aws:iam::{ACCOUNT}:user/carlossalazar", action, resource)


def test_allowed_implicitly_denied_and_explicitly_denied_actions():
    policies = {"ReadOnlyIAM": GET_LIST_DENY_REPORTS}
    assert evaluate(user_request("iam:GetUser"), policies).decision == "Allow"
    assert evaluate(user_request("iam:CreatePolicy"), policies).decision == "ImplicitDeny"
    assert evaluate(user_request("iam:GetOrganizationsAccessReport"), policies).decision == "ExplicitDeny"


def test_an_explicit_deny_wins_over_an_allow_in_another_policy():
    # "If someone adds another policy ... such as iam:GenerateCredentialReport, report-related
    # requests are still denied because of this explicit deny."
    policies = {"ReadOnlyIAM": GET_LIST_DENY_REPORTS, "Reports": doc(allow("iam:GenerateCredentialReport"))}
    decision = evaluate(user_request("iam:GenerateCredentialReport"), policies)
    assert decision.decision == "ExplicitDeny" and not decision.allowed
    assert [(d.policy_name, d.sid) for d in decision.statements] == [("ReadOnlyIAM", "DenyReports")]
    assert decision.denied_by == "identity-based policy"


def test_nothing_at_all_is_an_implicit_deny():
    decision = evaluate(AuthorizationRequest(SESSION, "dynamodb:PutItem", TABLE))
    assert decision.decision == "ImplicitDeny" and decision.statements == () and decision.checks == ()


# --- Same account: identity-based and resource-based together --------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html#policies_evaluation_example

CARLOS_IDENTITY = doc(
    {"Sid": "AllowS3ListRead", "Effect": "Allow",
     "Action": ["s3:GetBucketLocation", "s3:GetAccountPublicAccessBlock", "s3:ListAccessPoints", "s3:ListAllMyBuckets"],
     "Resource": "arn:aws:s3:::*"},
    {"Sid": "AllowS3Self", "Effect": "Allow", "Action": "s3:*",
     "Resource": ["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"]},
    {"Sid": "DenyS3Logs", "Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::*log*"},
)
CARLOS_BUCKET = doc(grant({"AWS": "arn:aws:iam::123456789012:user/carlossalazar"}, "s3:*",
                          ["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"]))


def test_carlos_is_denied_the_logs_bucket_and_allowed_his_own():
    to_logs = evaluate(user_request("s3:PutObject", "arn:aws:s3:::carlossalazar-logs"), {"carlos": CARLOS_IDENTITY})
    assert to_logs.decision == "ExplicitDeny"
    assert to_logs.statements[0].sid == "DenyS3Logs"
    own = evaluate(user_request("s3:PutObject", "arn:aws:s3:::carlossalazar/file.txt"),
                   {"carlos": CARLOS_IDENTITY}, resource_policy=CARLOS_BUCKET)
    assert own.decision == "Allow"
    # "If one of the policy types allows the request and the other doesn't, the request is still allowed."
    assert evaluate(user_request("s3:PutObject", "arn:aws:s3:::carlossalazar/f"), resource_policy=CARLOS_BUCKET).allowed
    assert evaluate(user_request("s3:PutObject", "arn:aws:s3:::carlossalazar/f"), {"carlos": CARLOS_IDENTITY}).allowed


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html#policy-eval-denyallow
# (resource-based policies and implicit denies in other policy types, same account)

OBJECT = "arn:aws:s3:::orders-bucket/report.csv"
S3_ONLY_BOUNDARY = doc(allow("dynamodb:*"))  # a boundary that does not allow S3


def bucket(principal, action="s3:GetObject"):
    return doc(grant({"AWS": principal} if principal != "*" else "*", action, "arn:aws:s3:::orders-bucket/*"))


def session_request(action="s3:GetObject", resource=OBJECT, **kwargs):
    return AuthorizationRequest(SESSION, action, resource, **kwargs)


def test_a_resource_policy_naming_the_session_allows_without_any_identity_policy():
    decision = evaluate(session_request(), resource_policy=bucket(SESSION))
    assert decision.decision == "Allow"
    assert decision.statements[0].principal_match == "session"
    assert decision.statements[0].policy_type == "resource-based policy"


def test_a_grant_to_the_session_is_not_limited_by_a_boundary_or_a_session_policy():
    decision = evaluate(session_request(), resource_policy=bucket(SESSION),
                        permissions_boundary=S3_ONLY_BOUNDARY, session_policies=[doc(allow("sqs:*"))])
    assert decision.allowed


def test_a_resource_policy_naming_the_role_allows_but_the_boundary_and_session_policy_limit_it():
    assert evaluate(session_request(), resource_policy=bucket(ROLE)).allowed
    capped = evaluate(session_request(), resource_policy=bucket(ROLE), permissions_boundary=S3_ONLY_BOUNDARY)
    assert (capped.decision, capped.denied_by) == ("ImplicitDeny", "permissions boundary")
    narrowed = evaluate(session_request(), resource_policy=bucket(ROLE), session_policies=doc(allow("sqs:*")))
    assert (narrowed.decision, narrowed.denied_by) == ("ImplicitDeny", "session policy")
    both = evaluate(session_request(), resource_policy=bucket(ROLE), permissions_boundary=doc(allow("s3:GetObject")),
                    session_policies=doc(allow("s3:Get*")))
    assert both.allowed


def test_a_role_with_a_path_is_still_the_role():
    path_role = f"arn:aws:iam::{ACCOUNT}:role/service-role/orders-role"
    request = AuthorizationRequest(SESSION, "s3:GetObject", OBJECT, role_arn=path_role)
    assert evaluate(request, resource_policy=bucket(path_role)).statements[0].principal_match == "role"


def test_a_resource_policy_naming_the_account_delegates_to_identity_policies():
    # reference_policies_elements_principal: account principals "delegate authority to the account".
    for principal in (ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root"):
        decision = evaluate(session_request(), resource_policy=bucket(principal))
        assert (decision.decision, decision.denied_by) == ("ImplicitDeny", "identity-based policy")
        assert any("delegates" in step for step in decision.steps)
        assert evaluate(session_request(), {"p": doc(allow("s3:GetObject", "arn:aws:s3:::orders-bucket/*"))},
                        resource_policy=bucket(principal)).allowed


def test_principal_star_with_a_principal_arn_condition_is_not_limited_by_a_boundary():
    # reference_policies_elements_principal (IAM role principals): "permissions boundaries or session
    # policies, do not limit permissions granted using the aws:PrincipalArn condition key with a
    # wildcard(*) in the Principal element"; for a session aws:PrincipalArn is the role's ARN.
    policy = doc(grant("*", "s3:GetObject", "arn:aws:s3:::orders-bucket/*",
                       Condition={"ArnEquals": {"aws:PrincipalArn": ROLE}}))
    decision = evaluate(session_request(), resource_policy=policy, permissions_boundary=S3_ONLY_BOUNDARY)
    assert decision.allowed and decision.statements[0].principal_match == "all"
    other = AuthorizationRequest(f"arn:aws:sts::{ACCOUNT}:assumed-role/other-role/x", "s3:GetObject", OBJECT)
    assert evaluate(other, resource_policy=policy).decision == "ImplicitDeny"


def test_an_explicit_deny_in_a_resource_policy_beats_an_administrator():
    policy = doc(grant({"AWS": ROLE}, "s3:*", "arn:aws:s3:::orders-bucket/*", effect="Deny", Sid="DenyOrdersRole"))
    decision = evaluate(session_request(), {"AdministratorAccess": iam.managed_policy("AdministratorAccess")},
                        resource_policy=policy)
    assert (decision.decision, decision.denied_by) == ("ExplicitDeny", "resource-based policy")
    assert decision.statements[0].sid == "DenyOrdersRole"


def test_a_deny_in_a_resource_policy_for_someone_else_does_not_apply():
    policy = doc(grant({"AWS": f"arn:aws:iam::{ACCOUNT}:role/intruder"}, "s3:*", "arn:aws:s3:::orders-bucket/*", effect="Deny"))
    assert evaluate(session_request(), {"p": doc(allow("s3:*"))}, resource_policy=policy).allowed


# --- Permissions boundaries ---------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html


def test_the_boundary_and_identity_policies_intersect():
    identity = {"S3Everything": doc(allow("s3:*"))}
    boundary = doc(allow(["s3:GetObject", "s3:ListBucket"]))
    assert evaluate(session_request("s3:GetObject"), identity, permissions_boundary=boundary).allowed
    capped = evaluate(session_request("s3:PutObject"), identity, permissions_boundary=boundary)
    assert (capped.decision, capped.denied_by) == ("ImplicitDeny", "permissions boundary")
    # The boundary alone grants nothing.
    alone = evaluate(session_request("s3:GetObject"), permissions_boundary=boundary)
    assert (alone.decision, alone.denied_by) == ("ImplicitDeny", "identity-based policy")


def test_an_explicit_deny_in_the_boundary():
    decision = evaluate(session_request("s3:DeleteObject"), {"p": doc(allow("s3:*"))},
                        permissions_boundary=doc(allow("s3:*"), deny("s3:DeleteObject")))
    assert (decision.decision, decision.denied_by) == ("ExplicitDeny", "permissions boundary")


# --- Session policies ----------------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session


def test_session_policies_narrow_the_role():
    identity = {"p": doc(allow(["s3:*", "dynamodb:*"]))}
    sessions = [doc(allow("s3:GetObject")), doc(allow("s3:ListBucket"))]
    assert evaluate(session_request("s3:GetObject"), identity, session_policies=sessions).allowed
    assert evaluate(session_request("s3:ListBucket", "arn:aws:s3:::orders-bucket"), identity, session_policies=sessions).allowed
    narrowed = evaluate(session_request("dynamodb:PutItem", TABLE), identity, session_policies=sessions)
    assert (narrowed.decision, narrowed.denied_by) == ("ImplicitDeny", "session policy")
    # A session policy cannot grant more than the role has.
    more = evaluate(session_request("sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:q"), identity,
                    session_policies=doc(allow("*")))
    assert (more.decision, more.denied_by) == ("ImplicitDeny", "identity-based policy")
    denied = evaluate(session_request("s3:GetObject"), identity, session_policies=doc(allow("*"), deny("s3:GetObject")))
    assert (denied.decision, denied.denied_by) == ("ExplicitDeny", "session policy")


# --- Cross-account ------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html

CARLOS_111 = "arn:aws:iam::111111111111:user/carlossalazar"
CROSS_IDENTITY = doc(
    {"Sid": "AllowS3ListRead", "Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
    {"Sid": "AllowS3ProductionObjectActions", "Effect": "Allow", "Action": "s3:*Object*", "Resource": "arn:aws:s3:::Production/*"},
    {"Sid": "DenyS3Logs", "Effect": "Deny", "Action": "s3:*", "Resource": ["arn:aws:s3:::*log*", "arn:aws:s3:::*log*/*"]},
)
PRODUCTION_BUCKET = doc(grant({"AWS": CARLOS_111}, ["s3:GetObject*", "s3:PutObject*", "s3:ReplicateObject", "s3:RestoreObject"],
                              "arn:aws:s3:::Production/*"))


def cross(action, resource):
    return AuthorizationRequest(CARLOS_111, action, resource, resource_account="222222222222")


def test_carlos_cross_account_example():
    logs = evaluate(cross("s3:PutObject", "arn:aws:s3:::Production-logs/file"), {"carlos": CROSS_IDENTITY})
    assert logs.decision == "ExplicitDeny" and logs.statements[0].sid == "DenyS3Logs"
    production = evaluate(cross("s3:PutObject", "arn:aws:s3:::Production/file"), {"carlos": CROSS_IDENTITY},
                          resource_policy=PRODUCTION_BUCKET)
    assert production.decision == "Allow"
    assert {d.policy_type for d in production.statements} == {"identity-based policy", "resource-based policy"}
    # "He can create and edit, but not delete the objects in the bucket."
    delete = evaluate(cross("s3:DeleteObject", "arn:aws:s3:::Production/file"), {"carlos": CROSS_IDENTITY},
                      resource_policy=PRODUCTION_BUCKET)
    assert (delete.decision, delete.denied_by) == ("ImplicitDeny", "resource-based policy")


def test_cross_account_needs_both_sides():
    identity_only = evaluate(cross("s3:PutObject", "arn:aws:s3:::Production/file"), {"carlos": CROSS_IDENTITY})
    assert (identity_only.decision, identity_only.denied_by) == ("ImplicitDeny", "resource-based policy")
    resource_only = evaluate(cross("s3:PutObject", "arn:aws:s3:::Production/file"), resource_policy=PRODUCTION_BUCKET)
    assert (resource_only.decision, resource_only.denied_by) == ("ImplicitDeny", "identity-based policy")


def test_cross_account_to_the_account_principal_and_from_a_role_session():
    session = "arn:aws:sts::111111111111:assumed-role/reader/fn"
    queue = "arn:aws:sqs:us-east-1:222222222222:orders"
    queue_policy = doc(grant({"AWS": "111111111111"}, "sqs:SendMessage", queue))
    request = AuthorizationRequest(session, "sqs:SendMessage", queue)
    assert request.owner_account == "222222222222"
    assert evaluate(request, {"p": doc(allow("sqs:SendMessage", queue))}, resource_policy=queue_policy).allowed
    # Even a grant to the session itself still needs the caller's identity-based allow across accounts.
    direct = doc(grant({"AWS": session}, "sqs:SendMessage", queue))
    assert evaluate(request, resource_policy=direct).decision == "ImplicitDeny"
    capped = evaluate(request, {"p": doc(allow("sqs:*"))}, resource_policy=queue_policy,
                      permissions_boundary=doc(allow("s3:*")))
    assert capped.denied_by == "permissions boundary"


# --- KMS key policies must allow -------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html#policy-eval-denyallow
# ("IAM role trust policies and KMS key policies are exceptions to this logic")
# and the default key policy: https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html

KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
DEFAULT_KEY_POLICY = doc({"Sid": "Enable IAM User Permissions", "Effect": "Allow",
                          "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"})


def test_a_key_policy_must_allow_before_iam_policies_count():
    request = session_request("kms:Decrypt", KEY)
    identity = {"p": doc(allow("kms:Decrypt", KEY))}
    assert evaluate(request, identity, resource_policy=DEFAULT_KEY_POLICY).allowed
    assert evaluate(request, resource_policy=DEFAULT_KEY_POLICY).denied_by == "identity-based policy"
    closed = doc(grant({"AWS": f"arn:aws:iam::{ACCOUNT}:role/admin"}, "kms:*", "*"))
    decision = evaluate(request, identity, resource_policy=closed)
    assert (decision.decision, decision.denied_by) == ("ImplicitDeny", "resource-based policy")


# --- Service principals and the function's own resource policy ---------------------------------------------
# https://docs.aws.amazon.com/lambda/latest/dg/permissions-function-services.html

FUNCTION = f"arn:aws:lambda:us-east-2:{ACCOUNT}:function:my-function"
FUNCTION_POLICY = doc({
    "Sid": "lambda-allow-s3-my-function", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
    "Action": "lambda:InvokeFunction", "Resource": FUNCTION,
    "Condition": {"StringEquals": {"AWS:SourceAccount": ACCOUNT}, "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::amzn-s3-demo-bucket"}},
})


def s3_invokes(bucket_arn, account=ACCOUNT):
    return AuthorizationRequest("s3.amazonaws.com", "lambda:InvokeFunction", FUNCTION,
                                context={"aws:SourceArn": bucket_arn, "aws:SourceAccount": account})


def test_s3_may_invoke_the_function_only_for_the_named_bucket_and_account():
    assert evaluate(s3_invokes("arn:aws:s3:::amzn-s3-demo-bucket"), resource_policy=FUNCTION_POLICY).allowed
    other = evaluate(s3_invokes("arn:aws:s3:::someone-elses-bucket"), resource_policy=FUNCTION_POLICY)
    assert (other.decision, other.denied_by) == ("ImplicitDeny", "resource-based policy")
    confused_deputy = evaluate(s3_invokes("arn:aws:s3:::amzn-s3-demo-bucket", "999999999999"), resource_policy=FUNCTION_POLICY)
    assert confused_deputy.decision == "ImplicitDeny"
    # The execution role's policies are irrelevant to who may invoke the function.
    assert evaluate(s3_invokes("arn:aws:s3:::amzn-s3-demo-bucket"), {"admin": doc(allow("*"))}).decision == "ImplicitDeny"


def test_the_root_user_has_full_access_to_its_account_unless_denied():
    root = AuthorizationRequest(f"arn:aws:iam::{ACCOUNT}:root", "s3:DeleteBucket", "arn:aws:s3:::b")
    assert evaluate(root).allowed
    denied = evaluate(root, resource_policy=doc(grant("*", "s3:DeleteBucket", "arn:aws:s3:::b", effect="Deny")))
    assert denied.decision == "ExplicitDeny"


# --- The request context ----------------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html


def test_the_request_context_carries_the_principals_global_keys():
    request = AuthorizationRequest(SESSION, "s3:GetObject", OBJECT, context={"aws:SourceIp": "203.0.113.9"},
                                   principal_tags={"team": "orders"}, role_id="AROAEXAMPLEID",
                                   current_time=datetime(2024, 5, 1, 12, tzinfo=timezone.utc))
    context = request.request_context()
    assert context["aws:PrincipalArn"] == ROLE
    assert context["aws:PrincipalAccount"] == ACCOUNT
    assert context["aws:PrincipalType"] == "AssumedRole"
    assert context["aws:userid"] == "AROAEXAMPLEID:orders"
    assert context["aws:PrincipalTag/team"] == "orders"
    assert context["aws:ResourceAccount"] == ACCOUNT
    assert context["aws:EpochTime"] == 1714564800
    assert context["aws:sourceip"] == "203.0.113.9"
    assert "aws:username" not in context  # a role session has no aws:username
    user = AuthorizationRequest(f"arn:aws:iam::{ACCOUNT}:user/David", "s3:GetObject", OBJECT).request_context()
    assert user["aws:username"] == "David" and user["aws:PrincipalType"] == "User"


def test_conditions_and_variables_in_evaluation():
    # reference_policies_variables: a user-specific "home directory" and a team bucket with a default
    home = {"home": doc(allow("s3:GetObject", "arn:aws:s3:::mybucket/${aws:username}/*"))}
    david = AuthorizationRequest(f"arn:aws:iam::{ACCOUNT}:user/David", "s3:GetObject", "arn:aws:s3:::mybucket/David/a.txt")
    assert evaluate(david, home).allowed
    adele = AuthorizationRequest(f"arn:aws:iam::{ACCOUNT}:user/David", "s3:GetObject", "arn:aws:s3:::mybucket/Adele/a.txt")
    assert evaluate(adele, home).decision == "ImplicitDeny"
    team = {"team": doc(allow("s3:*", "arn:aws:s3:::DOC-EXAMPLE-BUCKET-${aws:PrincipalTag/team, 'company-wide'}"))}
    yellow = AuthorizationRequest(SESSION, "s3:ListBucket", "arn:aws:s3:::DOC-EXAMPLE-BUCKET-yellow", principal_tags={"team": "yellow"})
    untagged = AuthorizationRequest(SESSION, "s3:ListBucket", "arn:aws:s3:::DOC-EXAMPLE-BUCKET-company-wide")
    assert evaluate(yellow, team).allowed and evaluate(untagged, team).allowed
    # reference_policies_elements_condition_operators (Bool): deny S3 over plain HTTP
    https_only = {"s3": doc(allow("s3:*")), "https": doc(deny("s3:*", Sid="BooleanExample",
                                                                Condition={"Bool": {"aws:SecureTransport": "false"}}))}
    assert evaluate(session_request(context={"aws:SecureTransport": True}), https_only).allowed
    assert evaluate(session_request(context={"aws:SecureTransport": False}), https_only).decision == "ExplicitDeny"


def test_a_failing_condition_makes_an_allow_not_apply_rather_than_deny():
    # Not moto's behaviour (it denies on a failed condition): the statement just does not apply.
    policies = {"ip": doc(allow("s3:GetObject", Condition={"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}})),
                "all": doc(allow("s3:GetObject"))}
    decision = evaluate(session_request(context={"aws:SourceIp": "198.51.100.1"}), policies)
    assert decision.allowed
    ip_check = next(c for c in decision.checks if c.policy_name == "ip")
    assert not ip_check.outcome.applies and "aws:SourceIp" in ip_check.outcome.reason


# --- Ways to pass policies ---------------------------------------------------------------------------------


def test_policies_as_mapping_list_pairs_json_and_parsed():
    document = doc(allow("s3:GetObject"))
    request = session_request()
    for policies in ({"named": document}, [document], [("named", document)], ("named", document),
                     '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}}',
                     parse_policy(document, name="named"), document):
        assert evaluate(request, policies).allowed, policies
    assert evaluate(request, [("named", document)]).statements[0].policy_name == "named"


def test_a_malformed_policy_is_refused_at_evaluation():
    with pytest.raises(MalformedPolicyDocument) as error:
        evaluate(session_request(), {"bad": {"Statement": {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}}})
    assert error.value.message == "Policy document should not specify a principal."


# --- The explanation ---------------------------------------------------------------------------------------


def test_explain_names_the_deciding_statement_or_that_nothing_allowed():
    basic = {"AWSLambdaBasicExecutionRole": iam.managed_policy("AWSLambdaBasicExecutionRole")}
    denied = evaluate(AuthorizationRequest(SESSION, "dynamodb:PutItem", TABLE), basic)
    text = denied.explain()
    assert "Decision: ImplicitDeny" in text
    assert "No statement of any identity-based policy allows dynamodb:PutItem" in text
    assert 'identity-based policy "AWSLambdaBasicExecutionRole" Statement[0] does not apply' in text
    assert "Action does not cover dynamodb:PutItem" in text
    allowed = evaluate(AuthorizationRequest(SESSION, "dynamodb:PutItem", TABLE),
                       {"orders-writer": doc({"Sid": "WriteOrders", **allow("dynamodb:PutItem", TABLE)})})
    explained = str(allowed)
    assert "Decision: Allow" in explained
    assert 'identity-based policy "orders-writer" Statement[0] (Sid "WriteOrders"): ' in explained
    assert '"Action": "dynamodb:PutItem"' in explained
    assert allowed.statements[0].document == {"Sid": "WriteOrders", **allow("dynamodb:PutItem", TABLE)}
    assert allowed.statements[0].index == 0


def test_every_statement_checked_is_listed_with_its_outcome():
    decision = evaluate(user_request("iam:GetOrganizationsAccessReport"), {"ReadOnlyIAM": GET_LIST_DENY_REPORTS})
    lines = [check.describe() for check in decision.checks]
    assert lines == ['identity-based policy "ReadOnlyIAM" Statement[0] (Sid "AllowGetList") allows',
                     'identity-based policy "ReadOnlyIAM" Statement[1] (Sid "DenyReports") denies']


# --- Access denied messages ------------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html

JOHN = "arn:aws:iam::123456789012:user/JohnDoe"
DEPLOYMENT_GROUP = "arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:*"


def john(action, resource="*", **kwargs):
    return AuthorizationRequest(JOHN, action, resource, **kwargs)


def test_message_no_identity_based_policy_allows():
    decision = evaluate(john("codecommit:ListRepositories"))
    assert access_denied_message(decision) == (
        "User: arn:aws:iam::123456789012:user/JohnDoe is not authorized to perform: codecommit:ListRepositories "
        "because no identity-based policy allows the codecommit:ListRepositories action")


def test_message_explicit_deny_in_an_identity_based_policy():
    decision = evaluate(john("codedeploy:ListDeployments", DEPLOYMENT_GROUP),
                        {"p": doc(allow("*"), deny("codedeploy:ListDeployments", DEPLOYMENT_GROUP))})
    assert access_denied_message(decision) == (
        "User: arn:aws:iam::123456789012:user/JohnDoe is not authorized to perform: codedeploy:ListDeployments "
        "on resource: arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:* with an explicit deny in an "
        "identity-based policy")


def test_message_no_permissions_boundary_allows():
    decision = evaluate(john("codedeploy:ListDeployments", DEPLOYMENT_GROUP), {"p": doc(allow("*"))},
                        permissions_boundary=doc(allow("s3:*")))
    assert access_denied_message(decision) == (
        "User: arn:aws:iam::123456789012:user/JohnDoe is not authorized to perform: codedeploy:ListDeployments "
        "on resource: arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:* because no permissions boundary "
        "allows the codedeploy:ListDeployments action")


def test_message_explicit_deny_in_a_permissions_boundary():
    request = AuthorizationRequest("arn:aws:iam::777788889999:user/JohnDoe", "sagemaker:ListModels", "*")
    decision = evaluate(request, {"p": doc(allow("*"))}, permissions_boundary=doc(allow("*"), deny("sagemaker:*")))
    assert access_denied_message(decision) == (
        "User: arn:aws:iam::777788889999:user/JohnDoe is not authorized to perform: sagemaker:ListModels "
        "with an explicit deny in a permissions boundary")


def test_message_no_session_policy_allows_and_explicit_deny_in_one():
    implicit = evaluate(john("codecommit:ListRepositories"), {"p": doc(allow("*"))}, session_policies=doc(allow("s3:*")))
    assert access_denied_message(implicit) == (
        "User: arn:aws:iam::123456789012:user/JohnDoe is not authorized to perform: codecommit:ListRepositories "
        "because no session policy allows the codecommit:ListRepositories action")
    explicit = evaluate(john("codedeploy:ListDeployments", DEPLOYMENT_GROUP), {"p": doc(allow("*"))},
                        session_policies=doc(allow("*"), deny("codedeploy:*")))
    # The 2023 page prints "in a sessions policy" in this one example; "a session policy" is the
    # form its summary and the other examples give.
    assert access_denied_message(explicit).endswith(
        "on resource: arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:* with an explicit deny in a session policy")


def test_message_no_resource_based_policy_allows_and_explicit_deny_in_one():
    implicit = evaluate(john("secretsmanager:GetSecretValue", resource_account="444455556666"), {"p": doc(allow("*"))})
    assert access_denied_message(implicit) == (
        "User: arn:aws:iam::123456789012:user/JohnDoe is not authorized to perform: secretsmanager:GetSecretValue "
        "because no resource-based policy allows the secretsmanager:GetSecretValue action")
    secrets = "arn:aws:secretsmanager:us-east-1:123456789012:secret:*"
    explicit = evaluate(john("secretsmanager:GetSecretValue", secrets), {"p": doc(allow("*"))},
                        resource_policy=doc(grant("*", "secretsmanager:GetSecretValue", "*", effect="Deny")))
    assert access_denied_message(explicit) == (
        "User: arn:aws:iam::123456789012:user/JohnDoe is not authorized to perform: secretsmanager:GetSecretValue "
        "on resource: arn:aws:secretsmanager:us-east-1:123456789012:secret:* with an explicit deny in a resource-based policy")


def test_message_for_a_function_denied_put_item():
    # The form the lab's issue asks for, for a function's role session.
    decision = evaluate(AuthorizationRequest(f"arn:aws:sts::{ACCOUNT}:assumed-role/ROLE/FUNCTION", "dynamodb:PutItem",
                                             "arn:aws:dynamodb:us-east-1:123456789012:table/T"),
                        {"AWSLambdaBasicExecutionRole": iam.managed_policy("AWSLambdaBasicExecutionRole")})
    assert access_denied_message(decision) == (
        "User: arn:aws:sts::123456789012:assumed-role/ROLE/FUNCTION is not authorized to perform: dynamodb:PutItem "
        "on resource: arn:aws:dynamodb:us-east-1:123456789012:table/T because no identity-based policy allows the "
        "dynamodb:PutItem action")


def test_message_with_the_policy_arn_as_newer_messages_give_it():
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied-authorization-id.html
    arn = "arn:aws:iam::123456789012:policy/ExampleDenyPolicy"
    request = AuthorizationRequest("arn:aws:iam::123456789012:user/janedoe", "iam:CreateInstanceProfile",
                                   "arn:aws:iam::123456789012:instance-profile/my-instance-profile")
    decision = evaluate(request, {"admin": doc(allow("*")), arn: doc(deny("iam:CreateInstanceProfile"))})
    assert access_denied_message(decision, include_policy_arn=True) == (
        "User: arn:aws:iam::123456789012:user/janedoe is not authorized to perform: iam:CreateInstanceProfile on "
        "resource: arn:aws:iam::123456789012:instance-profile/my-instance-profile with an explicit deny in an "
        "identity-based policy: arn:aws:iam::123456789012:policy/ExampleDenyPolicy")
    assert access_denied_message(decision).endswith("in an identity-based policy")


def test_no_message_for_an_allowed_request():
    with pytest.raises(ValueError, match="allowed"):
        access_denied_message(evaluate(session_request(), {"p": doc(allow("s3:*"))}))
