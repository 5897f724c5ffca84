#!/usr/bin/python3
"""Lints the controller's metrics exposition with `promtool check metrics`.

Usage: check_metrics_lint.py METRICS_DUMP PROMTOOL

Runs METRICS_DUMP (in-process rendering) and `METRICS_DUMP --http` (as served by the
Exposer); each output must hold every expected family and promtool must accept it with no
complaint at all. A known-bad exposition is checked first, so a promtool that lints nothing
fails the test instead of passing it.
"""
import subprocess
import sys

EXPECTED_FAMILIES = {
    "endpointbinder_build_info",
    "endpointbinder_reconcile_total",
    "endpointbinder_reconcile_errors_total",
    "endpointbinder_reconcile_duration_seconds",
    "endpointbinder_binding_targets",
    "endpointbinder_binding_drift_targets",
    "endpointbinder_binding_condition",
    "endpointbinder_binding_last_successful_sync_timestamp_seconds",
    "endpointbinder_plan_operations_total",
    "endpointbinder_plan_held_operations",
    "endpointbinder_source_lookups_total",
    "endpointbinder_source_lookup_duration_seconds",
    "endpointbinder_aws_requests_total",
    "endpointbinder_aws_request_duration_seconds",
    "endpointbinder_aws_throttles_total",
    "endpointbinder_aws_retries_total",
    "endpointbinder_workqueue_depth",
    "endpointbinder_workqueue_resync_depth",
    "endpointbinder_workqueue_adds_total",
    "endpointbinder_workqueue_retries_total",
    "endpointbinder_resync_skipped_total",
    "endpointbinder_workqueue_longest_running_processor_seconds",
    "endpointbinder_workqueue_unfinished_work_seconds",
    "endpointbinder_manifests_loaded",
    "endpointbinder_manifest_errors",
    "endpointbinder_instance_inventory_sources",
    "endpointbinder_instance_inventory_instances",
    "endpointbinder_instance_inventory_interrupted",
    "endpointbinder_instance_inventory_account_wide",
    "endpointbinder_instance_inventory_rounds_total",
    "endpointbinder_instance_inventory_event_refreshes_total",
    "endpointbinder_event_queue_messages_total",
    "endpointbinder_event_queue_errors_total",
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_virtual_memory_bytes",
    "process_start_time_seconds",
    "process_open_fds",
    "process_max_fds",
}

BAD_EXPOSITION = """# HELP bad_requests Requests without the counter suffix.
# TYPE bad_requests counter
bad_requests 1
# TYPE bad_latency_milliseconds gauge
bad_latency_milliseconds 3
"""


def promtool_check(promtool, text):
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                            text=True, timeout=60)
    return result.returncode, (result.stdout + result.stderr).strip()


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    dump, promtool = sys.argv[1], sys.argv[2]
    failures = []

    try:
        code, output = promtool_check(promtool, BAD_EXPOSITION)
    except OSError as error:
        sys.exit(f"cannot run promtool ({promtool}): {error}")
    if code == 0 or "_total" not in output:
        failures.append(f"promtool accepted a bad exposition (exit {code}): {output!r}")

    for mode in ([], ["--http"]):
        name = " ".join([dump] + mode)
        run = subprocess.run([dump] + mode, capture_output=True, text=True, timeout=60)
        if run.returncode != 0:
            failures.append(f"{name}: exit {run.returncode}: {run.stderr.strip()}")
            continue
        text = run.stdout
        typed = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
        helped = {line.split()[2] for line in text.splitlines() if line.startswith("# HELP ")}
        missing = sorted(EXPECTED_FAMILIES - typed)
        if missing:
            failures.append(f"{name}: families missing: {', '.join(missing)}")
        if typed - helped:
            failures.append(f"{name}: families without HELP: {', '.join(sorted(typed - helped))}")
        code, output = promtool_check(promtool, text)
        if code != 0 or output:
            failures.append(f"{name}: promtool check metrics exit {code}:\n{output}")
        else:
            print(f"{name}: {len(typed)} families, promtool check metrics: clean")

    if failures:
        print("\n".join(failures), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
