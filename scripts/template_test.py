#!/usr/bin/env python3
"""Offline tests of template.yaml: routes, IAM, table, Globals, build metadata.

Reads the SAM template (DCR_TEMPLATE, default ./template.yaml) and its
CloudFormation transform (DCR_TRANSFORMED, a JSON file written by
scripts/sam_transform.py; transformed here when unset). Run by
scripts/check-template.sh:

    python scripts/template_test.py -v
"""

import json
import os
import re
import sys
import tomllib
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.dont_write_bytecode = True  # leave no __pycache__ in scripts/
sys.path.insert(0, str(Path(__file__).resolve().parent))

import sam_transform  # noqa: E402

TEMPLATE_PATH = Path(os.environ.get("DCR_TEMPLATE", ROOT / "template.yaml"))

# --------------------------------------------------------------------------
# What the template must say.

# The service's routes (README), plus the CORS preflight routes the metadata function answers.
ROUTES = {
    ("POST", "/register"): "RegisterFunction",
    ("GET", "/register/{client_id}"): "GetFunction",
    ("PUT", "/register/{client_id}"): "UpdateFunction",
    ("DELETE", "/register/{client_id}"): "DeleteFunction",
    ("GET", "/.well-known/oauth-authorization-server"): "MetadataFunction",
    ("GET", "/.well-known/openid-configuration"): "MetadataFunction",
    ("OPTIONS", "/register"): "MetadataFunction",
    ("OPTIONS", "/register/{client_id}"): "MetadataFunction",
    # Unmatched routes: the metadata function answers the service's JSON 404/405.
    ("ANY", "/$default"): "MetadataFunction",
}

BINARIES = {
    "RegisterFunction": "register-client",
    "GetFunction": "get-client",
    "UpdateFunction": "update-client",
    "DeleteFunction": "delete-client",
    "MetadataFunction": "server-metadata",
    "SweepFunction": "sweep-clients",
    "AuthenticateClientFunction": "authenticate-client",
    "ClientEventsFunction": "client-events",
}

TABLE = {"Fn::GetAtt": ["ClientsTable", "Arn"]}
SECRETS = {
    "Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:"
    "${AWS::AccountId}:secret:${SecretPrefix}*"
}


def index(name):
    return {"Fn::Sub": "${ClientsTable.Arn}/index/" + name}


# Which actions each function may take on which resource is not written here:
# infra/aws/tests/permissions.rs checks every function's policy against the
# table of what its code does (infra/aws/src/permissions.rs).
FUNCTIONS = set(BINARIES)

# The managed policies SAM itself attaches: logs (AWSLambdaBasicExecutionRole)
# and X-Ray, for Tracing: Active. Both need Resource "*": CloudWatch Logs
# creates the group on first write and X-Ray's PutTraceSegments has no resource.
SAM_MANAGED_POLICIES = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
}

ENV = {
    "RUST_LOG": {"Ref": "LogLevel"},
    "DCR_CLIENTS_TABLE": {"Ref": "ClientsTable"},
    "DCR_SECRET_PREFIX": {"Ref": "SecretPrefix"},
    "DCR_CLIENT_SECRET_STORAGE": {"Ref": "ClientSecretStorage"},
    "DCR_KEY_RING_SECRET_ID": {"Fn::If": ["IsSealed", {"Ref": "KeyRingSecret"}, {"Ref": "AWS::NoValue"}]},
    "DCR_METRICS_NAMESPACE": {"Fn::Sub": "DCR/${AWS::StackName}"},
    "AWS_ENDPOINT_URL": {"Ref": "EndpointUrl"},
    "DCR_CONFIG": {"Fn::If": ["HasDcrConfig", {"Ref": "DcrConfig"}, {"Ref": "AWS::NoValue"}]},
    "DCR_CONFIG_FILE": {"Fn::If": ["HasDcrConfigFile", {"Ref": "DcrConfigFile"}, {"Ref": "AWS::NoValue"}]},
    "DCR_SECRET_KMS_KEY_ID": {
        "Fn::If": ["HasSecretsKmsKey", {"Ref": "SecretsKmsKeyArn"}, {"Ref": "AWS::NoValue"}]
    },
    "DCR_SECRET_RECOVERY_DAYS": {
        "Fn::If": ["HasSecretRecovery", {"Ref": "SecretRecoveryDays"}, {"Ref": "AWS::NoValue"}]
    },
}

