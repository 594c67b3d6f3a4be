#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Ansible module hostdrift_check: audit the managed host with hostdrift."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: hostdrift_check
short_description: Audit the host with hostdrift and fail on drift
description:
  - Runs C(hostdrift check --format json) on the managed host and returns its findings.
  - Fails, naming each failed check and why, when the host drifts from its policy (see I(fail_on)).
  - It only reads the host, so it never reports C(changed) and runs the same in check mode.
version_added: "0.1.0"
options:
  policy:
    description:
      - Policy files or folders of C(*.hcl) on the managed host, passed as C(--policy).
      - With I(policy) or I(policy_text), hostdrift reads exactly those, so the task asserts its own checks and nothing else (see I(builtin)).
      - Without either, hostdrift reads its built-in default policy with C(/etc/hostdrift/policies/*.hcl) layered over it.
    type: list
    elements: path
  policy_text:
    description:
      - A policy given inline, passed on standard input (C(--policy -)); combines with I(policy).
    type: str
  builtin:
    description:
      - Whether hostdrift's built-in default policy takes part.
      - Unset, it does only when neither I(policy) nor I(policy_text) is given.
      - C(true) with I(policy) or I(policy_text) layers them over the built-in policy (C(--policy builtin:default) first), so they can replace, disable or waive its checks.
      - C(false) passes C(--no-builtin), so that without I(policy) and I(policy_text) only C(/etc/hostdrift/policies/*.hcl) is read.
    type: bool
  vars:
    description:
      - Policy variables, passed as C(--var NAME=VALUE); lists and dicts are passed as HCL (JSON) expressions.
    type: dict
    default: {}
  binary:
    description:
      - The hostdrift binary, as a path or as a name looked up in the managed host's PATH.
    type: str
    default: hostdrift
  snapshot:
    description:
      - Judge this saved snapshot (C(hostdrift snapshot)) instead of the live host.
    type: path
  retry_timeout:
    description:
      - Judge the checks that fail or cannot be evaluated again, from a new reading of what they need, until they pass or this time since the start is up (C(--retry-timeout)).
      - For a task right after a handler restarted a service that takes a moment to listen.
      - A duration such as C(30s) or C(2m); a bare number is seconds. Unset or C(0), hostdrift judges once.
      - Each finding then has C(attempts), how many times it was judged.
    type: str
  sleep:
    description:
      - How long to wait between attempts with I(retry_timeout) (C(--sleep)); a duration such as C(1s) or C(500ms), a bare number is seconds.
      - hostdrift's default, one second, when unset.
    type: str
  fail_on:
    description:
      - C(fail) fails the task when a check fails (hostdrift exit 1).
      - C(error) also fails it when a check could not be evaluated (exit 3).
      - C(never) only returns the findings, for a later C(assert).
      - Whatever I(fail_on) says, the task fails when hostdrift itself could not run (exit 2 or 4).
    type: str
    choices: [fail, error, never]
    default: fail
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
author:
  - hostdrift maintainers
"""

EXAMPLES = r"""
- name: The firewall change left the host as the policy says
  hostdrift.audit.hostdrift_check:
    policy: [/etc/hostdrift/policies/web.hcl]
    vars:
      https_port: 443

- name: Nothing but sshd and nginx may listen in public
  hostdrift.audit.hostdrift_check:
    policy_text: |
      listener "no-redis" {
        port    = 6379
        address = "public"
        expect  = "absent"
      }
  register: audit

- name: After the restart, nginx listens within 30 seconds
  hostdrift.audit.hostdrift_check:
    policy_text: |
      listener "https" {
        port    = 443
        process = "nginx"
      }
    retry_timeout: 30s
    sleep: 1s

- name: The built-in checks, with this play's waivers over them
  hostdrift.audit.hostdrift_check:
    builtin: true
    policy_text: |
      waiver "cron.output-not-lost" {
        reason  = "backup mails root, read through the relay; OPS-7"
        expires = "2026-12-31"
      }
"""

RETURN = r"""
rc:
  description: hostdrift's exit code (0 no drift, 1 drift, 2 usage or policy error, 3 incomplete, 4 output error).
  returned: always
  type: int
summary:
  description: Counts of the findings by status.
  returned: when hostdrift evaluated the policy
  type: dict
  sample: {"total": 3, "pass": 2, "fail": 1, "error": 0, "waived": 0, "skip": 0}
findings:
  description: Every finding of the report (check, status, severity, expected, observed, explanation, remediation, source; attempts with I(retry_timeout)).
  returned: when hostdrift evaluated the policy
  type: list
  elements: dict
failed_checks:
  description: The names of the checks whose status is fail or error.
  returned: when hostdrift evaluated the policy
  type: list
  elements: str
report:
  description: The whole JSON report.
  returned: when hostdrift evaluated the policy
  type: dict
"""

import json

from ansible.module_utils.basic import AnsibleModule

# hostdrift's exit codes.
EXIT_OK = 0
EXIT_DRIFT = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3
EXIT_OUTPUT = 4


def var_arg(name, value):
    """Render one --var NAME=VALUE argument."""
    if isinstance(value, (list, dict)):
        text = json.dumps(value)
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(value)
    return "%s=%s" % (name, text)


def duration(value):
    """A duration for hostdrift: a bare number is seconds."""
    text = str(value).strip()
    try:
        float(text)
    except ValueError:
        return text
    return text + "s"


def describe(finding):
    """One line naming a check that needs attention and why."""
    return "%s (%s, %s): %s" % (
        finding.get("check"),
        finding.get("status"),
        finding.get("severity"),
        finding.get("explanation", ""),
    )


def main():
    module = AnsibleModule(
        argument_spec=dict(
            policy=dict(type="list", elements="path"),
            policy_text=dict(type="str"),
            builtin=dict(type="bool"),
            vars=dict(type="dict", default={}),
            binary=dict(type="str", default="hostdrift"),
            snapshot=dict(type="path"),
            retry_timeout=dict(type="str"),
            sleep=dict(type="str"),
            fail_on=dict(type="str", choices=["fail", "error", "never"], default="fail"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    binary = p["binary"]
    if "/" not in binary:
        binary = module.get_bin_path(binary, required=True)

    cmd = [binary, "check", "--format", "json", "--color", "never"]
    named = bool(p["policy"]) or p["policy_text"] is not None
    if p["builtin"] is True and named:
        cmd += ["--policy", "builtin:default"]
    if p["builtin"] is False:
        cmd += ["--no-builtin"]
    for path in p["policy"] or []:
        cmd += ["--policy", path]
    if p["policy_text"] is not None:
        cmd += ["--policy", "-"]
    for name in sorted(p["vars"]):
        cmd += ["--var", var_arg(name, p["vars"][name])]
    if p["snapshot"]:
        cmd += ["--snapshot", p["snapshot"]]
    if p["retry_timeout"]:
        cmd += ["--retry-timeout", duration(p["retry_timeout"])]
        if p["sleep"]:
            cmd += ["--sleep", duration(p["sleep"])]
    elif p["sleep"]:
        module.fail_json(msg="sleep is the wait between attempts of retry_timeout, which is not given")

    # hostdrift only reads the host: run it in check mode too.
    rc, out, err = module.run_command(cmd, data=p["policy_text"], binary_data=True)
    result = dict(changed=False, rc=rc, cmd=cmd, stderr=err)

    if rc in (EXIT_USAGE, EXIT_OUTPUT) or rc not in (EXIT_OK, EXIT_DRIFT, EXIT_INCOMPLETE):
        what = "usage or policy error, nothing was evaluated" if rc == EXIT_USAGE else "exit %d" % rc
        module.fail_json(msg="hostdrift could not run (%s): %s" % (what, (err or out).strip()), **result)
    try:
        report = json.loads(out)
    except ValueError as e:
        module.fail_json(msg="hostdrift printed no JSON report: %s; stderr: %s" % (e, err.strip()), **result)

    findings = report.get("findings") or []
    failed = [f for f in findings if f.get("status") == "fail"]
    errored = [f for f in findings if f.get("status") == "error"]
    result.update(
        report=report,
        findings=findings,
        summary=report.get("summary", {}),
        failed_checks=[f.get("check") for f in failed + errored],
    )
    host = (report.get("host") or {}).get("hostname", "the host")
    total = len(findings)
    if p["fail_on"] in ("fail", "error") and failed:
        lines = [describe(f) for f in failed]
        module.fail_json(
            msg="hostdrift: %d of %d checks failed on %s: %s" % (len(failed), total, host, "; ".join(lines)),
            **result
        )
    if p["fail_on"] == "error" and errored:
        lines = [describe(f) for f in errored]
        module.fail_json(
            msg="hostdrift: %d of %d checks could not be evaluated on %s: %s" % (len(errored), total, host, "; ".join(lines)),
            **result
        )
    if errored:
        module.warn("hostdrift: %d checks could not be evaluated: %s" % (len(errored), "; ".join(describe(f) for f in errored)))
    result["msg"] = "hostdrift: %d checks: %d fail, %d error on %s" % (total, len(failed), len(errored), host)
    # Ansible takes a non-zero rc for a failure unless told otherwise: exit 3
    # (incomplete) is not one under fail_on=fail.
    module.exit_json(failed=False, **result)


if __name__ == "__main__":
    main()
