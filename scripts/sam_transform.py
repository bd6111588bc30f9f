#!/usr/bin/env python3
"""Transforms template.yaml offline with aws-sam-translator and prints the
CloudFormation JSON it would deploy.

Usage: python scripts/sam_transform.py TEMPLATE [Name=Value ...] > OUT.json

No AWS account or network is used: the local `CodeUri: .` of each function is
rewritten to an s3:// placeholder (as `sam package` would), and the managed
policy loader is a stub (the template names no managed policy by name).
"""

import json
import os
import sys

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

from cfnlint.decode import cfn_yaml  # noqa: E402  (after the region is set)
from samtranslator.translator.transform import transform  # noqa: E402

PLACEHOLDER_CODE_URI = "s3://dcr-placeholder-bucket/dcr-placeholder-key.zip"


class _NoManagedPolicies:
    """The translator asks for the account's managed policies only when a
    template names one by its short name; this template never does."""

    def load(self):
        return {}


def load_template(path):
    """Loads a CloudFormation YAML template, understanding !Ref, !Sub, !GetAtt...,
    as plain dicts and lists."""
    return json.loads(json.dumps(cfn_yaml.load(path)))


def placeholder_code_uris(template):
    """Rewrites every local CodeUri to an S3 URI, as `sam package` would."""
    for resource in template.get("Resources", {}).values():
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Serverless::Function":
            code_uri = props.get("CodeUri")
            if isinstance(code_uri, str) and not code_uri.startswith("s3://"):
                props["CodeUri"] = PLACEHOLDER_CODE_URI
    return template


def transform_file(path, parameter_values=None):
    """Returns the transformed template of `path` as a dict."""
    template = placeholder_code_uris(load_template(path))
    return transform(template, dict(parameter_values or {}), _NoManagedPolicies())


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    params = dict(arg.split("=", 1) for arg in argv[2:])
    try:
        out = transform_file(argv[1], params)
    except Exception as exc:  # the translator's errors carry the useful message
        print(f"sam transform failed: {exc}", file=sys.stderr)
        for cause in getattr(exc, "causes", []) or []:
            print(f"  - {cause.message}", file=sys.stderr)
        return 1
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