GLOBALS = {
    "Runtime": "provided.al2023",
    "Handler": "bootstrap",
    "Architectures": ["arm64"],
    "MemorySize": 128,
    "Timeout": 10,
    "Tracing": "Active",
}

# Per-function departures from Globals, on purpose.
TIMEOUT_OVERRIDES = {"SweepFunction": 60}

API_URL = "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"

# --------------------------------------------------------------------------
# Loading.

SOURCE = None
OUT = None


def setUpModule():  # noqa: N802 (unittest's name)
    global SOURCE, OUT
    SOURCE = sam_transform.load_template(str(TEMPLATE_PATH))
    transformed = os.environ.get("DCR_TRANSFORMED")
    if transformed:
        OUT = json.loads(Path(transformed).read_text())
    else:
        OUT = sam_transform.transform_file(str(TEMPLATE_PATH))


def resources(template, type_):
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def walk(node, path=()):
    """Yields (path, key, value) for every mapping entry in the document."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield path, k, v
            yield from walk(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, path + (i,))


def as_list(value):
    return value if isinstance(value, list) else [value]


SUB_ARN = re.compile(r"\$\{(\w+)\.Arn\}")


def integration_function(operation):
    """The logical id of the function behind an OpenAPI operation."""
    uri = operation["x-amazon-apigateway-integration"]["uri"]
    sub = uri["Fn::Sub"]
    if isinstance(sub, list):
        sub = sub[0]
    found = SUB_ARN.findall(sub)
    assert len(found) == 1, f"unexpected integration uri {uri}"
    return found[0]


# --------------------------------------------------------------------------


class Routes(unittest.TestCase):
    def api(self):
        apis = resources(OUT, "AWS::ApiGatewayV2::Api")
        self.assertEqual(list(apis), ["HttpApi"], "exactly one HTTP API")
        return apis["HttpApi"]["Properties"]

    def test_every_route_reaches_its_function_and_nothing_else_is_routed(self):
        routed = {}
        for path, item in self.api()["Body"]["paths"].items():
            for method, operation in item.items():
                if method == "x-amazon-apigateway-any-method":
                    self.assertEqual(path, "/$default", f"ANY route on {path}")
                    method = "any"
                routed[(method.upper(), path)] = integration_function(operation)
        self.assertEqual(routed, ROUTES)

    def test_integrations_are_lambda_proxy_payload_2(self):
        for path, item in self.api()["Body"]["paths"].items():
            for method, operation in item.items():
                integration = operation["x-amazon-apigateway-integration"]
                self.assertEqual(integration["type"], "aws_proxy", (method, path))
                self.assertEqual(integration["payloadFormatVersion"], "2.0", (method, path))

    def test_no_routes_or_integrations_outside_the_api_body(self):
        for type_ in ("AWS::ApiGatewayV2::Route", "AWS::ApiGatewayV2::Integration", "AWS::ApiGateway::RestApi"):
            self.assertEqual(resources(OUT, type_), {}, type_)

    def test_only_http_api_and_schedule_events(self):
        for name, fn in resources(SOURCE, "AWS::Serverless::Function").items():
            for event_name, event in (fn["Properties"].get("Events") or {}).items():
                if name == "SweepFunction":
                    self.assertEqual(event["Type"], "Schedule", event_name)
                else:
                    self.assertEqual(event["Type"], "HttpApi", event_name)
                    self.assertEqual(event["Properties"]["ApiId"], {"Ref": "HttpApi"}, event_name)
                    self.assertEqual(event["Properties"].get("PayloadFormatVersion"), "2.0", event_name)

    def test_invoke_permissions_match_the_routes(self):
        allowed = {}
        for method_path, fn in ROUTES.items():
            method, path = method_path
            allowed.setdefault(fn, set()).add(method + "/" + re.sub(r"{[^}]+}", "*", path).lstrip("/"))
        # With a $default route SAM grants that function every route of this API
        # (and nothing else): acceptable for the metadata function, which holds
        # no data access at all.
        allowed["MetadataFunction"] = {"*"}
        granted = {}
        for perm in resources(OUT, "AWS::Lambda::Permission").values():
            props = perm["Properties"]
            if props["Principal"] != "apigateway.amazonaws.com":
                continue
            self.assertEqual(props["Action"], "lambda:InvokeFunction")
            arn = props["SourceArn"]["Fn::Sub"][0]
            route = arn.split("${__Stage__}/", 1)[1]
            granted.setdefault(props["FunctionName"]["Ref"], set()).add(route)
        self.assertEqual(granted, allowed)

    def test_no_cors_configuration(self):
        api = resources(SOURCE, "AWS::Serverless::HttpApi")["HttpApi"]["Properties"]
        self.assertNotIn("CorsConfiguration", api)
        for _, key, _ in walk(OUT):
            self.assertNotIn(key, ("CorsConfiguration", "x-amazon-apigateway-cors"))
        self.assertNotIn("HttpApi", (SOURCE.get("Globals") or {}), "no HttpApi Globals (CORS could hide there)")

    def test_default_route_throttling(self):
        """0 (the default) follows the storage mode: under CreateSecret's 50/s
        with secrets-manager, higher with sealed (docs/operations.md)."""
        api = resources(SOURCE, "AWS::Serverless::HttpApi")["HttpApi"]["Properties"]
        settings = api["DefaultRouteSettings"]
        self.assertEqual(
            settings["ThrottlingBurstLimit"],
            {"Fn::If": ["HasBurstLimit", {"Ref": "ThrottlingBurstLimit"}, {"Fn::If": ["IsSealed", 400, 50]}]},
        )
        self.assertEqual(
            settings["ThrottlingRateLimit"],
            {"Fn::If": ["HasRateLimit", {"Ref": "ThrottlingRateLimit"}, {"Fn::If": ["IsSealed", 200, 20]}]},
        )
        params = SOURCE["Parameters"]
        for name in ("ThrottlingBurstLimit", "ThrottlingRateLimit"):
            self.assertEqual(int(params[name]["Default"]), 0, name)
        stages = resources(OUT, "AWS::ApiGatewayV2::Stage")
        self.assertEqual(len(stages), 1)
        self.assertEqual(next(iter(stages.values()))["Properties"]["DefaultRouteSettings"], settings)

    def test_sweep_runs_every_five_minutes(self):
        rules = resources(OUT, "AWS::Events::Rule")
        self.assertEqual(len(rules), 1)
        rule = next(iter(rules.values()))["Properties"]
        self.assertEqual(rule["ScheduleExpression"], "rate(5 minutes)")
        self.assertEqual([t["Arn"] for t in rule["Targets"]], [{"Fn::GetAtt": ["SweepFunction", "Arn"]}])


class Iam(unittest.TestCase):
    def role(self, function):
        fn = OUT["Resources"][function]
        role_ref = fn["Properties"]["Role"]
        self.assertEqual(role_ref, {"Fn::GetAtt": [f"{function}Role", "Arn"]}, "a role of its own")
        return OUT["Resources"][f"{function}Role"]["Properties"]

    @staticmethod
    def split_policies(role):
        """(unconditional policy documents, {condition (or !condition): documents})."""
        plain, conditional = [], {}
        for policy in role.get("Policies", []):
            if "Fn::If" in policy:
                cond, then, otherwise = policy["Fn::If"]
                for key, branch in ((cond, then), ("!" + cond, otherwise)):
                    if branch != {"Ref": "AWS::NoValue"}:
                        conditional.setdefault(key, []).append(branch["PolicyDocument"])
            else:
                plain.append(policy["PolicyDocument"])
        return plain, conditional

    @staticmethod
    def actions(statement):
        """Every action a statement may name, on either side of an Fn::If."""
        action = statement["Action"]
        if isinstance(action, dict) and "Fn::If" in action:
            _, then, otherwise = action["Fn::If"]
            return as_list(then) + as_list(otherwise)
        return as_list(action)

    def statements(self, documents):
        out = []
        for doc in documents:
            for st in as_list(doc["Statement"]):
                self.assertEqual(st["Effect"], "Allow", st)
                for banned in ("NotAction", "NotResource", "NotPrincipal"):
                    self.assertNotIn(banned, st)
                out.append(st)
        return out

    def test_functions_are_the_expected_eight(self):
        self.assertEqual(set(resources(OUT, "AWS::Lambda::Function")), FUNCTIONS)
        self.assertEqual(set(resources(OUT, "AWS::IAM::Role")), {f"{f}Role" for f in FUNCTIONS})

    def test_no_wildcards_and_resources_by_service(self):
        for name, role in resources(OUT, "AWS::IAM::Role").items():
            plain, conditional = self.split_policies(role["Properties"])
            docs = plain + [d for ds in conditional.values() for d in ds]
            for st in self.statements(docs):
                with self.subTest(role=name, sid=st.get("Sid")):
                    actions = self.actions(st)
                    resources_ = as_list(st["Resource"])
                    for action in actions:
                        self.assertNotIn("*", action, "wildcard action")
                    self.assertNotIn("*", resources_, 'Resource "*"')
                    services = {a.split(":", 1)[0] for a in actions}
                    self.assertEqual(len(services), 1, "one service per statement")
                    (service,) = services
                    for res in resources_:
                        if service == "dynamodb":
                            self.assertTrue(
                                res == TABLE
                                or (
                                    isinstance(res, dict)
                                    and re.fullmatch(
                                        r"\$\{ClientsTable\.Arn\}/(index/[\w*-]+|stream/\*)", res.get("Fn::Sub", "")
                                    )
                                ),
                                res,
                            )
                        elif service == "secretsmanager":
                            self.assertIn(res, (SECRETS, {"Ref": "IntrospectionSecretArn"}, {"Ref": "KeyRingSecret"}))
                        elif service == "events":
                            self.assertEqual(
                                res,
                                {"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"},
                            )
                        elif service == "kms":
                            self.assertIn(res, ({"Ref": "SecretsKmsKeyArn"}, {"Ref": "TableKmsKeyArn"}))
                            self.assertIn("kms:ViaService", json.dumps(st.get("Condition")), "only through a service")
                        elif service == "sqs":
                            self.assertEqual(res, {"Fn::GetAtt": ["SweepDeadLetterQueue", "Arn"]})
                        elif service == "lambda":
                            # A hook function: exactly the one its parameter names (docs/hooks.md).
                            self.assertEqual(actions, ["lambda:InvokeFunction"])
                            self.assertIn(res, ({"Ref": "PreRegistrationHookArn"}, {"Ref": "PreUpdateHookArn"}))
                        else:
                            self.fail(f"unexpected service {service}")

    def test_no_resource_star_anywhere_in_the_source(self):
        for path, key, value in walk(SOURCE):
            if key == "Resource":
                self.assertNotIn("*", as_list(value), path)

    def test_only_sams_own_managed_policies(self):
        for name, role in resources(OUT, "AWS::IAM::Role").items():
            with self.subTest(role=name):
                self.assertEqual(set(role["Properties"].get("ManagedPolicyArns", [])), SAM_MANAGED_POLICIES)
                self.assertNotIn("PermissionsBoundary", role["Properties"])

    def test_policies_are_inline_statements_not_sam_policy_templates(self):
        for name, fn in resources(SOURCE, "AWS::Serverless::Function").items():
            with self.subTest(function=name):
                for policy in as_list(fn["Properties"].get("Policies", [])):
                    self.assertIsInstance(policy, dict)
                    branches = policy["Fn::If"][1:] if "Fn::If" in policy else [policy]
                    for branch in branches:
                        if branch != {"Ref": "AWS::NoValue"}:
                            self.assertEqual(set(branch), {"Version", "Statement"}, "inline statements only")
                self.assertNotIn("Role", fn["Properties"])


class Table(unittest.TestCase):
    def table(self):
        tables = resources(SOURCE, "AWS::DynamoDB::Table")
        self.assertEqual(list(tables), ["ClientsTable"])
        self.assertEqual(resources(SOURCE, "AWS::Serverless::SimpleTable"), {})
        return tables["ClientsTable"]

    def test_retained(self):
        table = self.table()
        self.assertEqual(table.get("DeletionPolicy"), "Retain")
        self.assertEqual(table.get("UpdateReplacePolicy"), "Retain")

    def test_billing_pitr_sse_ttl(self):
        props = self.table()["Properties"]
        self.assertEqual(props["BillingMode"], "PAY_PER_REQUEST")
        self.assertNotIn("ProvisionedThroughput", props)
        self.assertEqual(props["PointInTimeRecoverySpecification"], {"PointInTimeRecoveryEnabled": True})
        self.assertIs(props["SSESpecification"]["SSEEnabled"], True)
        self.assertEqual(props["TimeToLiveSpecification"], {"AttributeName": "ttl", "Enabled": True})

    def test_keys_and_attributes(self):
        props = self.table()["Properties"]
        self.assertEqual(props["KeySchema"], [{"AttributeName": "client_id", "KeyType": "HASH"}])
        attrs = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
        self.assertEqual(len(attrs), len(props["AttributeDefinitions"]), "no duplicate attribute")
        self.assertEqual(attrs, {"client_id": "S", "software_id": "S", "owner": "S", "unsettled": "S", "sweep_at": "N"})

    def test_global_secondary_indexes(self):
        gsis = {g["IndexName"]: g for g in self.table()["Properties"]["GlobalSecondaryIndexes"]}
        self.assertEqual(
            gsis,
            {
                "software_id-index": {
                    "IndexName": "software_id-index",
                    "KeySchema": [{"AttributeName": "software_id", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                },
                "owner-index": {
                    "IndexName": "owner-index",
                    "KeySchema": [{"AttributeName": "owner", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                },
                "unsettled-index": {
                    "IndexName": "unsettled-index",
                    "KeySchema": [
                        {"AttributeName": "unsettled", "KeyType": "HASH"},
                        {"AttributeName": "sweep_at", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                },
            },
        )


class Functions(unittest.TestCase):
    def test_globals(self):
        g = SOURCE["Globals"]["Function"]
        for key, value in GLOBALS.items():
            self.assertEqual(g.get(key), value, key)
        self.assertEqual(g["Environment"]["Variables"], ENV)

    def test_parameters_behind_the_environment(self):
        params = SOURCE["Parameters"]
        self.assertEqual(params["LogLevel"]["Default"], "info")
        self.assertEqual(params["SecretPrefix"]["Default"], "dcr/clients/")
        self.assertEqual(params["DcrConfig"]["Default"], "")
        self.assertIn("DCR_CONFIG_FILE", params["DcrConfig"]["Description"])
        self.assertIn("4 KB", params["DcrConfig"]["Description"])
        self.assertEqual(str(params["SecretRecoveryDays"]["Default"]), "0")
        allowed = {int(v) for v in params["SecretRecoveryDays"]["AllowedValues"]}
        self.assertEqual(allowed, {0, *range(7, 31)}, "Secrets Manager allows 7-30 days, or none")
        self.assertEqual(
            SOURCE["Conditions"]["HasSecretRecovery"],
            {"Fn::Not": [{"Fn::Equals": [{"Ref": "SecretRecoveryDays"}, 0]}]},
        )
        self.assertNotIn("DCR_PROFILE", json.dumps(SOURCE))

    def test_every_deployed_function_gets_the_globals(self):
        for name, fn in resources(OUT, "AWS::Lambda::Function").items():
            with self.subTest(function=name):
                p = fn["Properties"]
                self.assertEqual(p["Runtime"], GLOBALS["Runtime"])
                self.assertEqual(p["Handler"], GLOBALS["Handler"])
                self.assertEqual(p["Architectures"], GLOBALS["Architectures"])
                self.assertEqual(p["MemorySize"], GLOBALS["MemorySize"])
                self.assertEqual(p["Timeout"], TIMEOUT_OVERRIDES.get(name, GLOBALS["Timeout"]))
                self.assertEqual(p["TracingConfig"], {"Mode": "Active"})
                env = dict(p["Environment"]["Variables"])
                # Only the functions that authenticate tokens get the introspection secret.
                introspection = env.pop("DCR_INTROSPECTION_SECRET_ID", None)
                self.assertEqual(env, ENV)
                if name in ("RegisterFunction", "GetFunction", "UpdateFunction", "DeleteFunction"):
                    self.assertEqual(
                        introspection,
                        {"Fn::If": ["HasIntrospectionSecret", {"Ref": "IntrospectionSecretArn"}, {"Ref": "AWS::NoValue"}]},
                    )
                else:
                    self.assertIsNone(introspection)
                self.assertEqual(p["LoggingConfig"], {"LogGroup": {"Ref": f"{name}Logs"}})
                self.assertEqual(
                    p["ReservedConcurrentExecutions"],
                    {"Fn::If": [f"Has{name[:-len('Function')]}Concurrency",
                                {"Ref": f"{name[:-len('Function')]}Concurrency"}, {"Ref": "AWS::NoValue"}]},
                )

    def test_build_metadata(self):
        functions = resources(SOURCE, "AWS::Serverless::Function")
        self.assertEqual(set(functions), set(BINARIES))
        for name, fn in functions.items():
            with self.subTest(function=name):
                self.assertEqual(fn["Properties"]["CodeUri"], ".")
                self.assertEqual(fn["Metadata"]["BuildMethod"], "makefile")
                for key in ("Runtime", "Handler", "Architectures", "MemorySize", "Tracing", "KmsKeyArn"):
                    self.assertNotIn(key, fn["Properties"], "set in Globals only")

    def test_sam_build_can_find_every_binary(self):
        """`sam build` runs `make build-<LogicalId>` in CodeUri (the workspace
        root); each target must build that function's binary with the
        `function` profile and hand its bootstrap to SAM."""
        makefile = (ROOT / "Makefile").read_text()
        workspace = tomllib.loads((ROOT / "Cargo.toml").read_text())
        self.assertIn("function", workspace.get("profile", {}), "Cargo.toml [profile.function]")
        self.assertRegex(makefile, r"build --profile function \$\(ARCH_FLAG\) --bin \$\(1\)")
        self.assertIn('cp target/lambda/$(1)/bootstrap "$(ARTIFACTS_DIR)/bootstrap"', makefile)

        def bins_of(members):
            found = {}
            for member in members:
                manifest = ROOT / member / "Cargo.toml"
                if not manifest.exists():
                    continue
                cargo = tomllib.loads(manifest.read_text())
                if (ROOT / member / "src" / "main.rs").exists():
                    found[cargo["package"]["name"]] = member
                found.update({b["name"]: member for b in cargo.get("bin", [])})
            return found

        in_workspace = bins_of(workspace["workspace"]["members"])
        for name, binary in BINARIES.items():
            with self.subTest(function=name):
                target = re.search(rf"^build-{name}:\n\t\$\(call function,([a-z-]+)\)$", makefile, re.M)
                self.assertIsNotNone(target, f"Makefile target build-{name}")
                self.assertEqual(target.group(1), binary)
                self.assertIn(binary, in_workspace, "a workspace member builds it")


class Integrity(unittest.TestCase):
    """cfn-lint does not look inside SAM Globals; CloudFormation would only
    complain at deploy time. Every name the transformed template uses must exist."""

    PSEUDO = {
        "AWS::AccountId", "AWS::NoValue", "AWS::NotificationARNs", "AWS::Partition",
        "AWS::Region", "AWS::StackId", "AWS::StackName", "AWS::URLSuffix",
    }
    SUB_VAR = re.compile(r"\$\{([^!}][^}]*)\}")

    def test_every_ref_getatt_sub_and_condition_resolves(self):
        names = set(OUT["Resources"]) | set(OUT.get("Parameters", {})) | self.PSEUDO
        conditions = set(OUT.get("Conditions", {}))
        for path, key, value in walk(OUT):
            with self.subTest(path="/".join(map(str, path)), key=key):
                if key == "Ref":
                    self.assertIn(value, names)
                elif key == "Fn::GetAtt":
                    target = value[0] if isinstance(value, list) else value.split(".", 1)[0]
                    self.assertIn(target, OUT["Resources"])
                elif key == "Fn::Sub":
                    text, local = (value[0], set(value[1])) if isinstance(value, list) else (value, set())
                    for var in self.SUB_VAR.findall(text):
                        self.assertIn(var.split(".", 1)[0], names | local, var)
                elif key == "Fn::If":
                    self.assertIn(value[0], conditions)
                elif key == "Condition" and isinstance(value, str) and len(path) == 2 and path[0] == "Resources":
                    self.assertIn(value, conditions)


class SamLocal(unittest.TestCase):
    def test_env_vars_file_names_only_declared_variables(self):
        """`sam local --env-vars` only overrides variables the template declares."""
        env = json.loads((ROOT / "events" / "env-vars.json").read_text())
        declared = set(SOURCE["Globals"]["Function"]["Environment"]["Variables"])
        self.assertEqual(set(env), {"Parameters"})
        self.assertLessEqual(set(env["Parameters"]), declared)
        self.assertEqual(SOURCE["Parameters"]["EndpointUrl"]["Default"], "")


class Outputs(unittest.TestCase):
    def test_outputs(self):
        outputs = SOURCE["Outputs"]
        functions = {f"{f}Arn" for f in BINARIES}
        self.assertEqual(
            set(outputs),
            {"ApiUrl", "RegistrationEndpoint", "HttpApiId", "RegionalDomainName", "ClientsTableName",
             "ClientsTableArn", "SecretPrefix", "KeyRingSecretArn"} | functions,
        )
        self.assertEqual(
            outputs["ApiUrl"]["Value"],
            {"Fn::If": ["HasCustomDomain", {"Fn::Sub": "https://${DomainName}"}, {"Fn::Sub": API_URL}]},
        )
        self.assertEqual(outputs["ClientsTableName"]["Value"], {"Ref": "ClientsTable"})
        self.assertEqual(outputs["ClientsTableArn"]["Value"], {"Fn::GetAtt": ["ClientsTable", "Arn"]})
        for name in functions:
            self.assertEqual(outputs[name]["Value"], {"Fn::GetAtt": [name[: -len("Arn")], "Arn"]})
        for name, output in outputs.items():
            with self.subTest(output=name):
                self.assertEqual(output["Export"], {"Name": {"Fn::Sub": "${AWS::StackName}-" + name}})


class Mtls(unittest.TestCase):
    """With a truststore, the custom domain checks client certificates and the
    execute-api endpoint, which would not, is off."""

    def test_truststore_disables_the_default_endpoint(self):
        params = {
            "DomainName": "dcr.example.com",
            "CertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc",
            "TruststoreUri": "s3://bucket/truststore.pem",
        }
        out = sam_transform.transform_file(str(TEMPLATE_PATH), params)
        body = out["Resources"]["HttpApi"]["Properties"]["Body"]
        disable = body["servers"][0]["x-amazon-apigateway-endpoint-configuration"]["disableExecuteApiEndpoint"]
        self.assertEqual(disable, {"Fn::If": ["HasMtls", True, False]})
        self.assertEqual(
            SOURCE["Conditions"]["HasMtls"], {"Fn::Not": [{"Fn::Equals": [{"Ref": "TruststoreUri"}, ""]}]}
        )
        domain = SOURCE["Resources"]["ApiDomain"]
        self.assertEqual(domain["Condition"], "HasCustomDomain")
        mtls = domain["Properties"]["MutualTlsAuthentication"]["Fn::If"]
        self.assertEqual(mtls[0], "HasMtls")
        self.assertEqual(mtls[1]["TruststoreUri"], {"Ref": "TruststoreUri"})
        self.assertEqual(
            SOURCE["Resources"]["ApiDomainMapping"]["Properties"]["Stage"], {"Ref": "HttpApiApiGatewayDefaultStage"}
        )
        self.assertIn("HttpApiApiGatewayDefaultStage", out["Resources"], "the stage the mapping names exists")

    def test_mtls_needs_a_custom_domain(self):
        rule = SOURCE["Rules"]["MtlsNeedsCustomDomain"]
        self.assertEqual(rule["RuleCondition"], {"Fn::Not": [{"Fn::Equals": [{"Ref": "TruststoreUri"}, ""]}]})


if __name__ == "__main__":
    unittest.main()
